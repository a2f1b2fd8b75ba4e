"""The demo's live forum feed: an Atom feed on loopback with a new post every two minutes,
polled by the demo tenant's RSS source through the real connector and pipeline, so new
posts about Volta's brands reach the archive (and the inbox) while the demo runs."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.demo.feed import (
    EVERY,
    FEED_SOURCE,
    KEPT,
    WEBHOOK_SOURCE,
    ensure_demo_sources,
    running_feed,
)
from clameur.demo.load import ensure_demo_tenants
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.sources.models import Source
from clameur.tenancy.models import MentionBrand
from tests.conftest import Database
from tests.sources.helpers import poller


def test_the_feed_grows_and_its_posts_reach_the_archive(
    db: Database, pipeline: Pipeline, clock: FrozenClock
) -> None:
    ensure_demo_tenants(pipeline)
    open_fetch = Settings(database_url=db.url, allow_private_fetch=True)
    with running_feed(clock) as (feed, url):
        first = httpx.get(url)
        assert first.status_code == 200
        assert first.text.count("<entry>") == KEPT
        again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, "unchanged until the next post"
        ensure_demo_sources(db.factory, clock, url)
        ensure_demo_sources(db.factory, clock, url)  # idempotent
        with session_scope(db.factory) as session:
            names = sorted(session.scalars(select(Source.name)))
        assert names == sorted([FEED_SOURCE, WEBHOOK_SOURCE])
        [outcome] = poller(db, pipeline, clock, settings=open_fetch).poll_due(force=True)
        assert outcome.status == "ok", outcome.error
        kept = outcome.counts["imported"]
        assert kept > 0, "posts about the demo brands are kept"
        assert kept + outcome.counts["unmatched"] == KEPT
        clock.advance(EVERY)
        assert feed.posts(clock.now())[0].slot == feed.posts(clock.now() - EVERY)[0].slot + 1
        [later] = poller(db, pipeline, clock, settings=open_fetch).poll_due(force=True)
    assert later.counts["imported"] + later.counts["unmatched"] == 1, "one new post"
    assert later.counts["unchanged"] == 0, "seen posts are skipped by the connector"
    with session_scope(db.factory) as session:
        stored = session.scalar(select(func.count()).select_from(Mention))
        linked = session.scalar(select(func.count(func.distinct(MentionBrand.mention_id))))
    assert stored == linked == kept + later.counts["imported"], "only matched posts are kept"


def test_a_new_run_points_the_source_at_its_new_port(
    db: Database, pipeline: Pipeline, clock: FrozenClock
) -> None:
    ensure_demo_tenants(pipeline)
    ensure_demo_sources(db.factory, clock, "http://127.0.0.1:1111/forum.atom")
    with session_scope(db.factory) as session:
        forum = session.scalars(select(Source).where(Source.name == FEED_SOURCE)).one()
        forum.enabled = False
    clock.advance(timedelta(hours=1))
    ensure_demo_sources(db.factory, clock, "http://127.0.0.1:2222/forum.atom")
    with session_scope(db.factory) as session:
        forum = session.scalars(select(Source).where(Source.name == FEED_SOURCE)).one()
        assert forum.url == "http://127.0.0.1:2222/forum.atom"
        assert forum.enabled
        assert forum.next_run_at == clock.now()
