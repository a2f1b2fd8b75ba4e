"""``clameur worker`` polls the sources: a feed on loopback becomes mentions without any
``clameur poll``; a SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sources.feed_server import Doc, FeedServer, serve_feeds

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>B</title>'
    b"<item><guid>w1</guid><title>Volta au travail</title></item></channel></rss>"
)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    yield from serve_feeds()


def test_the_worker_polls_due_sources(database_url: str, tmp_path: Path, feeds: FeedServer) -> None:
    env = {
        **os.environ,
        "CLAMEUR_DATABASE_URL": database_url,
        "CLAMEUR_LOG_LEVEL": "WARNING",
        "CLAMEUR_ALLOW_PRIVATE_FETCH": "1",
        "CLAMEUR_SMTP_HOST": "",
    }

    def clameur(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "clameur", *args],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    clameur("init")
    clameur("tenant", "add", "volta", "--name", "Volta")
    clameur("brand", "add", "volta", "volta", "--name", "Volta", "--query", "volta")
    feeds.docs["/feed"] = Doc(FEED, etag='"w"')
    source = json.loads(
        clameur("source", "add", "volta", "rss", "--url", feeds.url("/feed"), "--json")
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "clameur", "worker"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert feeds.answered.wait(60), "the worker never polled the feed"
        deadline = time.monotonic() + 60
        while True:  # the commit follows the fetch: wait for it (a deadline, not a sleep)
            shown = json.loads(clameur("source", "show", str(source["id"]), "--json"))
            if shown["health"]["last_success_at"] is not None:
                break
            assert time.monotonic() < deadline, shown
            time.sleep(0.2)
        assert shown["health"]["last_poll"]["imported"] == 1
        assert shown["health"]["items_last_hour"] == 1
        assert shown["cursor"]["etag"] == '"w"'
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise
    assert code == 0, worker.stdout.read() if worker.stdout else ""
    assert feeds.gets("/feed") == 1, "polled once: the next poll is an interval away"
