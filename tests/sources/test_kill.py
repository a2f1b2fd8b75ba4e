"""``kill -9`` of a poller between the fetch and the commit: the cursor stays where it was,
nothing is half-stored, and the next poll stores every entry once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, func, select, text
from sqlalchemy.orm import Session

from clameur.mentions.models import Mention
from clameur.sources.models import Source
from tests.sources.feed_server import Doc, FeedServer, serve_feeds

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>B</title>'
    b"<item><guid>k1</guid><title>Volta un</title></item>"
    b"<item><guid>k2</guid><title>Volta deux</title></item></channel></rss>"
)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    yield from serve_feeds()


def test_a_poller_killed_before_its_commit_loses_and_doubles_nothing(
    database_url: str, tmp_path: Path, feeds: FeedServer
) -> None:
    env = {
        **os.environ,
        "CLAMEUR_DATABASE_URL": database_url,
        "CLAMEUR_LOG_LEVEL": "ERROR",
        "CLAMEUR_ALLOW_PRIVATE_FETCH": "1",
    }

    def clameur(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "clameur", *args],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    clameur("init")
    clameur("tenant", "add", "volta", "--name", "Volta")
    clameur("brand", "add", "volta", "volta", "--name", "Volta", "--query", "volta")
    feeds.docs["/feed"] = Doc(FEED, etag='"k"')
    clameur("source", "add", "volta", "rss", "--url", feeds.url("/feed"))

    engine = create_engine(database_url)
    holder: list[Connection] = []
    locked = threading.Event()

    def hold_the_source_row(_path: str) -> None:
        """Block the poller's commit: SQLite's write lock, PostgreSQL's lock on the row."""
        if holder:
            return
        connection = engine.connect()
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.begin()
            connection.execute(text("SELECT id FROM sources FOR UPDATE"))
        holder.append(connection)
        locked.set()

    feeds.before_answer = hold_the_source_row
    poller = subprocess.Popen(
        [sys.executable, "-m", "clameur", "poll", "--tenant", "volta", "--once", "--json"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert feeds.answered.wait(60), "the poller never fetched the feed"
        assert locked.is_set()
        os.kill(poller.pid, signal.SIGKILL)  # fetched, not committed: its commit is blocked
        assert poller.wait(30) == -signal.SIGKILL
    finally:
        if poller.poll() is None:
            poller.kill()
        for connection in holder:
            connection.rollback()
            connection.close()
    feeds.before_answer = None

    with Session(engine) as session:
        cursor = session.scalars(select(Source.cursor)).one()
        mentions = session.scalar(select(func.count()).select_from(Mention))
    engine.dispose()
    assert cursor is None, "the cursor did not move"
    assert mentions == 0, "nothing half-stored"

    # the dead poller's lease holds the source for 10 minutes: let it expire, as time would
    expire = create_engine(database_url)
    with expire.begin() as connection:
        connection.execute(text("UPDATE sources SET lease_until = NULL, lease_owner = NULL"))
    expire.dispose()
    first = json.loads(clameur("poll", "--tenant", "volta", "--once", "--json").stdout)
    assert [(p["status"], p["imported"]) for p in first] == [("ok", 2)]
    again = json.loads(clameur("poll", "--tenant", "volta", "--once", "--all", "--json").stdout)
    assert [(p["imported"], p["updated"]) for p in again] == [(0, 0)]
    assert feeds.gets("/feed", 200) == 2
    assert feeds.gets("/feed", 304) == 1
