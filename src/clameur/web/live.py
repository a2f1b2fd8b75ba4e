"""Live updates to open pages: Server-Sent Events fed by one poller per web process.

Whatever writes (this process, a ``clameur import`` in another one, a worker delivering a
reply) leaves rows behind: mentions, conversation events (status, assignment, notes, reply
sent or failed…), replies, alerts. Every :data:`POLL_SECONDS` one thread reads the
highest ids (and the alerts' latest update) once for all tenants; when they moved, it reads
what changed since — by primary-key range, so the cost does not grow with the tables — and
sends each subscribed page the events of its own tenant:

- ``inbox`` (data: the changed conversation ids) — lists refresh;
- ``conv-<id>`` — that conversation's page refreshes its thread;
- ``incident-<id>`` — a conversation of that incident changed (crisis mode);
- ``alerts`` and ``approvals`` — the alert list, the approvals view;
- ``presence-<id>`` — someone opened, left or typed in conversation ``id`` (in-process,
  from :meth:`LiveHub.notify`).

Pages subscribe with htmx's SSE extension (``sse-connect="/live"``, then
``hx-trigger="sse:inbox"`` on what refreshes). The stream ends after
:data:`STREAM_SECONDS`; the browser's EventSource reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from clameur.care.models import Conversation, ConversationEvent, Reply
from clameur.detection.models import Alert
from clameur.mentions.models import Mention

log = logging.getLogger(__name__)

POLL_SECONDS = 0.4
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 600.0
MAX_IDS = 500
"""Changed conversation ids sent with one ``inbox`` event (more: the page just refreshes)."""


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: str = ""

    def encode(self) -> bytes:
        lines = [f"event: {self.name}"]
        lines += [f"data: {line}" for line in (self.data or "").split("\n")]
        return ("\n".join(lines) + "\n\n").encode()


@dataclass
class _Subscriber:
    tenant_id: int
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))

    def put(self, event: Event) -> None:
        def deliver() -> None:
            if self.queue.full():  # a page that stopped reading: drop its oldest event
                self.queue.get_nowait()
            self.queue.put_nowait(event)

        with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
            self.loop.call_soon_threadsafe(deliver)


@dataclass(frozen=True, slots=True)
class Marks:
    mention: int
    event: int
    reply: int
    alert: datetime | None


class LiveHub:
    def __init__(self, factory: sessionmaker[Session], *, interval: float = POLL_SECONDS) -> None:
        self._factory = factory
        self._interval = interval
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._marks: Marks | None = None

    # -- subscriptions ------------------------------------------------------------------

    def subscribe(self, tenant_id: int) -> _Subscriber:
        subscriber = _Subscriber(tenant_id, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.append(subscriber)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="live-poll", daemon=True)
                self._thread.start()
        return subscriber

    def unsubscribe(self, subscriber: _Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def notify(self, tenant_id: int, name: str, data: Any = "") -> None:
        """Send one event to the tenant's pages now (thread-safe)."""
        text = data if isinstance(data, str) else json.dumps(data)
        self._send({tenant_id: [Event(name, text)]})

    def close(self) -> None:
        self._stop.set()

    def _send(self, events: dict[int, list[Event]]) -> None:
        with self._lock:
            targets = list(self._subscribers)
        for subscriber in targets:
            for event in events.get(subscriber.tenant_id, ()):
                subscriber.put(event)

    # -- the poller ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if not self._subscribers:
                    self._thread = None
                    return
            try:
                self.poll()
            except Exception:  # the database went away for a moment: try again next tick
                log.exception("live poll failed")

    def poll(self) -> dict[int, list[Event]]:
        """One round: read the marks, send what changed since the last round."""
        with self._factory() as session:
            marks = _marks(session)
            previous, self._marks = self._marks, marks
            if previous is None or previous == marks:
                return {}
            events = _changes(session, previous, marks)
        self._send(events)
        return events

    async def stream(self, tenant_id: int, disconnected: Any) -> AsyncIterator[bytes]:
        """The SSE body for one page: ``retry``, then events and keep-alives."""
        subscriber = self.subscribe(tenant_id)
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_SECONDS
        try:
            yield b"retry: 2000\n: connected\n\n"
            while loop.time() < ends and not self._stop.is_set():
                try:
                    event = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                yield event.encode()
        finally:
            self.unsubscribe(subscriber)


def _marks(session: Session) -> Marks:
    row = session.execute(
        select(
            select(func.max(Mention.id)).scalar_subquery(),
            select(func.max(ConversationEvent.id)).scalar_subquery(),
            select(func.max(Reply.id)).scalar_subquery(),
            select(func.max(Alert.updated_at)).scalar_subquery(),
        ).execution_options(all_tenants=True)
    ).one()
    return Marks(row[0] or 0, row[1] or 0, row[2] or 0, row[3])


def _changes(session: Session, before: Marks, after: Marks) -> dict[int, list[Event]]:
    """The events of each tenant between two marks (primary-key ranges only)."""
    changed: dict[int, set[int]] = {}
    replies: set[int] = set()
    ranges: Iterable[tuple[Any, Any, int, int]] = (
        (Mention.tenant_id, Mention.conversation_id, before.mention, after.mention),
        (
            ConversationEvent.tenant_id,
            ConversationEvent.conversation_id,
            before.event,
            after.event,
        ),
        (Reply.tenant_id, Reply.conversation_id, before.reply, after.reply),
    )
    for tenant_col, conversation_col, low, high in ranges:
        if high <= low:
            continue
        table = tenant_col.class_
        rows = session.execute(
            select(tenant_col, conversation_col)
            .where(table.id > low, table.id <= high)
            .distinct()
            .execution_options(all_tenants=True)
        )
        for tenant_id, conversation_id in rows:
            if conversation_id is not None:
                changed.setdefault(tenant_id, set()).add(conversation_id)
            if table is Reply or table is ConversationEvent:
                replies.add(tenant_id)
    events: dict[int, list[Event]] = {}
    incidents = _incidents(session, [c for ids in changed.values() for c in ids])
    for tenant_id, ids in changed.items():
        listed = sorted(ids)
        data = json.dumps(listed[:MAX_IDS]) if len(listed) <= MAX_IDS else "[]"
        out = events.setdefault(tenant_id, [Event("inbox", data)])
        out += [Event(f"conv-{c}", "") for c in listed[:MAX_IDS]]
        out += [
            Event(f"incident-{i}", "")
            for i in sorted({incidents[c] for c in listed if c in incidents})
        ]
    for tenant_id in replies:
        events.setdefault(tenant_id, []).append(Event("approvals", ""))
    if after.alert != before.alert and after.alert is not None:
        since = before.alert
        stmt = select(Alert.tenant_id).distinct().execution_options(all_tenants=True)
        if since is not None:
            stmt = stmt.where(Alert.updated_at > since)
        for (tenant_id,) in session.execute(stmt):
            events.setdefault(tenant_id, []).append(Event("alerts", ""))
    return events


def _incidents(session: Session, conversation_ids: list[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for start in range(0, len(conversation_ids), 500):
        chunk = conversation_ids[start : start + 500]
        rows = session.execute(
            select(Conversation.id, Conversation.incident_id)
            .where(Conversation.id.in_(chunk), Conversation.incident_id.is_not(None))
            .execution_options(all_tenants=True)
        )
        found.update({cid: iid for cid, iid in rows if iid is not None})
    return found
