"""Back-office handover: required fields, holder and since when, agreed due time, hand back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from clameur.care.handover import escalate, hand_back, holder
from clameur.care.models import ConversationEvent
from clameur.care.routing import assign_next
from clameur.care.teams import add_member, add_team
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import ForbiddenError, InvalidInputError, NotFoundError
from clameur.tenancy.models import AuditEntry
from tests.care.test_routing import front_desk, make_agents, make_conversation
from tests.conftest import Database
from tests.factories import acting, lead, member


def test_escalation_to_back_office_and_hand_back(db: Database, clock: FrozenClock) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        (ann,) = make_agents(session, clock, tenant_id, team_id, ["ann"])
        billing = add_team(
            session,
            clock,
            lead(session, clock, tenant_id),
            "Billing",
            kind="back_office",
            sla_minutes=240,
            required_fields=["invoice_number", "amount"],
        )
        bo_agent = member(session, clock, "bill@bpo.example", tenant_id, "agent")
        add_member(session, clock, lead(session, clock, tenant_id), billing.id, bo_agent.id)
        conversation = make_conversation(session, tenant_id, "a", queue_id=queue_id)
        assign_next(session, clock, tenant_id, queue_id)
        assigned_at = clock.now()
        before = holder(session, conversation)
        assert (before.back_office, before.team_id, before.assignee_id) == (False, None, ann)
        assert before.since == assigned_at

        clock.advance(timedelta(minutes=30))
        with pytest.raises(InvalidInputError, match="invoice_number, amount") as missing:
            escalate(
                session, clock, acting(session, ann, tenant_id), conversation.id, billing.id, {}
            )
        assert missing.value.where == "fields"
        with pytest.raises(InvalidInputError, match="requires amount"):
            escalate(
                session,
                clock,
                acting(session, ann, tenant_id),
                conversation.id,
                billing.id,
                {"invoice_number": "F-2030-118", "amount": "  "},
            )
        with pytest.raises(InvalidInputError, match="not a back-office team"):
            escalate(session, clock, acting(session, ann, tenant_id), conversation.id, team_id, {})
        assert conversation.status == "open"

        fields = {"Invoice_Number": " F-2030-118 ", "amount": 49.9, "comment": "charged twice"}
        escalate(
            session, clock, acting(session, ann, tenant_id), conversation.id, billing.id, fields
        )
        escalated_at = clock.now()
        assert conversation.status == "escalated"
        assert conversation.holder_team_id == billing.id
        assert conversation.held_since == escalated_at
        assert conversation.assignee_id == ann  # the front office keeps the customer informed
        held = holder(session, conversation)
        assert (held.back_office, held.team_name, held.since) == (True, "Billing", escalated_at)
        assert held.due_at == escalated_at + timedelta(minutes=240)
        assert held.assignee_id == ann
        with pytest.raises(InvalidInputError, match="already held by team 'Billing'"):
            escalate(
                session,
                clock,
                acting(session, ann, tenant_id),
                conversation.id,
                billing.id,
                {"invoice_number": "x", "amount": 1},
            )

        clock.advance(timedelta(hours=2))
        with pytest.raises(ForbiddenError, match="not in team 'Billing'"):
            hand_back(session, clock, acting(session, ann, tenant_id), conversation.id, "done")
        with pytest.raises(InvalidInputError, match="note"):
            hand_back(
                session, clock, acting(session, bo_agent.id, tenant_id), conversation.id, "  "
            )
        hand_back(
            session,
            clock,
            acting(session, bo_agent.id, tenant_id),
            conversation.id,
            "Refunded the duplicate charge (ref R-77).",
        )
        assert conversation.status == "open"
        assert (conversation.holder_team_id, conversation.held_since) == (None, None)
        after = holder(session, conversation)
        assert (after.back_office, after.assignee_id, after.since) == (False, ann, assigned_at)
        with pytest.raises(InvalidInputError, match="not held"):
            hand_back(
                session, clock, acting(session, bo_agent.id, tenant_id), conversation.id, "again"
            )

        timeline = session.scalars(
            select(ConversationEvent)
            .where(ConversationEvent.conversation_id == conversation.id)
            .order_by(ConversationEvent.id)
        ).all()
        assert [e.kind for e in timeline] == ["assign", "escalate", "handback"]
        escalation, handback = timeline[1], timeline[2]
        assert escalation.actor_id == ann
        assert escalation.data["fields"] == {
            "invoice_number": "F-2030-118",
            "amount": 49.9,
            "comment": "charged twice",
        }
        assert escalation.data["due_at"] == (escalated_at + timedelta(minutes=240)).isoformat()
        assert handback.actor_id == bo_agent.id
        assert handback.data["note"] == "Refunded the duplicate charge (ref R-77)."
        assert handback.data["held_seconds"] == 7200
        assert handback.data["late"] is False
        actions = session.scalars(
            select(AuditEntry.action)
            .where(
                AuditEntry.object_id == conversation.id, AuditEntry.object_type == "conversation"
            )
            .order_by(AuditEntry.id)
        ).all()
        assert actions == ["conversation.assign", "conversation.escalate", "conversation.handback"]


def test_a_late_hand_back_is_marked_and_a_supervisor_may_do_it(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        (ann,) = make_agents(session, clock, tenant_id, team_id, ["ann"])
        legal = add_team(
            session,
            clock,
            lead(session, clock, tenant_id),
            "Legal",
            kind="back_office",
            sla_minutes=60,
        )
        supervisor = member(session, clock, "sup@bpo.example", tenant_id, "supervisor")
        conversation = make_conversation(
            session, tenant_id, "a", queue_id=queue_id, status="waiting"
        )
        escalate(session, clock, acting(session, ann, tenant_id), conversation.id, legal.id, {})
        clock.advance(timedelta(minutes=61))
        hand_back(
            session,
            clock,
            acting(session, supervisor.id, tenant_id),
            conversation.id,
            "No legal risk.",
        )
        event = session.scalars(
            select(ConversationEvent).where(ConversationEvent.kind == "handback")
        ).one()
        assert event.data["late"] is True
        assert conversation.status == "open"


def test_escalation_is_refused_to_viewers_closed_conversations_and_other_tenants(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    other_id, _, _ = front_desk(db, clock, "other")
    with session_scope(db.factory) as session:
        (ann,) = make_agents(session, clock, tenant_id, team_id, ["ann"])
        legal = add_team(
            session,
            clock,
            lead(session, clock, tenant_id),
            "Legal",
            kind="back_office",
            sla_minutes=60,
        )
        their_legal = add_team(
            session,
            clock,
            lead(session, clock, other_id),
            "Legal",
            kind="back_office",
            sla_minutes=60,
        )
        viewer = member(session, clock, "v@acme.example", tenant_id, "viewer")
        mine = make_conversation(session, tenant_id, "a", queue_id=queue_id)
        closed = make_conversation(session, tenant_id, "b", status="closed")
        theirs = make_conversation(session, other_id, "c")
        with pytest.raises(ForbiddenError, match="viewer may not do handover.act"):
            escalate(session, clock, acting(session, viewer.id, tenant_id), mine.id, legal.id, {})
        with pytest.raises(InvalidInputError, match="closed"):
            escalate(session, clock, acting(session, ann, tenant_id), closed.id, legal.id, {})
        with pytest.raises(NotFoundError):
            escalate(session, clock, acting(session, ann, tenant_id), theirs.id, legal.id, {})
        with pytest.raises(NotFoundError):
            escalate(session, clock, acting(session, ann, tenant_id), mine.id, their_legal.id, {})
        with pytest.raises(InvalidInputError, match="number"):
            escalate(
                session, clock, acting(session, ann, tenant_id), mine.id, legal.id, {"x": ["a"]}
            )
        assert mine.status == "open"
        assert theirs.status == "open"
