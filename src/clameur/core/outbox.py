"""Side effects after commit: enqueue in the transaction, deliver from the relay.

A rollback discards the event with the data that caused it, so nothing is ever sent for
work that did not happen. The relay delivers each due event through the handler of its
kind, retries with exponential backoff, and gives up (``dead``) after ``max_attempts``.

Several relays may run at once (any number of workers, SQLite or PostgreSQL). They share
the work through *leases*, without a lock held across network calls:

1. **claim**: one short transaction takes a batch of due events (PostgreSQL: ``FOR UPDATE
   SKIP LOCKED``, so two relays never wait for nor take the same rows) and, for each, counts
   the attempt and moves ``available_at`` to ``now + lease``; commit. The attempt number is
   the lease token.
2. **deliver**, one event at a time: renew the lease (only while the token is still ours),
   call the handler outside any transaction, then record ``sent`` or the retry, again only
   while the token is ours.

A relay that dies mid-batch leaves its events with a lease that expires; another relay then
claims them (a new attempt, a new token). Delivery is therefore at-least-once: an event is
sent twice only if a relay dies (or loses the database) between a successful handler call
and the commit that records it. Handlers receive the event id (``_event_id``) so receivers
can drop such duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, case, select, update
from sqlalchemy.orm import Session, sessionmaker

from clameur.clock import Clock
from clameur.core import metrics, trace
from clameur.core.models import OutboxEvent
from clameur.db.engine import session_scope
from clameur.errors import DeliverySkipped

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]
"""Delivers one event. It receives a copy of the payload with ``_event_id`` (int, stable
across retries: an idempotency key) and ``_created_at`` (ISO 8601) added; raising means
"retry later"."""

LEASE = timedelta(minutes=5)
"""How long a claimed event is reserved for its relay. Longer than any handler's timeout."""


def enqueue(
    session: Session, clock: Clock, kind: str, payload: dict[str, Any], tenant_id: int | None
) -> OutboxEvent:
    now = clock.now()
    trace_id = trace.current_id()
    if trace_id is not None and trace.KEY not in payload:
        payload = {**payload, trace.KEY: trace_id}  # the relay's lines carry it on
    event = OutboxEvent(
        tenant_id=tenant_id,
        kind=kind,
        payload=payload,
        status="pending",
        attempts=0,
        available_at=now,
        created_at=now,
    )
    session.add(event)
    return event


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    """The lease token: the relay owns the event while ``attempts`` equals it."""
    created_at: datetime


def relay(
    factory: sessionmaker[Session],
    clock: Clock,
    handlers: Mapping[str, Handler],
    *,
    limit: int = 100,
    max_attempts: int = 6,
    base_delay: timedelta = timedelta(seconds=2),
    lease: timedelta = LEASE,
    stopping: Callable[[], bool] | None = None,
) -> int:
    """Deliver due events once; returns how many were delivered.

    ``stopping`` is asked before each event: once it answers True (the process is shutting
    down) the events claimed but not tried yet are released at once, instead of waiting for
    their lease to expire, and the call returns.
    """
    with session_scope(factory) as session:
        _bury_abandoned(session, clock, max_attempts)
        claimed = _claim(session, clock, limit, max_attempts, lease)
    delivered = 0
    for index, event in enumerate(claimed):
        if stopping is not None and stopping():
            _release(factory, clock, claimed[index:])
            break
        if _deliver(factory, clock, handlers, event, max_attempts, base_delay, lease):
            delivered += 1
    return delivered


def _release(factory: sessionmaker[Session], clock: Clock, events: list[_Claimed]) -> None:
    """Give back claimed events never tried: due now, the attempt not counted."""
    tokens = {event.id: event.attempt for event in events}
    with session_scope(factory) as session:
        result = session.execute(
            update(OutboxEvent)
            .where(
                OutboxEvent.id.in_(tokens),
                OutboxEvent.status == "pending",
                OutboxEvent.attempts == case(tokens, value=OutboxEvent.id),  # still our lease
            )
            .values(attempts=OutboxEvent.attempts - 1, available_at=clock.now())
            .execution_options(synchronize_session=False)
        )
    log.info("outbox leases released", extra={"count": _rowcount(result)})


def _bury_abandoned(session: Session, clock: Clock, max_attempts: int) -> None:
    """Events whose last allowed attempt never reported back (its relay died) are dead."""
    result = session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.status == "pending",
            OutboxEvent.available_at <= clock.now(),
            OutboxEvent.attempts >= max_attempts,
        )
        .values(status="dead", last_error="lease expired: the relay stopped during the last try")
        .execution_options(synchronize_session=False)
    )
    if count := _rowcount(result):
        log.error("outbox events dead after an abandoned attempt", extra={"count": count})


def _claim(
    session: Session, clock: Clock, limit: int, max_attempts: int, lease: timedelta
) -> list[_Claimed]:
    now = clock.now()
    # Two statements, not ``UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)``:
    # PostgreSQL may re-run such a subquery for each row and then claims far more than n.
    ids = session.scalars(
        select(OutboxEvent.id)
        .where(OutboxEvent.status == "pending", OutboxEvent.available_at <= now)
        .order_by(OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # ignored by SQLite, whose writers take turns
    ).all()
    if not ids:
        return []
    rows = session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id.in_(ids),
            # re-checked on the row itself: a relay that raced us to it makes this false
            OutboxEvent.status == "pending",
            OutboxEvent.available_at <= now,
            OutboxEvent.attempts < max_attempts,
        )
        .values(attempts=OutboxEvent.attempts + 1, available_at=now + lease)
        .returning(
            OutboxEvent.id,
            OutboxEvent.kind,
            OutboxEvent.payload,
            OutboxEvent.attempts,
            OutboxEvent.created_at,
        )
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((_Claimed(*row) for row in rows), key=lambda e: e.id)


def _deliver(
    factory: sessionmaker[Session],
    clock: Clock,
    handlers: Mapping[str, Handler],
    event: _Claimed,
    max_attempts: int,
    base_delay: timedelta,
    lease: timedelta,
) -> bool:
    """Deliver one claimed event and record the outcome; False if it failed or was lost."""
    with session_scope(factory) as session:  # the batch before us may have taken a while
        if not _owned(session, event, available_at=clock.now() + lease):
            log.warning("outbox lease lost before delivery", extra={"event": event.id})
            return False
    error: str | None = None
    skipped: str | None = None
    try:
        handler = handlers.get(event.kind)
        if handler is None:
            raise LookupError(f"no handler for outbox events of kind {event.kind!r}")
        carried = event.payload.get(trace.KEY)
        with trace.use(trace.start("outbox", trace_id=carried) if carried else None):
            handler(
                {
                    **event.payload,
                    "_event_id": event.id,
                    "_created_at": event.created_at.isoformat(),
                }
            )
    except DeliverySkipped as exc:  # the channel is off: recorded once, never retried
        skipped = str(exc)[:2000]
    except Exception as exc:  # noqa: BLE001 - any failure is retried, then recorded
        error = f"{type(exc).__name__}: {exc}"[:2000]
    now = clock.now()
    with session_scope(factory) as session:
        if skipped is not None:
            outcome: dict[str, Any] = {"status": "skipped", "last_error": skipped}
        elif error is None:
            outcome = {"status": "sent", "sent_at": now, "last_error": None}
        elif event.attempt >= max_attempts:
            outcome = {"status": "dead", "last_error": error}
        else:
            backoff = base_delay * 2 ** (event.attempt - 1)
            outcome = {"available_at": now + backoff, "last_error": error}
        if not _owned(session, event, **outcome):
            log.warning("outbox lease lost during delivery", extra={"event": event.id})
            return False
    result = "skipped" if skipped else "sent" if error is None else outcome.get("status", "retry")
    metrics.DELIVERIES.labels(event.kind, result).inc()
    if skipped is not None:  # said once per kind and process: the channel stays off
        level = logging.DEBUG if event.kind in _SKIPPED_KINDS else logging.INFO
        _SKIPPED_KINDS.add(event.kind)
        extra = {"event": event.id, "kind": event.kind, "reason": skipped}
        log.log(level, "outbox delivery skipped", extra=extra)
    if error is not None:
        level = logging.ERROR if outcome.get("status") == "dead" else logging.WARNING
        log.log(
            level,
            "outbox delivery failed",
            extra={
                "event": event.id,
                "kind": event.kind,
                "attempt": event.attempt,
                "error": error,
                **({trace.KEY: event.payload[trace.KEY]} if trace.KEY in event.payload else {}),
            },
        )
    return error is None and skipped is None


_SKIPPED_KINDS: set[str] = set()
"""Kinds whose skipped deliveries were logged at INFO by this process."""


def _owned(session: Session, event: _Claimed, **values: Any) -> bool:
    """Update the event only while this relay's lease token is still current."""
    result = session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id == event.id,
            OutboxEvent.status == "pending",
            OutboxEvent.attempts == event.attempt,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
