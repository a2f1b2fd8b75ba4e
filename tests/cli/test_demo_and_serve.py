"""`clameur demo` then `clameur serve`: a real server on loopback shows the demo mentions."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_loads_data_and_serve_shows_it(tmp_path: Path) -> None:
    env = {**os.environ, "CLAMEUR_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
           "CLAMEUR_LOG_LEVEL": "WARNING"}  # fmt: skip
    clameur = [sys.executable, "-m", "clameur"]
    loaded = subprocess.run(
        [*clameur, "demo", "--no-serve", "--count", "400"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert "imported 400" in loaded.stdout
    stats = subprocess.run(
        [*clameur, "stats", "--tenant", "volta", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(stats.stdout)["mentions"] > 50

    port = _free_port()
    server = subprocess.Popen(
        [*clameur, "serve", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        page = httpx.get(f"{base}/t/volta", timeout=10)
        assert page.status_code == 200
        assert page.text.count('class="mention"') == 50
        assert "Volta" in page.text
    finally:
        server.terminate()
        server.wait(timeout=20)
