"""``clameur user``, ``clameur token`` and ``clameur audit`` through a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRESQL, ON_SQLITE

PASSWORD = "a long and uncommon passphrase"


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    base = {**os.environ, "CLAMEUR_DATABASE_URL": database_url, "CLAMEUR_LOG_LEVEL": "WARNING"}

    def _run(*args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
        env = dict(base)
        env.pop("CLAMEUR_PASSWORD", None)
        if password is not None:
            env["CLAMEUR_PASSWORD"] = password
        return subprocess.run(
            [sys.executable, "-m", "clameur", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    assert _run("init").returncode == 0
    for slug in ("acme", "beta"):
        assert _run("tenant", "add", slug, "--name", slug.title()).returncode == 0
    return _run


@ON_SQLITE
def test_users_hold_roles_in_several_tenants_and_weak_passwords_are_refused(run) -> None:  # type: ignore[no-untyped-def]
    weak = run(
        "user",
        "add",
        "ana@bpo.example",
        "--tenant",
        "acme",
        "--role",
        "agent",
        password="password1234",
    )
    assert weak.returncode == 1
    assert "common passwords" in weak.stderr
    assert len(weak.stderr.strip().splitlines()) == 1
    assert (
        run("user", "add", "ana@bpo.example", "--tenant", "acme", "--role", "agent").returncode == 0
    )
    second = run(
        "user", "add", "ana@bpo.example", "--tenant", "beta", "--role", "supervisor", password=None
    )
    assert second.returncode == 0, second.stderr
    bad_role = run("user", "add", "x@bpo.example", "--tenant", "acme", "--role", "god")
    assert bad_role.returncode == 1
    assert "role is one of" in bad_role.stderr
    acme = json.loads(run("user", "list", "--tenant", "acme", "--json").stdout)
    beta = json.loads(run("user", "list", "--tenant", "beta", "--json").stdout)
    assert [(u["email"], u["role"]) for u in acme] == [("ana@bpo.example", "agent")]
    assert [(u["email"], u["role"]) for u in beta] == [("ana@bpo.example", "supervisor")]


@ON_POSTGRESQL
def test_token_create_prints_the_token_once_and_revoke_stops_it(run) -> None:  # type: ignore[no-untyped-def]
    assert (
        run("user", "add", "sup@bpo.example", "--tenant", "acme", "--role", "supervisor").returncode
        == 0
    )
    made = run(
        "token",
        "create",
        "--tenant",
        "acme",
        "--user",
        "sup@bpo.example",
        "--name",
        "crm sync",
        "--expires",
        "30",
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("clm_")
    assert len(made.stdout.strip().splitlines()) == 1, "stdout holds the token alone"
    prefix = "_".join(token.split("_")[:2])
    listed = json.loads(run("token", "list", "--tenant", "acme", "--json").stdout)
    assert listed[0]["prefix"] == prefix
    assert listed[0]["revoked"] is False
    assert token not in json.dumps(listed), "the secret is never shown again"
    no_role = run("token", "create", "--tenant", "beta", "--user", "sup@bpo.example")
    assert no_role.returncode == 1
    assert not no_role.stdout
    assert run("token", "revoke", "--tenant", "beta", prefix).returncode == 1, "not beta's token"
    assert run("token", "revoke", "--tenant", "acme", prefix).returncode == 0
    listed = json.loads(run("token", "list", "--tenant", "acme", "--json").stdout)
    assert listed[0]["revoked"] is True
    log = json.loads(run("audit", "--tenant", "acme", "--json").stdout)
    actions = [entry["action"] for entry in log]
    assert actions == ["user.grant", "token.create", "token.revoke"]
    assert log[1]["actor"] == "sup@bpo.example"
    assert log[1]["object_type"] == "api_token"
    assert json.loads(run("audit", "--tenant", "beta", "--json").stdout) == []
