"""The demo's live forum: an Atom feed on loopback whose posts keep coming, polled by an RSS
source of the demo tenant, so that `make demo` shows listening at work — a new post every
two minutes reaches the inbox through the connector, the pipeline and the matcher.

The posts are the demo generator's (deterministic); post *n* belongs to the *n*-th
two-minute slot since the epoch, so the feed is the same whoever asks and a restarted demo
does not repeat itself. Only posts up to now are served, the newest twenty.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clameur.clock import Clock
from clameur.db import session_scope
from clameur.demo.generator import DEFAULT_START, DEMO_TENANTS, generate_mentions
from clameur.sources.service import add_source, list_sources, set_enabled
from clameur.tenancy.models import Tenant

FEED_PATH: Final = "/forum.atom"
EVERY: Final = timedelta(minutes=2)
KEPT: Final = 20
POOL: Final = 240
"""Different posts before the feed comes round again (eight hours)."""
FEED_SOURCE: Final = "Forum Volta (démo)"
WEBHOOK_SOURCE: Final = "Outil CRM (webhook, démo)"


@dataclass(frozen=True)
class FeedPost:
    slot: int
    at: datetime
    author: str
    text: str

    @property
    def entry_id(self) -> str:
        return f"tag:forum.volta.example,2026:post-{self.slot}"


def _pool(seed: int) -> list[tuple[str, str]]:
    """(author, text) of the demo tenant's generated forum-like posts."""
    volta = DEMO_TENANTS[0]
    records = generate_mentions(count=POOL, seed=seed, start=DEFAULT_START, tenants=(volta,))
    return [(str(r["author"]["handle"]), str(r["text"])) for r in records]


@dataclass
class DemoFeed:
    """Serves the feed on 127.0.0.1 (a free port) until :meth:`stop`."""

    clock: Clock
    seed: int = 11
    _pool: list[tuple[str, str]] = field(default_factory=list, init=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False)

    def posts(self, now: datetime) -> list[FeedPost]:
        """The newest :data:`KEPT` posts up to ``now``, newest first."""
        if not self._pool:
            self._pool = _pool(self.seed)
        epoch = datetime(2026, 1, 1, tzinfo=UTC)
        last = int((now - epoch) / EVERY)
        out = []
        for slot in range(last, last - KEPT, -1):
            author, text = self._pool[slot % len(self._pool)]
            out.append(FeedPost(slot, epoch + slot * EVERY, author, text))
        return out

    def atom(self, now: datetime) -> bytes:
        posts = self.posts(now)
        entries = "".join(
            "<entry>"
            f"<id>{escape(p.entry_id)}</id>"
            f"<title>{escape(p.text[:80])}</title>"
            f"<author><name>{escape(p.author)}</name></author>"
            f"<published>{p.at.isoformat()}</published>"
            f"<updated>{p.at.isoformat()}</updated>"
            f'<link href="https://forum.volta.example/t/{p.slot}"/>'
            f'<content type="text">{escape(p.text)}</content>'
            "</entry>"
            for p in posts
        )
        updated = posts[0].at.isoformat()
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom">'
            "<id>tag:forum.volta.example,2026:feed</id>"
            "<title>Forum des clients Volta (démo)</title>"
            f"<updated>{updated}</updated>{entries}</feed>"
        ).encode()

    def start(self) -> str:
        """Start serving; returns the feed's URL."""
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server interface
                if self.path != FEED_PATH:
                    self.send_error(404)
                    return
                body = feed.atom(feed.clock.now())
                tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == tag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                self.send_header("ETag", tag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # the demo's terminal shows the URL and the accounts, not requests

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}{FEED_PATH}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def running_feed(clock: Clock) -> Iterator[tuple[DemoFeed, str]]:
    feed = DemoFeed(clock)
    url = feed.start()
    try:
        yield feed, url
    finally:
        feed.stop()


def ensure_demo_sources(factory: sessionmaker[Session], clock: Clock, feed_url: str) -> None:
    """The demo tenant's sources: the live forum's feed (pointed at this run's port, polled
    every minute) and a webhook source (pushed to, never polled). Idempotent."""
    with session_scope(factory) as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == DEMO_TENANTS[0].slug))
        if tenant_id is None:
            return
        by_name = {row.name: row for row in list_sources(session, tenant_id)}
        forum = by_name.get(FEED_SOURCE)
        if forum is None:
            add_source(
                session,
                clock,
                tenant_id=tenant_id,
                kind="rss",
                url=feed_url,
                name=FEED_SOURCE,
                interval_seconds=60,
                source="forum",
            )
        else:
            forum.url = feed_url  # a new port each run
            set_enabled(session, clock, forum.id, True, tenant_id=tenant_id)
            forum.next_run_at = clock.now()
        if WEBHOOK_SOURCE not in by_name:
            add_source(session, clock, tenant_id=tenant_id, kind="webhook", name=WEBHOOK_SOURCE)
