"""``clameur source …`` and ``clameur poll`` through a real ``clameur`` process, against a
feed served on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ON_SQLITE
from tests.sources.feed_server import Doc, FeedServer, serve_feeds

pytestmark = ON_SQLITE  # the sources' services run on both backends in their own tests

Run = Callable[..., subprocess.CompletedProcess[str]]

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>B</title>'
    b"<item><guid>f1</guid><title>Volta rocks</title><link>https://b.example/1</link></item>"
    b"<item><guid>f2</guid><title>Off topic</title><link>https://b.example/2</link></item>"
    b"</channel></rss>"
)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    yield from serve_feeds()


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Run:
    base = {**os.environ, "CLAMEUR_DATABASE_URL": database_url, "CLAMEUR_LOG_LEVEL": "ERROR"}
    base.pop("CLAMEUR_ALLOW_PRIVATE_FETCH", None)

    def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "clameur", *args],
            env={**base, **(env or {})},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    return _run


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def test_add_poll_show_disable(run: Run, feeds: FeedServer, tmp_path: Path) -> None:
    feeds.docs["/feed"] = Doc(FEED, etag='"e1"')
    _ok(run("init"))
    _ok(run("tenant", "add", "volta", "--name", "Volta"))
    _ok(run("brand", "add", "volta", "volta", "--name", "Volta", "--query", "volta"))
    added = _ok(
        run(
            "source",
            "add",
            "volta",
            "rss",
            "--url",
            feeds.url("/feed"),
            "--source",
            "news",
            "--option",
            "timeout=5",
            "--interval",
            "60",
            "--json",
        )
    )
    source = json.loads(added.stdout)
    assert (source["kind"], source["source"], source["interval_seconds"]) == ("rss", "news", 60)
    assert source["options"]["timeout"] == 5
    assert source["name"] == "127.0.0.1"

    unknown = run("source", "add", "volta", "gopher", "--url", "x")
    assert unknown.returncode != 0
    assert unknown.stdout == ""
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "gopher" in unknown.stderr
    assert "rss" in unknown.stderr

    refused = run("poll", "--tenant", "volta", "--once", "--json")
    assert refused.returncode == 1, "loopback refused without CLAMEUR_ALLOW_PRIVATE_FETCH"
    [failed] = json.loads(refused.stdout)
    assert failed["status"] == "failed"
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH" in failed["error"]
    assert len(refused.stderr.strip().splitlines()) == 1

    allow = {"CLAMEUR_ALLOW_PRIVATE_FETCH": "1"}
    _ok(run("source", "disable", str(source["id"])))
    assert (
        json.loads(_ok(run("poll", "--tenant", "volta", "--once", "--all", "--json")).stdout) == []
    )
    _ok(run("source", "enable", str(source["id"])))
    first = json.loads(_ok(run("poll", "--tenant", "volta", "--once", "--json", env=allow)).stdout)
    assert [(p["status"], p["imported"], p["unmatched"]) for p in first] == [("ok", 1, 1)]
    again = json.loads(
        _ok(run("poll", "--tenant", "volta", "--once", "--all", "--json", env=allow)).stdout
    )
    assert [(p["imported"], p["unchanged"]) for p in again] == [(0, 0)]
    assert feeds.gets("/feed", 304) == 1

    shown = json.loads(_ok(run("source", "show", str(source["id"]), "--json")).stdout)
    assert shown["health"]["consecutive_failures"] == 0
    assert shown["health"]["last_error"] is None
    assert shown["cursor"]["etag"] == '"e1"'
    listed = json.loads(_ok(run("source", "list", "--tenant", "volta", "--json")).stdout)
    assert [s["id"] for s in listed] == [source["id"]]
    audit = json.loads(_ok(run("audit", "--tenant", "volta", "--json")).stdout)
    actions = [entry["action"] for entry in audit]
    assert {"source.add", "source.disable", "source.enable"} <= set(actions)


def test_secrets_are_read_from_the_environment_and_never_shown(run: Run, tmp_path: Path) -> None:
    _ok(run("init"))
    _ok(run("tenant", "add", "volta", "--name", "Volta"))
    missing = run("source", "add", "volta", "fake", "--secret", "token")
    assert missing.returncode != 0
    assert "CLAMEUR_SOURCE_SECRET_TOKEN" in missing.stderr
    env = {"CLAMEUR_SOURCE_SECRET_TOKEN": "sup3r-secret-value"}
    added = _ok(
        run(
            "source",
            "add",
            "volta",
            "fake",
            "--name",
            "evil\x1b[2Jname",
            "--secret",
            "token",
            env=env,
        )
    )
    assert "sup3r-secret-value" not in added.stdout + added.stderr
    shown = _ok(run("source", "show", "1"))
    assert "token: set" in shown.stdout
    assert "sup3r-secret-value" not in shown.stdout
    assert "\x1b" not in shown.stdout, "untrusted text escaped"
    assert "\\x1b[2J" in shown.stdout
    listed = _ok(run("source", "list", "--tenant", "volta", "--json"))
    assert "sup3r-secret-value" not in listed.stdout
    assert json.loads(listed.stdout)[0]["secrets"] == {"token": "set"}
    not_once = run("poll", "--tenant", "volta")
    assert not_once.returncode != 0
    assert "--once" in not_once.stderr


def test_a_webhook_source_prints_its_endpoint_and_its_secret_once(run: Run) -> None:
    _ok(run("init"))
    _ok(run("tenant", "add", "volta", "--name", "Volta"))
    env = {"CLAMEUR_PUBLIC_BASE_URL": "https://clameur.volta.example"}
    added = _ok(run("source", "add", "volta", "webhook", "--name", "CRM", env=env))
    assert "endpoint: POST https://clameur.volta.example/api/v1/ingest/1" in added.stdout
    secret = next(line for line in added.stdout.splitlines() if line.startswith("secret: "))
    value = secret.split()[1]
    assert value.startswith("whsec_")
    shown = _ok(run("source", "show", "1"))
    assert value not in shown.stdout
    as_json = _ok(run("source", "add", "volta", "webhook", "--name", "CRM2", "--json", env=env))
    assert json.loads(as_json.stdout)["endpoint"].endswith("/api/v1/ingest/2")
