"""The RSS/Atom connector against a real HTTP server on loopback, through the framework, on
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.errors import InvalidInputError
from clameur.mentions.models import Mention
from clameur.pipeline import Pipeline
from clameur.sources.schedule import Poller, PollOutcome
from clameur.sources.service import add_source
from tests.conftest import Database, make_tenant
from tests.sources.feed_server import Doc, FeedServer, serve_feeds
from tests.sources.helpers import mention_count, mention_ids, poller, source_row

OPEN = Settings(allow_private_fetch=True)
"""Loopback is refused by default: these tests allow it, as CLAMEUR_ALLOW_PRIVATE_FETCH=1."""


def rss(*items: str, title: str = "Le blog") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://blog.example/</link>{''.join(items)}"
        "</channel></rss>"
    ).encode()


def item(
    guid: str,
    title: str,
    body: str,
    *,
    date: str | None = "Mon, 30 Dec 2029 10:00:00 GMT",
    author: str | None = None,
) -> str:
    parts = [
        f"<guid>{guid}</guid>",
        f"<title>{title}</title>",
        f"<link>https://blog.example/{guid}</link>",
        f"<description>{body}</description>",
    ]
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    if author:
        parts.append(f"<author>{author}</author>")
    return "<item>" + "".join(parts) + "</item>"


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    yield from serve_feeds()


@pytest.fixture
def volta(db: Database, clock: FrozenClock) -> int:
    return make_tenant(db, clock, "volta", {"volta": ["volta"]}).id


def _source(db: Database, clock: FrozenClock, tenant_id: int, url: str, **kw: Any) -> int:
    with session_scope(db.factory) as session:
        return add_source(session, clock, tenant_id=tenant_id, kind="rss", url=url, **kw).id


def _poll(db: Database, pipeline: Pipeline, clock: FrozenClock, **kw: Any) -> PollOutcome:
    [outcome] = poller(db, pipeline, clock, settings=kw.pop("settings", OPEN), **kw).poll_due(
        force=True
    )
    return outcome


def _text(db: Database, external_id: str) -> str:
    with session_scope(db.factory) as session:
        return session.scalars(select(Mention.text).where(Mention.external_id == external_id)).one()


def test_entries_become_mentions_and_a_repoll_is_a_304(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    body = (
        "&lt;p&gt;J'adore &lt;b&gt;Volta&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;"
    )
    feeds.docs["/feed"] = Doc(
        rss(
            item("e1", "Mon avis", body, author="jo@blog.example (Jo)"),
            item("e2", "Autre sujet", "rien à voir"),
            item("e3", "Volta sans date", "texte", date=None),
        ),
        etag='"v1"',
    )
    source_id = _source(db, clock, volta, feeds.url("/feed"))
    outcome = _poll(db, pipeline, clock)
    assert outcome.status == "ok", outcome.error
    assert (outcome.counts["imported"], outcome.counts["unmatched"]) == (2, 1)
    assert mention_ids(db) == ["e1", "e3"], "the unmatched entry is not kept"
    with session_scope(db.factory) as session:
        e1 = session.scalars(select(Mention).where(Mention.external_id == "e1")).one()
        e3 = session.scalars(select(Mention).where(Mention.external_id == "e3")).one()
        assert e1.source == "blog"
        assert e1.text == "Mon avis\n\nJ'adore Volta"
        assert "<" not in e1.text
        assert "alert" not in e1.text
        assert e1.url == "https://blog.example/e1"
        assert e1.created_at == datetime(2029, 12, 30, 10, 0, tzinfo=UTC)
        assert e3.created_at == clock.now(), "an entry without a date: the fetch time"
    cursor = source_row(db, source_id).cursor
    assert cursor is not None
    assert cursor["etag"] == '"v1"'
    assert cursor["newest"] == "2029-12-30T10:00:00+00:00"

    again = _poll(db, pipeline, clock)
    assert again.status == "ok"
    assert sum(again.counts.values()) == 0
    assert feeds.gets("/feed", 304) == 1, "a conditional GET answered Not Modified"
    assert source_row(db, source_id).cursor == cursor
    assert mention_count(db) == 2


def test_an_edited_entry_updates_its_mention_and_seen_entries_are_skipped(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    feeds.docs["/feed"] = Doc(
        rss(item("a", "Volta un", "premier"), item("b", "Volta deux", "second")),
        last_modified="Mon, 30 Dec 2029 10:00:00 GMT",
    )
    _source(db, clock, volta, feeds.url("/feed"))
    assert _poll(db, pipeline, clock).counts["imported"] == 2
    feeds.docs["/feed"] = Doc(
        rss(item("a", "Volta un", "premier, corrigé"), item("b", "Volta deux", "second")),
        last_modified="Mon, 30 Dec 2029 11:00:00 GMT",
    )
    outcome = _poll(db, pipeline, clock)
    assert outcome.counts["updated"] == 1
    assert outcome.counts["unchanged"] == 0, "the unchanged entry was skipped by the cursor"
    assert _text(db, "a") == "Volta un\n\npremier, corrigé"
    assert mention_count(db) == 2


def test_an_atom_feed(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Forum</title><id>urn:f</id>
<updated>2029-12-30T10:00:00Z</updated>
<entry><id>urn:post:1</id><title type="html">Volta &amp;lt;3</title>
<link href="https://forum.example/p/1"/><updated>2029-12-30T09:00:00Z</updated>
<author><name>Ana</name></author>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
<p>Super <em>marque</em></p></div></content>
</entry></feed>"""
    feeds.docs["/atom"] = Doc(atom, content_type="application/atom+xml")
    _source(db, clock, volta, feeds.url("/atom"), source="forum")
    outcome = _poll(db, pipeline, clock)
    assert outcome.counts["imported"] == 1, outcome
    with session_scope(db.factory) as session:
        mention = session.scalars(select(Mention)).one()
        assert (mention.source, mention.external_id) == ("forum", "urn:post:1")
        assert mention.text == "Volta <3\n\nSuper marque"
        assert mention.created_at == datetime(2029, 12, 30, 9, 0, tzinfo=UTC)


def test_a_malformed_feed_keeps_its_readable_entries_and_says_so(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    broken = rss(item("m1", "Volta & co", "ok"), item("m2", "Volta", "ok"))[:-20]
    feeds.docs["/bad"] = Doc(broken)
    _source(db, clock, volta, feeds.url("/bad"))
    outcome = _poll(db, pipeline, clock)
    assert outcome.status == "ok"
    assert outcome.counts["imported"] == 2
    assert any(p["where"] == "feed" and "malformed XML" in p["reason"] for p in outcome.problems)


def test_an_entity_bomb_is_not_expanded(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]>'
        '<rss version="2.0"><channel><title>t</title>'
        + item("x1", "Volta &lol9;", "boom")
        + item("x2", "Volta", "calme")
        + "</channel></rss>"
    ).encode()
    feeds.docs["/bomb"] = Doc(bomb)
    _source(db, clock, volta, feeds.url("/bomb"))
    started = time.monotonic()
    outcome = _poll(db, pipeline, clock)
    assert time.monotonic() - started < 10
    assert outcome.status == "ok", outcome.error
    assert any("entity declarations removed" in p["reason"] for p in outcome.problems)
    assert "x2" in mention_ids(db), "the other entries are kept"
    with session_scope(db.factory) as session:
        longest = max(len(t) for t in session.scalars(select(Mention.text)))
    assert longest < 200, "nothing expanded"


def test_a_wrongly_declared_encoding_is_read(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    latin = rss(item("w1", "Volta café", "très bon")).decode().encode("latin-1")
    feeds.docs["/latin"] = Doc(latin, content_type="application/rss+xml; charset=utf-8")
    _source(db, clock, volta, feeds.url("/latin"))
    outcome = _poll(db, pipeline, clock)
    assert outcome.counts["imported"] == 1, outcome
    assert "café" in _text(db, "w1")


def test_a_50_mb_feed_is_stopped_by_the_size_limit(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    feeds.docs["/huge"] = Doc(b"", stream_bytes=50 * 2**20)
    source_id = _source(db, clock, volta, feeds.url("/huge"), options={"max_bytes": 2**20})
    outcome = _poll(db, pipeline, clock)
    assert outcome.status == "failed"
    row = source_row(db, source_id)
    assert row.last_error is not None
    assert "larger than 1048576 bytes" in row.last_error
    assert feeds.url("/huge") in row.last_error
    assert row.consecutive_failures == 1
    assert mention_count(db) == 0


def test_loopback_is_refused_by_default_naming_the_address_and_the_setting(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    feeds.docs["/feed"] = Doc(rss(item("s1", "Volta", "x")))
    source_id = _source(db, clock, volta, feeds.url("/feed"))
    outcome = _poll(db, pipeline, clock, settings=Settings(allow_private_fetch=False))
    assert outcome.status == "failed"
    error = source_row(db, source_id).last_error or ""
    assert "127.0.0.1" in error
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH" in error
    assert feeds.hits == [], "nothing was sent"


def test_a_429_with_retry_after_is_honoured(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    feeds.docs["/busy"] = Doc(b"slow down", status=429, headers={"Retry-After": "600"})
    source_id = _source(db, clock, volta, feeds.url("/busy"), interval_seconds=60)
    outcome = _poll(db, pipeline, clock)
    assert outcome.status == "failed"
    row = source_row(db, source_id)
    assert row.retry_after_until == clock.now() + timedelta(seconds=600)
    polling = poller(db, pipeline, clock, settings=OPEN)
    clock.advance(timedelta(seconds=599))
    assert polling.poll_due() == []
    clock.advance(timedelta(seconds=1))
    feeds.docs["/busy"] = Doc(rss(item("ok1", "Volta", "x")))
    [back] = polling.poll_due()
    assert back.counts["imported"] == 1


def test_a_page_that_is_not_a_feed_fails_clearly(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    feeds.docs["/page"] = Doc(b"<html><body><p>Volta</p", content_type="text/html")
    _source(db, clock, volta, feeds.url("/page"))
    outcome = _poll(db, pipeline, clock)
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert "not a readable RSS or Atom feed" in outcome.error


def test_an_entry_without_id_nor_link_is_a_problem(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    orphan = "<item><title>Volta orphelin</title><description>x</description></item>"
    feeds.docs["/feed"] = Doc(rss(orphan, item("k1", "Volta", "x")))
    _source(db, clock, volta, feeds.url("/feed"))
    outcome = _poll(db, pipeline, clock)
    assert outcome.counts["imported"] == 1
    assert outcome.problems == [
        {"where": "entry 1", "reason": "no id nor link: cannot tell it from other entries"}
    ]


def test_a_crash_before_the_commit_refetches_and_stores_once(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    feeds.docs["/feed"] = Doc(rss(item("c1", "Volta", "x"), item("c2", "Volta", "y")), etag='"1"')
    source_id = _source(db, clock, volta, feeds.url("/feed"))

    def crash() -> None:
        raise RuntimeError("power cut")

    assert _poll(db, pipeline, clock, before_commit=crash).status == "failed"
    assert source_row(db, source_id).cursor is None
    assert mention_count(db) == 0
    retry = _poll(db, pipeline, clock)
    assert retry.counts["imported"] == 2
    assert feeds.gets("/feed", 200) == 2, "the old cursor (no ETag) fetched it in full again"
    assert _poll(db, pipeline, clock).counts == dict.fromkeys(retry.counts, 0)
    assert mention_ids(db) == ["c1", "c2"]


def test_racing_pollers_fetch_a_feed_once(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    feeds.docs["/feed"] = Doc(rss(item("r1", "Volta", "x")))
    _source(db, clock, volta, feeds.url("/feed"))
    pollers: list[Poller] = [poller(db, pipeline, clock, settings=OPEN) for _ in range(3)]
    barrier = threading.Barrier(len(pollers))
    done: list[PollOutcome] = []

    def run(mine: Poller) -> None:
        barrier.wait()
        done.extend(mine.poll_due())

    threads = [threading.Thread(target=run, args=(p,)) for p in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(done) == 1
    assert feeds.gets("/feed") == 1
    assert mention_count(db) == 1


def test_a_feed_url_must_be_http(db: Database, clock: FrozenClock, volta: int) -> None:
    with session_scope(db.factory) as session, pytest.raises(InvalidInputError, match="url"):
        add_source(session, clock, tenant_id=volta, kind="rss", url="file:///etc/passwd")
    with session_scope(db.factory) as session, pytest.raises(InvalidInputError, match="--url"):
        add_source(session, clock, tenant_id=volta, kind="rss")


def test_show_counts_the_seen_entries_instead_of_listing_them(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, feeds: FeedServer
) -> None:
    from clameur.sources.service import describe, get_source

    feeds.docs["/long"] = Doc(rss(*(item(f"n{i}", f"Volta {i}", "x") for i in range(30))))
    source_id = _source(db, clock, volta, feeds.url("/long"))
    assert _poll(db, pipeline, clock).counts["imported"] == 30
    with session_scope(db.factory) as session:
        shown = describe(session, get_source(session, source_id), clock.now())
    assert shown["cursor"]["seen"] == {"count": 30}
    assert shown["health"]["items_last_hour"] == 30
    assert shown["health"]["items_last_24h"] == 30
    assert shown["health"]["last_poll"]["imported"] == 30
