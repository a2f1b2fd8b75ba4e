"""SLA clocks on the pipeline's hot path: a batch's customer messages, without ORM objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from clameur.care.models import Conversation
from clameur.care.sla import Clocked, check_found, clocks_after_messages
from clameur.db.bulk import update_by_id


@dataclass
class _Row:
    id: int
    status: str
    source: str
    priority_level: str | None
    opened_at: datetime
    first_response_at: datetime | None
    last_agent_at: datetime | None
    last_customer_at: datetime | None
    sla: dict[str, Any]


def record_customer_messages(
    session: Session, tenant_id: int, messages: Sequence[tuple[int, datetime]]
) -> None:
    """``sla.on_customer_messages`` for the pipeline: the same clocks, read as plain rows
    and written back with one ``executemany`` (``bulk.update_by_id``), no ORM objects.
    A conversation this session holds as an ORM object (one the threading woke from a
    snooze) has the two columns expired, so that it reads them back as written."""
    if not messages:
        return
    ids = sorted({conversation_id for conversation_id, _ in messages})
    c = Conversation
    stmt = select(
        c.id,
        c.status,
        c.source,
        c.priority_level,
        c.opened_at,
        c.first_response_at,
        c.last_agent_at,
        c.last_customer_at,
        c.sla,
    ).where(c.tenant_id == tenant_id, c.id.in_(ids))
    found: dict[int, Clocked] = {r.id: _Row(*r) for r in session.execute(stmt)}
    check_found(ids, found)
    moved, states = clocks_after_messages(session, tenant_id, found, messages)
    rows: list[dict[str, Any]] = []
    for i in ids:
        row: dict[str, Any] = {"id": i}
        if i in moved:
            row["last_customer_at"] = found[i].last_customer_at
        if i in states:
            row["sla"] = states[i]
        if len(row) > 1:
            rows.append(row)
    update_by_id(session, cast(Table, Conversation.__table__), rows)
    written = {row["id"] for row in rows}
    for held in list(session.identity_map.values()):
        if isinstance(held, Conversation) and held.id in written:
            session.expire(held, ["last_customer_at", "sla"])
