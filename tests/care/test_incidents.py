"""Incident mode: one incident per alert, the holding answer, bulk replies one per author."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clameur.care.incidents import (
    Recipient,
    approve_holding_answer,
    attach_conversations,
    bulk_reply,
    close_incident,
    incident_title,
    open_for_alert,
    set_holding_answer,
)
from clameur.care.models import Conversation, ConversationEvent, Incident, Reply
from clameur.care.replies import approval_reasons, draft_reply, send_reply
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import OutboxEvent
from clameur.db import session_scope
from clameur.demo import replays
from clameur.detection.models import Alert, AlertMention
from clameur.errors import ForbiddenError, InvalidInputError, NotFoundError
from clameur.mentions.models import Author
from clameur.pipeline import Pipeline
from clameur.tenancy import add_brand, add_tenant
from clameur.tenancy.models import AuditEntry
from tests.care.test_replies import (
    OPENED,
    World,
    deliver,
    make_conversation,
    make_world,
    outbox,
    recording_registry,
    set_policy,
)
from tests.conftest import Database, make_tenant
from tests.factories import acting, forged, member

HOLDING = "Hello {name}, we know about the outage and are on it. — {agent}, {brand}"


def make_alert(
    session: Session, world: World, kind: str = "influencer", members: Sequence[Conversation] = ()
) -> int:
    """An alert with ``members`` (conversations) attached as evidence."""
    alert = Alert(
        tenant_id=world.tenant_id,
        brand_id=world.brand_id,
        kind=kind,
        severity="high",
        key=f"{kind}:1",
        triggered_at=OPENED,
        updated_at=OPENED,
        status="open",
        summary="Influencer julie_tech (450k followers) complains about Volta",
        count=1,
        evidence={},
    )
    session.add(alert)
    session.flush()
    for conversation in members:
        author = session.get(Author, conversation.author_id)
        assert author is not None
        session.add(
            AlertMention(
                tenant_id=world.tenant_id,
                alert_id=alert.id,
                source=conversation.source,
                external_id=conversation.root_external_id,
                author=author.handle,
                created_at=conversation.opened_at,
                role="reply",
            )
        )
    session.flush()
    return alert.id


def crowd(session: Session, world: World, authors: int, twice: int) -> list[Conversation]:
    """Conversations of ``authors`` customers; the first ``twice`` of them have two (a second
    complaint three days later, outside the conversation window)."""
    out = []
    for n in range(authors):
        first = make_conversation(
            session,
            world.tenant_id,
            f"cust{n:03d}",
            name=f"Cust {n}",
            brand_id=world.brand_id,
            minutes=n,
        )
        out.append(first)
        if n < twice:
            out.append(
                make_conversation(
                    session,
                    world.tenant_id,
                    f"cust{n:03d}",
                    author_id=first.author_id,
                    brand_id=world.brand_id,
                    minutes=3 * 24 * 60 + n,
                )
            )
    return out


def test_one_incident_per_alert_with_its_conversations(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        members = crowd(session, world, 5, 0)
        bystander = make_conversation(session, world.tenant_id, "bystander")
        alert_id = make_alert(session, world, members=members[:3])
        incident = open_for_alert(session, clock, world.tenant_id, alert_id)
        again = open_for_alert(session, clock, world.tenant_id, alert_id)
        assert again.id == incident.id
        assert (incident.brand_id, incident.status, incident.opened_at) == (
            world.brand_id,
            "open",
            OPENED,
        )
        attached = session.scalars(
            select(Conversation.id).where(Conversation.incident_id == incident.id)
        ).all()
        assert sorted(attached) == sorted(c.id for c in members[:3])
        # the alert grows: the next call attaches the newcomers only
        author = session.get(Author, members[3].author_id)
        assert author is not None
        session.add(
            AlertMention(
                tenant_id=world.tenant_id,
                alert_id=alert_id,
                source="twitter",
                external_id=members[3].root_external_id,
                author=author.handle,
                created_at=OPENED,
            )
        )
        session.flush()
        open_for_alert(session, clock, world.tenant_id, alert_id)
        assert members[3].incident_id == incident.id
        assert bystander.incident_id is None
        # an agent attaches one by hand; another incident's conversation moves only on request
        other = Incident(tenant_id=world.tenant_id, title="Other", status="open", opened_at=OPENED)
        session.add(other)
        session.flush()
        agent = acting(session, world.agent, world.tenant_id)
        attached = attach_conversations(
            session, clock, agent, other.id, [members[0].id, bystander.id]
        )
        assert attached == [bystander.id]
        assert attach_conversations(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            other.id,
            [members[0].id],
            move=True,
        ) == [members[0].id]
        with pytest.raises(NotFoundError, match="conversations not found in this tenant: 999"):
            attach_conversations(
                session, clock, acting(session, world.agent, world.tenant_id), other.id, [999]
            )
        campaign = make_alert(session, world, kind="campaign")
        with pytest.raises(InvalidInputError, match="campaign alert"):
            open_for_alert(session, clock, world.tenant_id, campaign)
        incidents = session.scalar(
            select(func.count()).select_from(Incident).where(Incident.alert_id == alert_id)
        )
        assert incidents == 1
        timeline = session.scalars(
            select(ConversationEvent.data).where(ConversationEvent.kind == "incident")
        ).all()
        assert len(timeline) == 4 + 1 + 1
    other_world = make_world(db, clock, "other")
    with session_scope(db.factory) as session, pytest.raises(NotFoundError):
        open_for_alert(session, clock, other_world.tenant_id, alert_id)


def _incident(session: Session, clock: FrozenClock, world: World, members: list[Any]) -> int:
    alert_id = make_alert(session, world, members=members)
    return open_for_alert(session, clock, world.tenant_id, alert_id).id


def test_bulk_reply_answers_each_author_exactly_once(db: Database, clock: FrozenClock) -> None:
    """200 conversations from 150 authors (50 of them with two) → exactly 150 replies."""
    world = make_world(db, clock)
    channels, recorder = recording_registry()
    with session_scope(db.factory) as session:
        members = crowd(session, world, 150, 50)
        assert len(members) == 200
        incident_id = _incident(session, clock, world, members)
        approve_holding_answer(
            session, clock, acting(session, world.supervisor, world.tenant_id), incident_id, HOLDING
        )
    with session_scope(db.factory) as session:
        result = bulk_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            channels=channels,
        )
    assert len(result.replies) == 150
    assert result.skipped_authors == []
    with session_scope(db.factory) as session:
        rows = session.execute(
            select(
                Conversation.author_id,
                Conversation.opened_at,
                Reply.status,
                Reply.approved_by,
                Reply.text,
                Reply.incident_id,
            ).join(Conversation, Conversation.id == Reply.conversation_id)
        ).all()
        assert Counter(r.author_id for r in rows).most_common(1)[0][1] == 1
        assert len(rows) == 150
        assert {(r.status, r.approved_by, r.incident_id) for r in rows} == {
            ("queued", world.supervisor, incident_id)
        }
        later = {r.author_id for r in rows if r.opened_at > OPENED + timedelta(days=1)}
        assert len(later) == 50  # the latest conversation of a customer who wrote twice
        assert "Hello Cust 7, we know about the outage and are on it. — Agent, Volta" in {
            r.text for r in rows
        }
        logged = session.scalars(
            select(ConversationEvent.data).where(ConversationEvent.kind == "reply_queued")
        ).all()
        assert len(logged) == 150
        assert all(d["bulk"] and d["incident_id"] == incident_id for d in logged)
        audit = session.scalars(
            select(AuditEntry.data).where(AuditEntry.action == "incident.bulk_reply")
        ).all()
        assert audit == [{"replies": 150, "skipped_authors": 0}]
    assert len(outbox(db)) == 150
    assert deliver(db, clock, channels) == 150
    handles = Counter(r["recipient_handle"] for r in recorder.replies())
    assert len(handles) == 150
    assert set(handles.values()) == {1}

    # running it again answers nobody twice; a newcomer is answered on the next run
    with session_scope(db.factory) as session:
        again = bulk_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            channels=channels,
        )
        assert (len(again.replies), len(again.skipped_authors)) == (0, 150)
        newcomer = make_conversation(session, world.tenant_id, "late", brand_id=world.brand_id)
        attach_conversations(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            [newcomer.id],
        )
        third = bulk_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            channels=channels,
        )
        assert (len(third.replies), len(third.skipped_authors)) == (1, 150)


def test_bulk_reply_is_refused_until_the_holding_answer_is_approved(
    db: Database, clock: FrozenClock
) -> None:
    world = make_world(db, clock)
    channels, recorder = recording_registry()
    with session_scope(db.factory) as session:
        incident_id = _incident(session, clock, world, crowd(session, world, 10, 2))
    with session_scope(db.factory) as session:
        with pytest.raises(InvalidInputError, match="no holding answer yet"):
            bulk_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                incident_id,
                channels=channels,
            )
        set_holding_answer(
            session, clock, acting(session, world.agent, world.tenant_id), incident_id, HOLDING
        )
        with pytest.raises(ForbiddenError, match="agent may not do incidents.manage"):
            approve_holding_answer(
                session, clock, acting(session, world.agent, world.tenant_id), incident_id, HOLDING
            )
    with (
        session_scope(db.factory) as session,
        pytest.raises(
            InvalidInputError, match=r"needs a supervisor's approval \(incident\); nothing was sent"
        ),
    ):
        bulk_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            channels=channels,
        )
    # approved, then changed by an agent: the approval is withdrawn
    with session_scope(db.factory) as session:
        approve_holding_answer(
            session, clock, acting(session, world.supervisor, world.tenant_id), incident_id, HOLDING
        )
        set_holding_answer(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            "Changed {name}",
        )
    with session_scope(db.factory) as session, pytest.raises(InvalidInputError, match="approval"):
        bulk_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            channels=channels,
        )
    # while the incident is open, single replies about the brand need approval too
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "solo", brand_id=world.brand_id)
        assert approval_reasons(session, world.tenant_id, conversation) == ["incident"]
        reply = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            conversation.id,
            "Hi",
            channels=channels,
        )
        send_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            reply.id,
            channels=channels,
        )
        assert reply.status == "pending_approval"
    with session_scope(db.factory) as session:
        assert session.scalars(select(Reply.status)).all() == ["pending_approval"]
        assert session.scalars(select(OutboxEvent)).all() == []
    assert deliver(db, clock, channels) == 0
    assert recorder.records == []
    # closing the incident ends incident mode
    with session_scope(db.factory) as session:
        close_incident(
            session, clock, acting(session, world.supervisor, world.tenant_id), incident_id
        )
        assert approval_reasons(session, world.tenant_id, conversation) == []
        with pytest.raises(InvalidInputError, match="closed"):
            bulk_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                incident_id,
                channels=channels,
            )


def test_without_required_approval_a_proposed_answer_may_be_sent(
    db: Database, clock: FrozenClock
) -> None:
    world = make_world(db, clock)
    channels, _ = recording_registry()
    set_policy(db, clock, world, incident=False, p1=False)
    with session_scope(db.factory) as session:
        incident_id = _incident(session, clock, world, crowd(session, world, 3, 0))
        set_holding_answer(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            "Sorry {name}",
        )
        result = bulk_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            channels=channels,
        )
        assert len(result.replies) == 3
        assert session.scalars(select(Reply.approved_by)).all() == [None, None, None]
    # a P1 conversation among them brings approval back when the tenant asks for it
    set_policy(db, clock, world, incident=False, p1=True)
    with session_scope(db.factory) as session:
        vip = make_conversation(session, world.tenant_id, "vip", priority_level="P1")
        attach_conversations(
            session, clock, acting(session, world.agent, world.tenant_id), incident_id, [vip.id]
        )
        with pytest.raises(InvalidInputError, match=r"approval \(p1\)"):
            bulk_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                incident_id,
                channels=channels,
            )


def test_personalised_bulk_replies_keep_the_approved_text(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    channels, recorder = recording_registry()
    seen: list[Recipient] = []

    def personalise(recipient: Recipient) -> dict[str, str]:
        seen.append(recipient)
        return {"city": "Lyon" if recipient.handle.endswith("1") else "Paris"}

    with session_scope(db.factory) as session:
        incident_id = _incident(session, clock, world, crowd(session, world, 2, 0))
        template = "{name}: the {city} outage is being fixed."
        approve_holding_answer(
            session,
            clock,
            acting(session, world.supervisor, world.tenant_id),
            incident_id,
            template,
        )
    # without the variable the template cannot be filled: refused, nothing written
    with session_scope(db.factory) as session, pytest.raises(InvalidInputError, match=r"\{city\}"):
        bulk_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            channels=channels,
        )
    assert outbox(db) == []
    with session_scope(db.factory) as session:
        bulk_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            personalise,
            channels=channels,
        )
    deliver(db, clock, channels)
    texts = sorted(r["text"] for r in recorder.replies())
    assert texts == [
        "Cust 0: the Paris outage is being fixed.",
        "Cust 1: the Lyon outage is being fixed.",
    ]
    assert [r.message for r in seen] == ["My invoice is wrong, please help"] * 2
    assert seen[0].variables["brand"] == "Volta"


def test_incidents_are_tenant_scoped(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    other = make_world(db, clock, "other")
    with session_scope(db.factory) as session:
        incident_id = _incident(session, clock, world, crowd(session, world, 2, 0))
        mine = make_conversation(session, other.tenant_id, "theirs")
        theirs = acting(session, other.supervisor, other.tenant_id)
        agent = acting(session, world.agent, world.tenant_id)
        for call in (
            lambda: approve_holding_answer(session, clock, theirs, incident_id, "Hi"),
            lambda: bulk_reply(
                session, clock, acting(session, other.agent, other.tenant_id), incident_id
            ),
            lambda: attach_conversations(session, clock, agent, incident_id, [mine.id]),
            lambda: approve_holding_answer(
                session, clock, forged(other.supervisor, world.tenant_id), incident_id, "Hi"
            ),
        ):
            with pytest.raises(NotFoundError):
                call()


def test_a_replayed_wave_gets_one_reply_per_customer(db: Database) -> None:
    """End to end: an influencer's post and the complaints answering it, imported through the
    pipeline, grouped under one incident, answered in bulk once per customer."""
    at = datetime(2030, 3, 6, 9, 30, tzinfo=UTC)
    clock = FrozenClock(datetime(2031, 1, 1, tzinfo=UTC))
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    post = replays.influencer_post(at, followers=452_000, external_id="inf-1")
    wave = replays.complaint_wave(
        at + timedelta(minutes=1),
        count=150,
        minutes=120,
        seed=4,
        in_reply_to="inf-1",
        source="twitter",
        prefix="r",
    )
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=50), clock=clock)
    assert pipeline.ingest([post, *wave], tenant.id).rejected == 0
    channels, recorder = recording_registry()
    with session_scope(db.factory) as session:
        agent = member(session, clock, "agent@bpo.example", tenant.id, "agent")
        boss = member(session, clock, "boss@bpo.example", tenant.id, "supervisor")
        [incident] = session.scalars(select(Incident).where(Incident.tenant_id == tenant.id))
        if incident.alert_id is not None:  # the pipeline opened it; the service agrees
            assert open_for_alert(session, clock, tenant.id, incident.alert_id).id == incident.id
        approve_holding_answer(
            session, clock, acting(session, boss.id, tenant.id), incident.id, "Sorry @{handle}!"
        )
        result = bulk_reply(
            session, clock, acting(session, agent.id, tenant.id), incident.id, channels=channels
        )
        authors = set(
            session.scalars(
                select(Conversation.author_id).where(Conversation.incident_id == incident.id)
            )
        )
    deliver(db, clock, channels)
    customers = {r["author"]["handle"] for r in wave} | {post["author"]["handle"]}
    handles = Counter(r["recipient_handle"] for r in recorder.replies())
    assert len(result.replies) == len(authors) == len(handles)
    assert set(handles.values()) == {1}
    assert set(handles) <= customers
    assert len(handles) >= 0.9 * len(customers)


def test_an_incident_is_named_by_who_or_what_not_by_the_detectors_sentence(
    db: Database, clock: FrozenClock
) -> None:
    with session_scope(db.factory) as session:
        tenant = add_tenant(session, clock, "ohm", "Ohm")
        brand = add_brand(session, clock, tenant, "voltamobile", "Volta Mobile", ["volta"])
        common = {"tenant_id": tenant.id, "brand_id": brand.id, "severity": "high"}
        spike = Alert(
            kind="negative_spike",
            key="negative_spike:1",
            summary="21 negative mentions in 15 min at the peak against 1.0 expected",
            evidence={"top_terms": ["mobile", "volta", "VoltaMobile", "réseau", "panne", "4g"]},
            **common,
        )
        star = Alert(
            kind="influencer",
            key="influencer:x:1",
            summary="@julie_tech (452k followers · verified) on twitter: ça fait 3 heures",
            evidence={"author": "julie_tech", "source": "twitter"},
            **common,
        )
        bare = Alert(kind="volume_spike", key="v", summary="120 mentions", evidence={}, **common)
        assert incident_title(session, spike) == "Volta Mobile · réseau, panne, 4g"
        assert incident_title(session, star) == "@julie_tech · twitter"
        assert incident_title(session, bare) == "Volta Mobile"
