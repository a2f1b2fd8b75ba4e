"""`clameur demo` then `clameur serve`: a real server on loopback shows the demo mentions
to a demo user who signs in with the accounts and password the demo printed."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from clameur.db import create_engine_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CLAMEUR_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "CLAMEUR_LOG_LEVEL": "WARNING",
    }


CLAMEUR = [sys.executable, "-m", "clameur"]


def _run(args: list[str], tmp_path: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLAMEUR, *args],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLAMEUR, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _health(base: str, process: subprocess.Popen[str], timeout: float) -> httpx.Response:
    """The health answer once the process serves (it must not stop meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"{base}/api/v1/health", timeout=2)
        except httpx.TransportError:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, f"{process.args} did not start"
            time.sleep(0.2)


def _sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    data = {"email": email, "password": password, "csrf_token": token.group(1), "next": "/"}
    return client.post("/login", data=data)


def test_demo_loads_data_and_serve_shows_it(tmp_path: Path) -> None:
    loaded = _run(["demo", "--no-serve", "--count", "400"], tmp_path, timeout=180)
    assert loaded.returncode == 0, loaded.stderr
    assert "imported 400" in loaded.stdout
    assert "/login" in loaded.stdout
    emails = re.findall(r"^  (\S+@\S+)\s+(\w+)\s+(.+)$", loaded.stdout, re.MULTILINE)
    roles = {(role, where.strip()) for _, role, where in emails}
    for tenant in ("volta", "maisonlune"):
        for role in ("admin", "supervisor", "agent", "viewer"):
            assert (role, tenant) in roles, loaded.stdout
    assert ("admin", "every tenant (operator)") in roles
    password = re.search(r"^Password of every demo account: (\S+)$", loaded.stdout, re.MULTILINE)
    assert password, loaded.stdout
    assert len(password.group(1)) >= 12
    stats = _run(["stats", "--tenant", "volta", "--json"], tmp_path, timeout=60)
    assert json.loads(stats.stdout)["mentions"] > 50

    port = _free_port()
    server = _start(["serve", "--port", str(port)], _env(tmp_path), tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        health = _health(base, server, timeout=60)
        assert health.json()["status"] == "ok"
        anonymous = httpx.get(f"{base}/t/volta", timeout=10)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/login?next=/t/volta"
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as client:
            home = _sign_in(client, "agent@volta.example", password.group(1))
            assert home.status_code == 200, home.text
            assert str(home.url) == f"{base}/"
            page = client.get("/t/volta")
            assert page.status_code == 200
            assert page.text.count('class="mention"') == 20, "the dashboard's latest mentions"
            assert "Volta" in page.text
            assert client.get("/t/maisonlune").status_code == 404, "no role there"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_serve_on_every_interface_without_tls_warns(tmp_path: Path) -> None:
    """The warning comes before the server binds: the port is held (bound, never listened
    on), so the server stops at once without exposing anything."""
    assert _run(["init"], tmp_path, timeout=60).returncode == 0
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))  # noqa: S104 - bound, not listening: blocks the port
        port = str(held.getsockname()[1])
        served = _run(["serve", "--host", "0.0.0.0", "--port", port, "--no-worker"], tmp_path, 60)
    assert "WARNING: listening on 0.0.0.0 over plain HTTP" in served.stderr, served.stderr
    assert "CLAMEUR_TRUST_PROXY" in served.stderr
    assert served.returncode != 0


def test_make_demo_leaves_the_sign_in_on_screen_and_e_mail_off(tmp_path: Path) -> None:
    """What `make demo` shows a person: the accounts and the URL, not a page of log lines;
    with no SMTP server set, the staged floor's SLA e-mails are recorded as skipped
    instead of failing and retrying in the terminal."""
    env = {k: v for k, v in _env(tmp_path).items() if k not in ("CLAMEUR_LOG_LEVEL",)}
    env.pop("CLAMEUR_SMTP_HOST", None)
    port = _free_port()
    demo = _start(["demo", "--count", "400", "--port", str(port)], env, tmp_path)
    try:
        _health(f"http://127.0.0.1:{port}", demo, timeout=240)
        outbox = f"sqlite:///{tmp_path / 'demo.db'}"
        engine = create_engine_for(outbox)
        deadline = time.monotonic() + 30
        while True:  # the relay's first pass over the staged floor's e-mails
            with engine.connect() as conn:
                states = dict(
                    conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status")).all()
                )
            if states.get("skipped") and not states.get("pending"):
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.3)
        engine.dispose()
    finally:
        demo.terminate()
        out, err = demo.communicate(timeout=30)
    assert "E-mail is off in the demo" in out
    assert "Password of every demo account:" in out
    assert "outbox delivery failed" not in err, err[-2000:]
    assert len(err.splitlines()) < 20, err[-3000:]
