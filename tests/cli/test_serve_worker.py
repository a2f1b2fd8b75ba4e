"""``clameur serve`` and ``clameur worker`` do the background work, in real processes.

An import in another process raises an influencer alert; the alert's signed webhook must
reach a loopback receiver, delivered by the serving process (or a worker): ``clameur
import`` only commits the alert and its outbox event, it never delivers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import select

from clameur.core import OutboxEvent
from clameur.db import create_engine_for, make_session_factory, session_scope
from clameur.demo import replays
from tests.factories import write_jsonl

SECRET = "s3cret"
AT = datetime(2030, 3, 6, 9, 30, tzinfo=UTC)
CLAMEUR = [sys.executable, "-m", "clameur"]


# -- a webhook receiver ----------------------------------------------------------------


@dataclass
class Hook:
    url: str
    received: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hits(self) -> list[tuple[float, dict[str, str], bytes]]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, seconds: float) -> list[tuple[float, dict[str, str], bytes]]:
        deadline = time.monotonic() + seconds
        while len(self.hits()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.hits()


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with state.lock:
                state.received.append((time.monotonic(), headers, body))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def verified(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The webhook's JSON, once its HMAC-SHA256 signature is checked."""
    timestamp = headers["x-clameur-timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    assert headers["x-clameur-signature"] == f"sha256={expected.hexdigest()}"
    document: dict[str, Any] = json.loads(body)
    return document


# -- processes -------------------------------------------------------------------------


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "CLAMEUR_DATABASE_URL": database_url,
        "CLAMEUR_LOG_LEVEL": "WARNING",
        "CLAMEUR_ALLOW_PRIVATE_FETCH": "1",  # the receiver is on loopback
    }


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLAMEUR, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"clameur {' '.join(args)}: {done.stderr}"
    return done


class Process:
    """A long-running ``clameur`` command whose output is collected as it comes."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.args = args
        self.popen = subprocess.Popen(
            [*CLAMEUR, *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        assert self.popen.stdout is not None
        assert self.popen.stderr is not None
        self._readers = [
            threading.Thread(target=self._drain, args=(pipe,), daemon=True)
            for pipe in (self.popen.stdout, self.popen.stderr)
        ]
        for reader in self._readers:
            reader.start()

    def _drain(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.lines):
            assert self.popen.poll() is None, f"{self.args} ended: {self.output()}"
            assert time.monotonic() < deadline, f"{self.args} never said {text!r}"
            time.sleep(0.05)

    def terminate(self, seconds: float = 15) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took to exit)."""
        began = time.monotonic()
        self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            pytest.fail(f"{self.args} did not exit {seconds} s after SIGTERM: {self.output()}")
        for reader in self._readers:
            reader.join(5)
        return code, time.monotonic() - began

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_health(base: str, server: Process, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = httpx.get(f"{base}/api/v1/ready", timeout=2)
            document: dict[str, Any] = answer.json()
            return document
        except httpx.TransportError:
            assert server.popen.poll() is None, server.output()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


def setup_tenant(env: dict[str, str], cwd: Path, hook_url: str) -> None:
    run(env, cwd, "init")
    run(env, cwd, "tenant", "add", "acme", "--name", "Acme")
    run(env, cwd, "brand", "add", "acme", "volta", "--name", "Volta", "--query", "volta")
    hooks = json.dumps([{"url": hook_url, "secret": SECRET}])
    run(env, cwd, "alert-rule", "set", "acme", f"webhooks={hooks}")


def influencer_file(cwd: Path, name: str, count: int = 1) -> Path:
    """``count`` angry posts by distinct very influential authors: one alert each."""
    posts = [
        replays.influencer_post(
            AT + timedelta(minutes=i), external_id=f"{name}-{i}", handle=f"{name}_star{i}"
        )
        for i in range(count)
    ]
    return write_jsonl(cwd / f"{name}.jsonl", posts)


def outbox_statuses(database_url: str) -> list[str]:
    engine = create_engine_for(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return list(session.scalars(select(OutboxEvent.status).order_by(OutboxEvent.id)))
    finally:
        engine.dispose()


def settled_statuses(database_url: str, seconds: float = 5) -> list[str]:
    """The outbox statuses once no event is pending (or at the deadline): the relay marks an
    event sent after the receiver's answer, which the test may see before that commit."""
    deadline = time.monotonic() + seconds
    while "pending" in (statuses := outbox_statuses(database_url)):
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return statuses


# -- the tests -------------------------------------------------------------------------


def test_serve_delivers_the_webhook_of_an_alert_imported_elsewhere(
    tmp_path: Path, hook: Hook
) -> None:
    env = _env(f"sqlite:///{tmp_path / 'clameur.db'}")
    setup_tenant(env, tmp_path, hook.url)
    port = free_port()
    server = Process(env, tmp_path, "serve", "--port", str(port))
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_health(base, server)
        assert health["status"] == "ready", health
        assert health["worker"]["running"] is True
        assert set(health["worker"]["loops"]) == {"relay", "assign", "sla", "digests", "sources"}

        run(env, tmp_path, "import", str(influencer_file(tmp_path, "crisis")), "--tenant", "acme")
        imported_at = time.monotonic()
        hits = hook.wait_for(1, seconds=5)
        assert len(hits) == 1, f"no webhook within 5 s of the import: {server.output()}"
        at, headers, body = hits[0]
        assert at - imported_at < 5
        document = verified(headers, body)
        assert document["type"] == "alert.raised"
        assert document["alert"]["kind"] == "influencer"
        assert document["alert"]["evidence"]["mentions"] == ["crisis-0"]
        assert settled_statuses(env["CLAMEUR_DATABASE_URL"]) == ["sent"]

        loops = httpx.get(f"{base}/api/v1/ready", timeout=5).json()["worker"]["loops"]
        assert loops["relay"]["runs"] >= 1
        assert loops["relay"]["failing"] is False
        datetime.fromisoformat(loops["relay"]["last_run"])
        code, took = server.terminate()
        assert code == 0, server.output()
        assert took < 10
    finally:
        server.kill()
    assert len(hook.hits()) == 1, "delivered once"


def test_serve_without_worker_leaves_the_webhook_to_a_worker_process(
    tmp_path: Path, hook: Hook
) -> None:
    database_url = f"sqlite:///{tmp_path / 'clameur.db'}"
    env = _env(database_url)
    setup_tenant(env, tmp_path, hook.url)
    port = free_port()
    server = Process(env, tmp_path, "serve", "--port", str(port), "--no-worker")
    worker: Process | None = None
    try:
        health = wait_health(f"http://127.0.0.1:{port}", server)
        assert health["worker"] == {"running": False, "loops": {}}
        run(env, tmp_path, "import", str(influencer_file(tmp_path, "first")), "--tenant", "acme")
        # neither the import nor the server delivered: the event waits in the outbox
        assert outbox_statuses(database_url) == ["pending"]
        assert hook.hits() == []

        worker = Process(env, tmp_path, "worker", "--concurrency", "2")
        worker.wait_for_line("worker running")
        assert len(hook.wait_for(1, seconds=10)) == 1, worker.output()

        run(env, tmp_path, "import", str(influencer_file(tmp_path, "second")), "--tenant", "acme")
        imported_at = time.monotonic()
        hits = hook.wait_for(2, seconds=5)
        assert len(hits) == 2, f"no webhook within 5 s of the import: {worker.output()}"
        assert hits[1][0] - imported_at < 5
        documents = [verified(headers, body) for _, headers, body in hits]
        assert [d["alert"]["evidence"]["mentions"] for d in documents] == [
            ["first-0"],
            ["second-0"],
        ]
        # the relay records "sent" once the receiver has answered: just after the hit
        deadline = time.monotonic() + 5
        while outbox_statuses(database_url) != ["sent", "sent"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert outbox_statuses(database_url) == ["sent", "sent"]

        code, took = worker.terminate()
        assert code == 0, worker.output()
        assert took < 5, "an idle worker stops at once"
        assert "worker stopped" in worker.output()
        code, _ = server.terminate()
        assert code == 0, server.output()
    finally:
        server.kill()
        if worker is not None:
            worker.kill()


def test_two_workers_on_one_database_deliver_each_webhook_once(
    database_url: str, tmp_path: Path, hook: Hook
) -> None:
    env = _env(database_url)
    setup_tenant(env, tmp_path, hook.url)
    workers = [Process(env, tmp_path, "worker", "--concurrency", "3") for _ in range(2)]
    try:
        for worker in workers:
            worker.wait_for_line("worker running")
        count = 12
        run(
            env,
            tmp_path,
            "import",
            str(influencer_file(tmp_path, "wave", count)),
            "--tenant",
            "acme",
        )
        hits = hook.wait_for(count, seconds=30)
        assert len(hits) == count, [w.output() for w in workers]
        event_ids = [headers["x-clameur-event-id"] for _, headers, _ in hits]
        assert len(set(event_ids)) == count, "no event delivered twice"
        mentions = sorted(verified(h, b)["alert"]["evidence"]["mentions"][0] for _, h, b in hits)
        assert mentions == sorted(f"wave-{i}" for i in range(count))
        assert settled_statuses(database_url) == ["sent"] * count, "nothing left to redeliver"
        for worker in workers:
            code, _ = worker.terminate()
            assert code == 0, worker.output()
    finally:
        for worker in workers:
            worker.kill()
    assert len(hook.hits()) == count
