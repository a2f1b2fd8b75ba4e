"""Side effects after commit: enqueue in the transaction, deliver from the relay.

A rollback discards the event with the data that caused it, so nothing is ever sent for
work that did not happen. The relay delivers each due event through the handler of its
kind, retries with exponential backoff, and gives up (``dead``) after ``max_attempts``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clameur.clock import Clock
from clameur.db.engine import session_scope
from clameur.pipeline.models import OutboxEvent

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]


def enqueue(
    session: Session, clock: Clock, kind: str, payload: dict[str, Any], tenant_id: int | None
) -> OutboxEvent:
    now = clock.now()
    event = OutboxEvent(
        tenant_id=tenant_id, kind=kind, payload=payload, status="pending", attempts=0,
        available_at=now, created_at=now,
    )  # fmt: skip
    session.add(event)
    return event


def relay(
    factory: sessionmaker[Session],
    clock: Clock,
    handlers: Mapping[str, Handler],
    *,
    limit: int = 100,
    max_attempts: int = 6,
    base_delay: timedelta = timedelta(seconds=2),
) -> int:
    """Deliver due events once; returns how many were delivered."""
    delivered = 0
    with session_scope(factory) as session:
        due = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.status == "pending", OutboxEvent.available_at <= clock.now())
            .order_by(OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # several relays never take the same event
        ).all()
        for event in due:
            handler = handlers.get(event.kind)
            event.attempts += 1
            try:
                if handler is None:
                    raise LookupError(f"no handler for outbox events of kind {event.kind!r}")
                handler(event.payload)
            except Exception as exc:  # noqa: BLE001 - any failure is retried, then recorded
                event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if event.attempts >= max_attempts:
                    event.status = "dead"
                    log.error("outbox event dead", extra={"event": event.id, "kind": event.kind})
                else:
                    event.available_at = clock.now() + base_delay * 2 ** (event.attempts - 1)
                continue
            event.status = "sent"
            event.sent_at = clock.now()
            delivered += 1
            session.commit()  # one delivered event is never delivered again
    return delivered
