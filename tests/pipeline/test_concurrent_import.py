"""Several ``clameur import`` processes writing into the same tenant at once (issue #14).

Real subprocesses on a real database: each must exit 0 with its JSON summary, and the
totals must be exact — every mention once, every author once, one contact per author.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from clameur.care.models import Contact, ContactIdentity, Conversation
from clameur.db import create_engine_for, make_session_factory, session_scope
from clameur.mentions import Author, Mention
from tests.factories import record, write_jsonl

LINES = 600
HANDLES = 90  # shared by every file: each importer meets every author


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "CLAMEUR_DATABASE_URL": database_url,
        "CLAMEUR_LOG_LEVEL": "WARNING",
        "CLAMEUR_BATCH_SIZE": "100",  # many transactions each: many chances to collide
    }


def _clameur(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clameur", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _file(tmp_path: Path, n: int) -> Path:
    start = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    lines = [
        record(
            f"f{n}-{i}",
            f"Acme Mobile {n}/{i}: la facture est fausse",
            created_at=(start + timedelta(minutes=i, seconds=n)).isoformat(),
            author={"handle": f"client{(i * 7 + n) % HANDLES}", "followers": i},
        )
        for i in range(LINES)
    ]
    # the same post in every file: stored once
    lines.append(record("shared", "Acme Mobile: panne", author={"handle": "client0"}))
    return write_jsonl(tmp_path / f"part{n}.jsonl", lines)


PROCESSES = 4
"""Four importers on two cores: more contention than two would give, so two is not run too."""


def test_concurrent_imports_into_one_tenant_all_succeed_with_exact_totals(
    database_url: str, tmp_path: Path
) -> None:
    processes = PROCESSES
    env = _env(database_url)
    assert _clameur(env, tmp_path, "init").returncode == 0
    assert _clameur(env, tmp_path, "tenant", "add", "acme", "--name", "Acme").returncode == 0
    brand = _clameur(
        env, tmp_path, "brand", "add", "acme", "mobile", "--name", "M", "--query", "acme"
    )
    assert brand.returncode == 0, brand.stderr
    files = [_file(tmp_path, n) for n in range(processes)]

    running = [
        subprocess.Popen(
            [sys.executable, "-m", "clameur", "import", str(f), "--tenant", "acme", "--json"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    summaries = []
    for proc in running:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        summaries.append(json.loads(out))

    for summary in summaries:
        assert summary["rejected"] == 0
        assert summary["errors"] == []
        assert summary["imported"] + summary["unchanged"] + summary["updated"] == LINES + 1
    assert sum(s["imported"] for s in summaries) == processes * LINES + 1
    assert sum(s["unchanged"] for s in summaries) == processes - 1  # the shared post

    engine = create_engine_for(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            mentions = session.scalar(select(func.count()).select_from(Mention))
            authors = session.scalar(select(func.count()).select_from(Author))
            handles = session.scalar(select(func.count(func.distinct(Author.handle))))
            contacts = session.scalar(select(func.count()).select_from(Contact))
            identities = session.scalar(select(func.count()).select_from(ContactIdentity))
            threads = session.scalar(select(func.count()).select_from(Conversation))
            threaded_authors = session.scalar(
                select(func.count(func.distinct(Conversation.author_id)))
            )
            orphans = session.scalar(
                select(func.count())
                .select_from(Mention)
                .where(Mention.author_id.not_in(select(Author.id)))
            )
    finally:
        engine.dispose()
    assert mentions == processes * LINES + 1
    assert authors == handles == HANDLES
    assert identities == HANDLES, "every author is the identity of one contact"
    assert contacts == HANDLES, "no contact left behind by a lost race"
    assert orphans == 0
    # every author's mentions lie within one conversation window: one thread each
    assert threaded_authors == HANDLES
    assert threads == HANDLES, "no conversation opened twice by two importers"
