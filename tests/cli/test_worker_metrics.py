"""``clameur worker --metrics-port``: a worker process serves its own metrics (each worker
is a scrape target of its own), behind CLAMEUR_METRICS_TOKEN, and refuses to start the port
without one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.cli.test_serve_worker import CLAMEUR, Process, _env, free_port, run

TOKEN = "worker-metrics-token"


def test_a_worker_serves_its_metrics_behind_the_token(tmp_path: Path) -> None:
    env = {**_env(f"sqlite:///{tmp_path / 'clameur.db'}"), "CLAMEUR_METRICS_TOKEN": TOKEN}
    run(env, tmp_path, "init")
    port = free_port()
    worker = Process(env, tmp_path, "worker", "--metrics-port", str(port))
    try:
        worker.wait_for_line("worker running")
        url = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(url, timeout=5).status_code == 401
        answer = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert answer.status_code == 200
        assert "clameur_worker_running 1.0" in answer.text
        assert 'clameur_loop_runs_total{loop="relay"}' in answer.text
        assert "process_resident_memory_bytes" in answer.text
        code, _took = worker.terminate()
        assert code == 0, worker.output()
    finally:
        worker.kill()


def test_a_metrics_port_without_a_token_is_refused(tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path / 'clameur.db'}")
    env.pop("CLAMEUR_METRICS_TOKEN", None)
    run(env, tmp_path, "init")
    done = subprocess.run(
        [*CLAMEUR, "worker", "--metrics-port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "CLAMEUR_METRICS_TOKEN" in done.stderr
