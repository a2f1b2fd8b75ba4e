"""The living demo floor, on real SQLite and PostgreSQL: mentions of the week ending now,
teams, queues, SLA policies with business hours, agents at work, conversations in every
state, replies sent and waiting for approval, an incident's holding answer to approve, a
campaign the detector found — and a second run that adds nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clameur.care.calendars import Calendar
from clameur.care.models import (
    AgentState,
    BusinessCalendar,
    Conversation,
    ConversationEvent,
    Incident,
    Queue,
    Reply,
    SlaPolicy,
    Team,
    TeamMember,
)
from clameur.clock import FrozenClock
from clameur.core import OutboxEvent
from clameur.demo.floor import FloorSummary
from clameur.demo.load import LivingDemo, load_living_demo
from clameur.demo.staff import PLANS, POLICIES, QUEUES
from clameur.detection.models import Alert, AlertMention
from clameur.detection.triage import triage_of
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.tenancy import AuditEntry, Tenant, User, find_user
from tests.conftest import Database

COUNT = 300
PASSWORD = "floor-demo-password"
SLUGS = ("volta", "maisonlune")


def _living(pipeline: Pipeline, tmp_path: Path) -> LivingDemo:
    return load_living_demo(pipeline, tmp_path, count=COUNT, seed=7, password=PASSWORD)


def _tenant(session: Session, slug: str) -> Tenant:
    return session.scalars(select(Tenant).where(Tenant.slug == slug)).one()


def _names(session: Session, model: Any, tenant_id: int) -> set[str]:
    return set(session.scalars(select(model.name).where(model.tenant_id == tenant_id)))


def test_the_floor_is_alive(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    living = _living(pipeline, tmp_path)
    now = clock.now()
    assert living.imported is not None
    assert living.imported.imported == COUNT
    assert living.imported.rejected == 0
    with db.session() as session:
        newest = session.scalar(select(func.max(Mention.created_at)))
        assert newest is not None
        assert now - timedelta(minutes=15) <= newest <= now, "the data ends minutes ago"
        for slug in SLUGS:
            _check_tenant(session, slug, now)
        _check_incident(session, now)
        _check_campaign(session)
        pending = session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.kind == "care.reply", OutboxEvent.status != "sent")
        )
        assert pending == 0, "the relay ran: every queued reply's event is delivered"
    _check_summary(living.floor)


def _check_tenant(session: Session, slug: str, now: Any) -> None:
    tenant = _tenant(session, slug)
    plan = PLANS[slug]
    assert _names(session, Team, tenant.id) == {"Social media", "Service client", plan.back_office}
    back = session.scalars(
        select(Team).where(Team.tenant_id == tenant.id, Team.name == plan.back_office)
    ).one()
    assert back.kind == "back_office"
    assert back.settings["required_fields"] == list(plan.required_fields)
    assert _names(session, Queue, tenant.id) == {q.name for q in QUEUES}
    policies = session.scalars(select(SlaPolicy).where(SlaPolicy.tenant_id == tenant.id)).all()
    assert {(p.source, p.level) for p in policies} == {(p.source, p.level) for p in POLICIES}
    calendars = {
        c.name: Calendar.of(c)
        for c in session.scalars(
            select(BusinessCalendar).where(BusinessCalendar.tenant_id == tenant.id)
        )
    }
    assert calendars["Social 24/7"].always_open
    desk = calendars["Service client"]
    assert desk.timezone == "Europe/Paris"
    assert desk.country == "FR"
    email = next(p for p in policies if p.source == "email")
    assert email.first_response_minutes == 8 * 60
    assert email.calendar_id == session.scalar(
        select(BusinessCalendar.id).where(
            BusinessCalendar.tenant_id == tenant.id, BusinessCalendar.name == "Service client"
        )
    )
    twitter = next(p for p in policies if p.source == "twitter")
    assert twitter.first_response_minutes == 30

    statuses = dict(
        session.execute(
            select(Conversation.status, func.count())
            .where(Conversation.tenant_id == tenant.id)
            .group_by(Conversation.status)
        ).all()
    )
    for status in ("open", "pending", "waiting", "escalated", "resolved"):
        assert statuses.get(status, 0) >= 1, (slug, status, statuses)
    replies = dict(
        session.execute(
            select(Reply.status, func.count())
            .where(Reply.tenant_id == tenant.id)
            .group_by(Reply.status)
        ).all()
    )
    assert replies.get("sent", 0) >= 3, replies
    assert replies.get("pending_approval", 0) >= 1, replies
    assert replies.get("draft", 0) >= 1, replies
    assert "queued" not in replies, "published at the time they were sent"
    sent = session.scalars(
        select(Reply).where(Reply.tenant_id == tenant.id, Reply.status == "sent")
    ).all()
    assert all(r.sent_at is not None and r.created_at <= r.sent_at <= now for r in sent)
    answered = {r.conversation_id for r in sent}
    first = session.scalars(select(Conversation).where(Conversation.id.in_(answered))).all()
    assert all(c.first_response_at is not None for c in first)

    for spec in plan.agents:
        user = find_user(session, spec.email(slug))
        assert user is not None, spec.email(slug)
        held = session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.tenant_id == tenant.id, Conversation.assignee_id == user.id)
        )
        assert held, f"{spec.email(slug)} has conversations"
        state = session.get(AgentState, user.id)
        assert state is not None
        assert (state.presence, state.capacity) == (spec.presence, spec.capacity)
        assert state.skills == list(spec.skills)
        teams = set(
            session.scalars(
                select(Team.name)
                .join(TeamMember, TeamMember.team_id == Team.id)
                .where(TeamMember.user_id == user.id)
            )
        )
        assert teams == set(spec.teams)
        if spec.local != "agent":
            assert user.name == spec.name

    escalated = session.scalars(
        select(Conversation).where(
            Conversation.tenant_id == tenant.id, Conversation.status == "escalated"
        )
    ).all()
    assert all(c.holder_team_id == back.id for c in escalated)
    events = session.scalars(
        select(ConversationEvent).where(
            ConversationEvent.conversation_id.in_([c.id for c in escalated]),
            ConversationEvent.kind == "escalate",
        )
    ).all()
    assert len(events) == len(escalated)
    assert all(set(e.data["fields"]) == set(plan.required_fields) for e in events)
    notes = session.scalar(
        select(func.count())
        .select_from(ConversationEvent)
        .where(ConversationEvent.tenant_id == tenant.id, ConversationEvent.kind == "note")
    )
    assert notes, "agents leave notes"
    tagged = session.scalars(
        select(Conversation.tags).where(Conversation.tenant_id == tenant.id)
    ).all()
    assert any(plan.topic in tags for tags in tagged)
    actors = set(
        session.scalars(
            select(ConversationEvent.actor_id).where(
                ConversationEvent.tenant_id == tenant.id, ConversationEvent.kind == "status"
            )
        )
    )
    agents = {u.id for u in session.scalars(select(User)) if u.email.endswith(f"@{slug}.example")}
    assert actors, "agents set statuses"
    assert actors <= agents, "people act, with their own principal"
    waiting = session.scalars(
        select(Conversation).where(
            Conversation.tenant_id == tenant.id, Conversation.status.in_(("open", "waiting"))
        )
    ).all()
    assert all(c.last_activity_at <= now for c in waiting)


def _check_incident(session: Session, now: Any) -> None:
    volta = _tenant(session, "volta")
    incident = session.scalars(
        select(Incident).where(
            Incident.tenant_id == volta.id,
            Incident.status == "open",
            Incident.holding_answer.is_not(None),
            Incident.approved_by.is_(None),
        )
    ).first()
    assert incident is not None, "an incident's holding answer waits for approval"
    assert incident.holding_answer == PLANS["volta"].holding_answers[1]
    assert now - incident.opened_at < timedelta(hours=12), "the incident is current"
    bulk = session.scalar(
        select(func.count())
        .select_from(Reply)
        .where(Reply.incident_id == incident.id, Reply.status == "sent")
    )
    assert bulk, "the first holding answer, approved, went out to the incident's authors"


def _check_campaign(session: Session) -> None:
    campaigns = session.scalars(
        select(Alert).where(Alert.kind == "campaign", Alert.status == "open")
    ).all()
    assert campaigns, "the campaign detector raised the review burst"
    alert = campaigns[0]
    assert _tenant(session, "maisonlune").id == alert.tenant_id
    members = session.scalar(
        select(func.count()).select_from(AlertMention).where(AlertMention.alert_id == alert.id)
    )
    assert members is not None
    assert members >= 5
    assert triage_of(alert).get("acknowledged_by") == "supervisor@maisonlune.example"
    flagged = session.scalars(
        select(Conversation.flags).where(Conversation.tenant_id == alert.tenant_id)
    ).all()
    assert any("campaign" in flags for flags in flagged)


def _check_summary(floor: FloorSummary) -> None:
    volta = floor.tenant("volta")
    assert set(volta.teams) == {"Social media", "Service client", "Technical"}
    assert volta.policies == len(POLICIES)
    assert volta.incident is not None
    assert floor.tenant("maisonlune").campaign is not None
    for status in ("open", "pending", "waiting", "escalated", "resolved"):
        assert volta.statuses[status] >= 1
    assert [p for _, p, _ in volta.agents] == [a.presence for a in PLANS["volta"].agents]


def _counts(session: Session) -> dict[str, int]:
    models = (
        Mention,
        Conversation,
        ConversationEvent,
        Reply,
        Incident,
        Alert,
        Team,
        TeamMember,
        Queue,
        SlaPolicy,
        BusinessCalendar,
        AgentState,
        User,
        OutboxEvent,
        AuditEntry,
    )
    return {
        m.__tablename__: int(session.scalar(select(func.count()).select_from(m)) or 0)
        for m in models
    }


def test_running_the_demo_twice_adds_nothing(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    first = _living(pipeline, tmp_path)
    with db.session() as session:
        before = _counts(session)
        states = dict(session.execute(select(Conversation.id, Conversation.status)).all())
    clock.advance(timedelta(days=1))  # a day later: the data and the floor are kept
    again = load_living_demo(pipeline, tmp_path, count=COUNT, seed=7, password="other-pass-42")
    assert again.imported is None
    assert again.kept == COUNT
    with db.session() as session:
        assert _counts(session) == before
        assert dict(session.execute(select(Conversation.id, Conversation.status)).all()) == states
    assert again.floor == first.floor


def test_the_guide_names_an_account_per_role(
    db: Database, pipeline: Pipeline, tmp_path: Path
) -> None:
    living = _living(pipeline, tmp_path)
    guide = living.floor.guide(living.accounts).splitlines()
    assert len(guide) == 6
    wanted = {
        "agent:": "agent@volta.example",
        "supervisor:": "supervisor@volta.example",
        "client viewer:": "viewer@volta.example",
        "admin:": "admin@volta.example",
        "operator:": "operator@clameur.example",
    }
    for role, email in wanted.items():
        line = next(line for line in guide if line.strip().startswith(role))
        assert email in line
    assert "to approve" in next(line for line in guide if "supervisor:" in line)
    listing = living.accounts.describe("http://127.0.0.1:8000/")
    for spec in PLANS["volta"].staff:
        assert f"{spec.email('volta')}" in listing
    assert f"Password of every demo account: {PASSWORD}" in listing
    described = living.floor.describe()
    assert "Groupe Volta" in described
    assert "Maison Lune" in described
