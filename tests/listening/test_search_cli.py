"""``clameur search``: the command-line contract, through a real process, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ON_SQLITE
from tests.factories import record, write_jsonl


def _run(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLAMEUR_DATABASE_URL": database_url, "CLAMEUR_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "clameur", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@ON_SQLITE
def test_search_contract(database_url: str, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _run(database_url, tmp_path, *args)

    assert run("init").returncode == 0
    assert run("tenant", "add", "acme", "--name", "Acme").returncode == 0
    assert run("tenant", "add", "zeta", "--name", "Zeta").returncode == 0
    lines = [
        record("1", "Acme en panne", created_at="2026-11-16T08:00:00+01:00"),
        record("2", "Acme réparé, merci", created_at="2026-11-16T09:30:00Z"),
        record("3", "Rien à voir", created_at="2026-11-16T10:00:00Z", source="forum"),
        record("4", "acme PANNE encore", created_at="2026-11-17T10:00:00Z", source="forum"),
    ]
    imported = run("import", str(write_jsonl(tmp_path / "a.jsonl", lines)), "--tenant", "acme")
    assert imported.returncode == 0, imported.stderr
    other = [record("9", "acme panne ailleurs")]
    assert (
        run("import", str(write_jsonl(tmp_path / "z.jsonl", other)), "--tenant", "zeta").returncode
        == 0
    )

    found = run("search", "--tenant", "acme", "acme panne", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == [
        {
            "source": "forum",
            "external_id": "4",
            "created_at": "2026-11-17T10:00:00+00:00",
            "text": "acme PANNE encore",
        },
        {
            "source": "twitter",
            "external_id": "1",
            "created_at": "2026-11-16T07:00:00+00:00",
            "text": "Acme en panne",
        },
    ]
    limited = run("search", "--tenant", "acme", "acme", "--json", "--limit", "2")
    assert [m["external_id"] for m in json.loads(limited.stdout)] == ["4", "2"]
    everything = run("search", "--tenant", "acme", "--json", "--", "-panne acme OR voir")
    assert [m["external_id"] for m in json.loads(everything.stdout)] == ["3", "2"]
    assert json.loads(run("search", "--tenant", "acme", "zzz", "--json").stdout) == []

    human = run("search", "--tenant", "acme", "source:forum")
    assert human.returncode == 0
    assert human.stdout.splitlines()[0].startswith("2026-11-17 10:00  forum")

    for args, where in [
        (("--tenant", "acme", "acme (panne", "--json"), "column 6"),
        (("--tenant", "ghost", "acme", "--json"), "ghost"),
        (("--tenant", "acme", "acme", "--json", "--limit", "0"), "--limit"),
    ]:
        failed = run("search", *args)
        assert failed.returncode == 1, args
        assert failed.stdout == ""
        assert where in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
