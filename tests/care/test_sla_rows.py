"""The pipeline's SLA path without ORM objects starts and runs the same clocks as the ORM one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from clameur.care.models import Conversation
from clameur.care.sla import on_customer_messages, set_policy
from clameur.care.sla_rows import record_customer_messages
from clameur.clock import FrozenClock
from clameur.db import session_scope
from tests.care.test_sla import make_conversation, utc
from tests.conftest import Database, make_tenant


def _clocks_after(db: Database, clock: FrozenClock, slug: str, bulk: bool) -> list[Any]:
    """A tenant's four conversations after one batch of customer messages: a new one, one
    an agent answered before the customer wrote again, one resolved, and one whose message
    is older than its last customer message."""
    tenant = make_tenant(db, clock, slug, {})
    with session_scope(db.factory) as session:
        set_policy(
            session,
            tenant.id,
            first_response_minutes=60,
            next_response_minutes=30,
            resolution_minutes=24 * 60,
        )
        fresh = make_conversation(session, tenant.id, "ana", utc(1, 7, 9))
        answered = make_conversation(
            session,
            tenant.id,
            "bob",
            utc(1, 7, 8),
            first_response_at=utc(1, 7, 8, 20),
            last_agent_at=utc(1, 7, 8, 20),
            last_customer_at=utc(1, 7, 8),
        )
        resolved = make_conversation(session, tenant.id, "cyd", utc(1, 7, 8), status="resolved")
        later = make_conversation(
            session, tenant.id, "dan", utc(1, 7, 8), last_customer_at=utc(1, 7, 12)
        )
        messages: list[tuple[int, datetime]] = [
            (fresh.id, utc(1, 7, 9)),
            (answered.id, utc(1, 7, 9, 5)),
            (fresh.id, utc(1, 7, 9, 30)),
            (resolved.id, utc(1, 7, 9, 10)),
            (later.id, utc(1, 7, 10)),
        ]
        ids = [fresh.id, answered.id, resolved.id, later.id]
        if bulk:
            record_customer_messages(session, tenant.id, messages)
        else:
            on_customer_messages(session, tenant.id, messages)
    with session_scope(db.factory) as session:
        rows = session.execute(
            select(Conversation.last_customer_at, Conversation.sla)
            .where(Conversation.id.in_(ids))
            .order_by(Conversation.id)
        ).all()
        return [tuple(row) for row in rows]


def test_bulk_clocks_equal_the_orm_clocks(db: Database, clock: FrozenClock) -> None:
    orm = _clocks_after(db, clock, "orm", bulk=False)
    bulk = _clocks_after(db, clock, "bulk", bulk=True)
    for o, b in zip(orm, bulk, strict=True):  # policy ids differ between the two tenants
        o[1].pop("policy_id", None)
        b[1].pop("policy_id", None)
    assert bulk == orm


def test_bulk_clocks_start_and_run(db: Database, clock: FrozenClock) -> None:
    (fresh_at, fresh), (answered_at, answered), (_, resolved), (later_at, _) = _clocks_after(
        db, clock, "acme", bulk=True
    )
    assert fresh_at == utc(1, 7, 9, 30)
    assert set(fresh["clocks"]) == {"first_response", "resolution"}
    assert answered["clocks"]["next_response"]["running_since"].startswith("2030-01-07T09:05")
    assert resolved == {}
    assert later_at == utc(1, 7, 12)
