"""A database that cannot be reached is one line on stderr, not a traceback (issue #14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.smtp import free_port


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+psycopg://root:hunter2@127.0.0.1:{port}/test", "Connection refused"),
        ("sqlite:///{missing}/clameur.db", "unable to open database file"),
    ],
    ids=["postgresql-refused", "sqlite-unopenable"],
)
@pytest.mark.parametrize("command", [["import", "x.jsonl", "--json"], ["stats", "--json"]])
def test_an_unreachable_database_is_one_line_without_a_traceback(
    tmp_path: Path, url: str, says: str, command: list[str]
) -> None:
    database = url.format(port=free_port(), missing=tmp_path / "no" / "such" / "dir")
    (tmp_path / "x.jsonl").write_text("{}\n")
    env = {**os.environ, "CLAMEUR_DATABASE_URL": database, "CLAMEUR_LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [sys.executable, "-m", "clameur", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: database ")
    assert says in lines[0]
    assert "hunter2" not in result.stderr, "the password is never printed"
    assert "Traceback" not in result.stderr
