"""Untrusted text never reaches the terminal raw: control and bidi characters are escaped.

Every human-readable printer goes through :func:`clameur.cli.output.safe`; ``--json`` output
stays exact. The commands run in a real process (as in ``tests/cli/test_cli.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clameur.cli.output import safe
from clameur.demo import replays
from tests.conftest import ON_SQLITE
from tests.factories import write_jsonl

AT = datetime(2030, 3, 6, 9, 30, tzinfo=UTC)
HOSTILE = "\x1b[2J\x1b]0;title\x07\u202e"
HANDLE = f"evil{HOSTILE}x"
TEXT = f"volta panne {HOSTILE} fin\r\nligne deux"
RAW = ("\x1b", "\x07", "\u202e", "\r")


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "CLAMEUR_DATABASE_URL": database_url, "CLAMEUR_LOG_LEVEL": "WARNING"}

    def _run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "clameur", *args],
            env={**env, **extra},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result

    return _run


def _assert_clean(output: str) -> None:
    for char in RAW:
        assert char not in output, (char, output)


def test_safe_escapes_controls_and_bidi_but_keeps_text() -> None:
    assert safe("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert safe("\x1b]0;title\x07") == "\\x1b]0;title\\x07"
    assert safe("\u202eabc\u2066\u2069\u200e\u200f\u061c") == (
        "\\u202eabc\\u2066\\u2069\\u200e\\u200f\\u061c"
    )
    assert safe("\x00\t\r\x7f\x9b") == "\\x00\\x09\\x0d\\x7f\\x9b"
    assert safe("un\ndeux") == "un⏎deux"
    assert safe("café 😀 \\x1b") == "café 😀 \\x1b"
    assert safe(None) == ""


@ON_SQLITE
def test_human_output_is_escaped_and_json_is_exact(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("init")
    run("tenant", "add", "acme", "--name", f"Acme{HOSTILE}")
    run("brand", "add", "acme", "volta", "--name", "Volta", "--query", "volta")
    post = replays.influencer_post(AT, followers=452_000, external_id="inf-1", handle=HANDLE)
    post["text"] += f" {HOSTILE}"
    mention = replays.influencer_post(AT, external_id=f"m{HOSTILE}", handle=HANDLE)
    mention["text"] = TEXT
    run("import", str(write_jsonl(tmp_path / "hostile.jsonl", [post, mention])), "--tenant", "acme")

    # search: text, handle-free line, external id
    found = json.loads(run("search", "--tenant", "acme", "volta", "--json").stdout)
    assert TEXT in {hit["text"] for hit in found}
    assert post["text"] in {hit["text"] for hit in found}
    assert f"m{HOSTILE}" in {hit["external_id"] for hit in found}
    human = run("search", "--tenant", "acme", "volta")
    _assert_clean(human.stdout + human.stderr)
    assert "\\x1b[2J\\x1b]0;title\\x07\\u202e" in human.stdout

    # conversations list: the author's handle
    listed = json.loads(run("conversations", "list", "--tenant", "acme", "--json").stdout)
    assert HANDLE in {c["author"] for c in listed}
    human = run("conversations", "list", "--tenant", "acme")
    _assert_clean(human.stdout + human.stderr)
    assert "@evil\\x1b[2J" in human.stdout

    # alerts: the summary names the influencer
    alerts = json.loads(run("alerts", "--tenant", "acme", "--json").stdout)
    assert any(HANDLE in a["evidence"]["authors"] for a in alerts), alerts
    human = run("alerts", "--tenant", "acme")
    _assert_clean(human.stdout + human.stderr)
    assert "alert(s)" in human.stderr

    # tenant names
    tenants = json.loads(run("tenant", "list", "--json").stdout)
    assert f"Acme{HOSTILE}" in {t["name"] for t in tenants}
    human = run("tenant", "list")
    _assert_clean(human.stdout)
    assert "Acme\\x1b[2J" in human.stdout


@ON_SQLITE
def test_user_and_token_names_are_escaped(run) -> None:  # type: ignore[no-untyped-def]
    run("init")
    run("tenant", "add", "acme", "--name", "Acme")
    run(
        "user",
        "add",
        "ana@example.com",
        "--tenant",
        "acme",
        "--role",
        "agent",
        "--name",
        f"Ana{HOSTILE}",
        CLAMEUR_PASSWORD="correct horse battery staple",
    )
    run("token", "create", "--tenant", "acme", "--user", "ana@example.com", "--name", HOSTILE)
    users = json.loads(run("user", "list", "--tenant", "acme", "--json").stdout)
    assert f"Ana{HOSTILE}" in {u["name"] for u in users}
    tokens = json.loads(run("token", "list", "--tenant", "acme", "--json").stdout)
    assert [t["name"] for t in tokens] == [HOSTILE]
    for args in (("user", "list"), ("token", "list"), ("audit",)):
        human = run(*args, "--tenant", "acme")
        _assert_clean(human.stdout)
    assert "Ana\\x1b[2J" in run("user", "list", "--tenant", "acme").stdout
    assert "\\u202e" in run("token", "list", "--tenant", "acme").stdout
