"""``clameur conversations …`` and ``clameur user add``: contracts, through a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.factories import record, write_jsonl


def _run(database_url: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CLAMEUR_DATABASE_URL": database_url, "CLAMEUR_LOG_LEVEL": "WARNING",
            **env}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "clameur", *args],
        env=full, cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_conversations_contract_and_scripting(database_url: str, tmp_path: Path) -> None:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return _run(database_url, tmp_path, *args, **env)

    assert run("init").returncode == 0
    assert run("tenant", "add", "acme", "--name", "Acme").returncode == 0
    lines = [
        record("1", "Acme m'a facturé deux fois, remboursez-moi svp", author={"handle": "ana"}),
        record("2", "Acme plus de réseau depuis ce matin, inadmissible", author={"handle": "bo"}),
        record("3", "Merci Acme, super accueil en boutique, bravo !", author={"handle": "cy"}),
    ]
    assert (
        run("import", str(write_jsonl(tmp_path / "c.jsonl", lines)), "--tenant", "acme").returncode
        == 0
    )

    listed = run("conversations", "list", "--tenant", "acme", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert {tuple(i["mentions"]) for i in items} == {("1",), ("2",)}  # praise is not work
    for item in items:
        assert {
            "id",
            "status",
            "priority",
            "source",
            "author",
            "mentions",
            "incident",
            "flags",
        } <= set(item)
        assert item["status"] == "open"
        assert item["incident"] is None

    weak = run("user", "add", "anna@bpo.example", "--role", "agent", CLAMEUR_PASSWORD="short")
    assert weak.returncode == 1
    assert "password" in weak.stderr
    added = run("user", "add", "anna@bpo.example", "--role", "agent",
                CLAMEUR_PASSWORD="a long enough secret")  # fmt: skip
    assert added.returncode == 0, added.stderr

    target = items[0]["id"]
    done = run("conversations", "status", str(target), "resolved", "--tenant", "acme",
               "--as", "anna@bpo.example")  # fmt: skip
    assert done.returncode == 0, done.stderr
    noted = run("conversations", "note", str(target), "refund made", "--tenant", "acme",
                "--as", "anna@bpo.example")  # fmt: skip
    assert noted.returncode == 0, noted.stderr
    shown = json.loads(run("conversations", "show", str(target), "--tenant", "acme").stdout)
    assert [e["kind"] for e in shown["timeline"]] == ["status", "note"]
    assert shown["timeline"][0]["actor_id"] is not None
    resolved = json.loads(run("conversations", "list", "--tenant", "acme", "--status", "resolved",
                              "--json").stdout)  # fmt: skip
    assert [i["id"] for i in resolved] == [target]
    missing = run("conversations", "show", "999999", "--tenant", "acme")
    assert missing.returncode == 1
    assert "no conversation" in missing.stderr
