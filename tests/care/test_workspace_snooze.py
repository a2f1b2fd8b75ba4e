"""Snooze and status reasons: a conversation put aside wakes up when its time comes or when
the customer writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care import conversations
from clameur.care.models import Conversation, ConversationEvent
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.errors import ForbiddenError, InvalidInputError, NotFoundError
from clameur.pipeline import Pipeline
from clameur.pipeline.worker import sweep_sla_all
from clameur.tenancy.models import AuditEntry
from tests.care.test_replies import OPENED, make_conversation, make_world
from tests.conftest import Database
from tests.factories import acting

AT = OPENED + timedelta(hours=1)


def _events(db: Database, conversation_id: int, kind: str) -> list[ConversationEvent]:
    with session_scope(db.factory) as session:
        return list(
            session.scalars(
                select(ConversationEvent)
                .where(
                    ConversationEvent.conversation_id == conversation_id,
                    ConversationEvent.kind == kind,
                )
                .order_by(ConversationEvent.id)
            )
        )


def _conversation(db: Database, conversation_id: int) -> Conversation:
    with session_scope(db.factory) as session:
        return session.get_one(Conversation, conversation_id)


def test_a_status_change_records_its_reason(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        conversation_id = make_conversation(session, world.tenant_id, "ana").id
        agent = acting(session, world.agent, world.tenant_id)
        conversations.set_status(
            session, agent, conversation_id, "resolved", at=AT, reason="  refund   sent \n"
        )
        conversations.set_status(session, agent, conversation_id, "open", at=AT)
        with pytest.raises(InvalidInputError, match="reason"):
            conversations.set_status(
                session, agent, conversation_id, "pending", at=AT, reason="x" * 501
            )
    first, second = _events(db, conversation_id, "status")
    assert first.data == {"from": "open", "to": "resolved", "reason": "refund sent"}
    assert "reason" not in second.data
    with session_scope(db.factory) as session:
        audited = session.scalars(
            select(AuditEntry.data).where(AuditEntry.action == "conversation.status")
        ).all()
    assert audited[0]["reason"] == "refund sent"


def test_a_snoozed_conversation_wakes_when_its_time_comes(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        early = make_conversation(session, world.tenant_id, "ana").id
        late = make_conversation(session, world.tenant_id, "bob").id
        agent = acting(session, world.agent, world.tenant_id)
        snoozed = conversations.snooze(
            session, agent, early, AT + timedelta(hours=2), at=AT, reason="courier tomorrow"
        )
        assert (snoozed.status, snoozed.snoozed_until) == ("pending", AT + timedelta(hours=2))
        conversations.snooze(session, agent, late, AT + timedelta(days=2), at=AT)
    (event,) = _events(db, early, "snooze")
    assert event.data["reason"] == "courier tomorrow"
    assert event.data["until"] == (AT + timedelta(hours=2)).isoformat()
    assert event.actor_id == world.agent

    with session_scope(db.factory) as session:
        assert conversations.wake_snoozed(session, AT + timedelta(hours=1)) == 0
    with session_scope(db.factory) as session:
        assert conversations.wake_snoozed(session, AT + timedelta(hours=2)) == 1
    with session_scope(db.factory) as session:
        assert conversations.wake_snoozed(session, AT + timedelta(hours=3)) == 0, "once"
    woken = _conversation(db, early)
    assert (woken.status, woken.snoozed_until) == ("open", None)
    (woke,) = _events(db, early, "woke")
    assert woke.data == {"by": "time", "until": (AT + timedelta(hours=2)).isoformat()}
    assert woke.actor_id is None
    assert _conversation(db, late).status == "pending"

    # the worker's SLA loop wakes them too
    worker_clock = FrozenClock(AT + timedelta(days=3))
    sweep_sla_all(db.factory, worker_clock)
    assert _conversation(db, late).status == "open"


def test_snooze_is_checked(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        open_id = make_conversation(session, world.tenant_id, "ana").id
        done_id = make_conversation(session, world.tenant_id, "bob", status="resolved").id
        agent = acting(session, world.agent, world.tenant_id)
        for until, match in (
            (AT, "after"),
            (AT - timedelta(minutes=1), "after"),
            (AT + timedelta(days=366), "within"),
            (datetime(2030, 1, 2, 9), "time zone"),  # noqa: DTZ001 - the naive one refused
        ):
            with pytest.raises(InvalidInputError, match=match):
                conversations.snooze(session, agent, open_id, until, at=AT)
        with pytest.raises(InvalidInputError, match="reopen it first"):
            conversations.snooze(session, agent, done_id, AT + timedelta(hours=1), at=AT)
        viewer = acting(session, world.viewer, world.tenant_id)
        with pytest.raises(ForbiddenError, match="conversations.act"):
            conversations.snooze(session, viewer, open_id, AT + timedelta(hours=1), at=AT)
    other = make_world(db, clock, "globex")
    with session_scope(db.factory) as session:
        stranger = acting(session, other.admin, other.tenant_id)
        with pytest.raises(NotFoundError):
            conversations.snooze(session, stranger, open_id, AT + timedelta(hours=1), at=AT)


def test_another_status_ends_the_snooze(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        conversation_id = make_conversation(session, world.tenant_id, "ana").id
        agent = acting(session, world.agent, world.tenant_id)
        conversations.snooze(session, agent, conversation_id, AT + timedelta(hours=1), at=AT)
        conversations.set_status(session, agent, conversation_id, "waiting", at=AT)
    assert _conversation(db, conversation_id).snoozed_until is None
    with session_scope(db.factory) as session:
        assert conversations.wake_snoozed(session, AT + timedelta(hours=2)) == 0
    assert _conversation(db, conversation_id).status == "waiting"


def _tweet(n: int, at: datetime, text: str) -> dict[str, Any]:
    return {
        "source": "twitter",
        "external_id": f"t{n}",
        "text": text,
        "created_at": at.isoformat(),
        "author": {"handle": "marie_l", "followers": 80},
    }


def test_the_customer_writing_wakes_a_snoozed_conversation(db: Database) -> None:
    wall = FrozenClock(datetime(2031, 1, 1, tzinfo=UTC))
    world = make_world(db, wall)
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=50), clock=wall)
    first = datetime(2030, 3, 6, 9, 0, tzinfo=UTC)
    pipeline.ingest([_tweet(1, first, "@volta my invoice is wrong, please help")], world.tenant_id)
    with session_scope(db.factory) as session:
        conversation_id = session.scalars(
            select(Conversation.id).where(Conversation.tenant_id == world.tenant_id)
        ).one()
        agent = acting(session, world.agent, world.tenant_id)
        conversations.snooze(
            session,
            agent,
            conversation_id,
            first + timedelta(days=2),
            at=first + timedelta(minutes=5),
        )
    follow_up = first + timedelta(hours=1)
    pipeline.ingest(
        [_tweet(2, follow_up, "@volta still waiting for an answer about my invoice")],
        world.tenant_id,
    )
    woken = _conversation(db, conversation_id)
    assert (woken.status, woken.snoozed_until, woken.mention_count) == ("open", None, 2)
    (event,) = _events(db, conversation_id, "woke")
    assert event.data["by"] == "customer"
    assert event.at == follow_up, "event time: when the customer wrote"
