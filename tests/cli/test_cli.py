"""The command-line contract, through a real ``clameur`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import record, write_jsonl


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "CLAMEUR_DATABASE_URL": database_url, "CLAMEUR_LOG_LEVEL": "WARNING"}

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "clameur", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return _run


def test_commands_before_init_say_how_to_fix(run) -> None:  # type: ignore[no-untyped-def]
    result = run("stats", "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "run `clameur init`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, "one line, no traceback"


def test_import_contract_and_exit_codes(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("init").returncode == 0
    assert run("tenant", "add", "acme", "--name", "Acme").returncode == 0
    added = run(
        "brand",
        "add",
        "acme",
        "acme-mobile",
        "--name",
        "Acme Mobile",
        "--query",
        "Acme Mobile",
        "--query",
        "@acmemobile",
        "--json",
    )
    assert json.loads(added.stdout)["queries"] == ["Acme Mobile", "@acmemobile"]

    lines = [record(str(i), f"Acme Mobile {i}: my bill is wrong, please help") for i in range(5)]
    good = write_jsonl(tmp_path / "good.jsonl", lines)
    first = run("import", str(good), "--tenant", "acme", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {
        "imported": 5,
        "updated": 0,
        "unchanged": 0,
        "unmatched": 0,
        "rejected": 0,
        "errors": [],
    }
    stats_before = json.loads(run("stats", "--tenant", "acme", "--json").stdout)
    second = json.loads(run("import", str(good), "--tenant", "acme", "--json").stdout)
    assert (second["imported"], second["unchanged"]) == (0, 5)
    assert json.loads(run("stats", "--tenant", "acme", "--json").stdout) == stats_before
    assert stats_before["mentions"] == 5
    assert stats_before["conversations"] == stats_before["open_conversations"] == 1

    bad = write_jsonl(tmp_path / "bad.jsonl", [record("9", "Acme Mobile"), b"oops"])
    rejected = run("import", str(bad), "--tenant", "acme", "--json")
    assert rejected.returncode == 1
    out = json.loads(rejected.stdout)
    assert out["imported"] == 1
    assert out["errors"] == [{"line": 2, "reason": out["errors"][0]["reason"]}]
    assert out["errors"][0]["reason"].startswith("not valid JSON")

    human = run("import", str(bad), "--tenant", "acme")
    assert human.returncode == 1
    assert "line 2: not valid JSON" in human.stderr


def test_csv_import_and_clear_errors_for_unknown_things(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("init")
    run("tenant", "add", "acme", "--name", "Acme")
    csv_file = tmp_path / "m.csv"
    csv_file.write_text(
        "source,external_id,text,created_at,author_handle,author_followers\n"
        "facebook,1,Bonjour acme,2026-11-16T09:00:00+01:00,zoe,12\n"
        "facebook,2,acme,not a date,zoe,12\n",
        encoding="utf-8",
    )
    result = run("import", str(csv_file), "--tenant", "acme", "--json")
    out = json.loads(result.stdout)
    assert (out["imported"], out["rejected"]) == (1, 1)
    assert out["errors"][0]["line"] == 3

    missing = run("import", str(tmp_path / "nope.jsonl"), "--tenant", "acme")
    assert missing.returncode == 1
    assert "nope.jsonl: cannot open" in missing.stderr
    unknown = run("import", str(csv_file), "--tenant", "ghost")
    assert unknown.returncode == 1
    assert "tenant 'ghost' not found" in unknown.stderr
    duplicate = run("tenant", "add", "acme", "--name", "Again")
    assert duplicate.returncode == 1
    assert "exists already" in duplicate.stderr
