"""Canned replies, templates, the reply lifecycle with approval, publishing through the outbox,
moderation and suggested replies."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care.canned import (
    add_canned_reply,
    conversation_variables,
    list_canned_replies,
    parse_template,
    render,
    render_canned_reply,
    template_variables,
)
from clameur.care.channels import (
    ChannelError,
    ChannelRegistry,
    EmailChannel,
    OutgoingReply,
    RecordingChannel,
    publish_reply,
    reply_handlers,
)
from clameur.care.models import Conversation, ConversationEvent, Incident, Reply
from clameur.care.replies import (
    ApprovalPolicy,
    approval_policy,
    approval_reasons,
    approve_reply,
    draft_reply,
    edit_reply,
    list_replies,
    moderate_mention,
    pending_approvals,
    reject_reply,
    send_reply,
    set_approval_policy,
)
from clameur.care.suggest import as_template, suggest_for_conversation, suggest_replies
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import OutboxEvent, relay
from clameur.db import session_scope
from clameur.errors import ForbiddenError, InvalidInputError, NotFoundError
from clameur.mentions.models import Author, Mention
from clameur.tenancy import get_brand
from clameur.tenancy.models import AuditEntry
from tests.conftest import Database, make_tenant
from tests.factories import acting, forged, member

OPENED = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)

# -- helpers (also used by the incident, survey and channel tests) ---------------------------


@dataclass
class World:
    tenant_id: int
    brand_id: int
    agent: int
    supervisor: int
    admin: int
    viewer: int


def make_world(db: Database, clock: FrozenClock, slug: str = "acme") -> World:
    """A tenant with one brand, and an agent, a supervisor, an admin and a viewer."""
    tenant = make_tenant(db, clock, slug, {"volta": ["volta"]})
    with session_scope(db.factory) as session:
        brand = get_brand(session, tenant.id, "volta")
        users = {
            role: member(
                session, clock, f"{role}@{slug}.example", tenant.id, role, name=role.title()
            ).id
            for role in ("agent", "supervisor", "admin", "viewer")
        }
        return World(
            tenant.id,
            brand.id,
            users["agent"],
            users["supervisor"],
            users["admin"],
            users["viewer"],
        )


def make_conversation(
    session: Session,
    tenant_id: int,
    handle: str,
    *,
    text: str = "My invoice is wrong, please help",
    source: str = "twitter",
    author_id: int | None = None,
    name: str | None = None,
    raw: dict[str, Any] | None = None,
    external_id: str | None = None,
    minutes: int = 0,
    **values: Any,
) -> Conversation:
    """A stored conversation holding one customer mention (``values``: any column)."""
    at = OPENED + timedelta(minutes=minutes)
    if author_id is None:
        author = Author(
            tenant_id=tenant_id,
            source=source,
            handle=handle,
            name=name,
            first_seen_at=at,
            last_seen_at=at,
        )
        session.add(author)
        session.flush()
        author_id = author.id
    external_id = external_id or f"m-{handle}-{minutes}"
    columns: dict[str, Any] = {
        "source": source,
        "status": "open",
        "root_external_id": external_id,
        "opened_at": at,
        "last_activity_at": at,
        "mention_count": 1,
        "flags": [],
        "tags": [],
        "sla": {},
        "priority_level": "P3",
        "priority": 50.0,
        "lang": "en",
    }
    columns.update(values)
    conversation = Conversation(tenant_id=tenant_id, author_id=author_id, **columns)
    session.add(conversation)
    session.flush()
    add_mention(session, conversation, external_id, text, at, raw=raw)
    return conversation


def add_mention(
    session: Session,
    conversation: Conversation,
    external_id: str,
    text: str,
    at: datetime,
    *,
    raw: dict[str, Any] | None = None,
) -> Mention:
    mention = Mention(
        tenant_id=conversation.tenant_id,
        source=conversation.source,
        external_id=external_id,
        author_id=conversation.author_id,
        text=text,
        created_at=at,
        raw=raw or {},
        content_hash=hashlib.md5(text.encode()).hexdigest(),
        ingested_at=at,  # noqa: S324
        conversation_id=conversation.id,
        metrics={},
        edit_history=[],
        toxicity_labels=[],
        priority_reasons=[],
    )
    session.add(mention)
    session.flush()
    return mention


def recording_registry(
    settings: Settings | None = None,
) -> tuple[ChannelRegistry, RecordingChannel]:
    recorder = RecordingChannel()
    email = EmailChannel(settings or Settings(smtp_port=1))
    return ChannelRegistry({"email": email}, recorder), recorder


def deliver(db: Database, clock: FrozenClock, channels: ChannelRegistry) -> int:
    """Run the relay until nothing is due; how many events were delivered."""
    handlers = reply_handlers(db.factory, Settings(), clock=clock, channels=channels)
    total = 0
    while done := relay(db.factory, clock, handlers):
        total += done
    return total


def events(db: Database, tenant_id: int, kind: str | None = None) -> list[ConversationEvent]:
    with session_scope(db.factory) as session:
        stmt = select(ConversationEvent).where(ConversationEvent.tenant_id == tenant_id)
        if kind is not None:
            stmt = stmt.where(ConversationEvent.kind == kind)
        return list(session.scalars(stmt.order_by(ConversationEvent.id)))


def outbox(db: Database, kind: str = "care.reply") -> list[OutboxEvent]:
    with session_scope(db.factory) as session:
        return list(session.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)))


def reply_of(db: Database, reply_id: int) -> Reply:
    with session_scope(db.factory) as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None
        return reply


def set_policy(db: Database, clock: FrozenClock, world: World, **values: Any) -> None:
    with session_scope(db.factory) as session:
        set_approval_policy(
            session, clock, acting(session, world.admin, world.tenant_id), ApprovalPolicy(**values)
        )


# -- templates ----------------------------------------------------------------------------


def test_render_fills_variables_and_keeps_escaped_braces() -> None:
    text = "Bonjour {name}, {{brand}} is literal; {brand} will call you, {name}."
    assert template_variables(text) == ["name", "brand"]
    assert render(text, {"name": "Zoé", "brand": "Volta"}) == (
        "Bonjour Zoé, {brand} is literal; Volta will call you, Zoé."
    )
    assert render("{ name }!", {"name": "A"}) == "A!"


def test_render_refuses_unknown_variables_by_name() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown variable \{ticket\}, \{x\}"):
        render("Hi {name}, ticket {ticket} {x} {ticket}", {"name": "A"})


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Hi {name.__class__}", "position 4 is not a variable"),
        ("Hi {name[0]}", "not a variable"),
        ("{0}", "not a variable"),
        ("{}", "not a variable"),
        ("{name!r}", "not a variable"),
        ("{name:>10}", "not a variable"),
        ("Hi {name", "position 4 is never closed"),
        ("Hi } there", "position 4 closes nothing"),
    ],
)
def test_templates_never_evaluate_anything(template: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        render(template, {"name": "A", "0": "zero"})


def test_values_are_inserted_verbatim_once() -> None:
    assert render("{a}-{b}", {"a": "{b}", "b": "{{x}}"}) == "{b}-{{x}}"


_literal = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=20)


@given(
    st.lists(st.one_of(_literal, st.sampled_from(["{name}", "{brand}", "{{", "}}"])), max_size=12)
)
def test_render_is_plain_substitution(parts: list[str]) -> None:
    values = {"name": "N{x}", "brand": "B"}
    expected = "".join(
        {"{name}": values["name"], "{brand}": values["brand"], "{{": "{", "}}": "}"}.get(p, p)
        for p in parts
    )
    assert render("".join(parts), values) == expected
    assert all(isinstance(p, str) or p.name in values for p in parse_template("".join(parts)))


# -- canned replies -----------------------------------------------------------------------


def test_canned_replies_per_brand_and_language(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        fr = add_canned_reply(
            session,
            clock,
            acting(session, world.supervisor, world.tenant_id),
            name="Facture",
            text="Bonjour {name}, nous vérifions votre facture.",
            lang="FR",
            brand_id=world.brand_id,
            tags=["billing"],
        )
        add_canned_reply(
            session,
            clock,
            acting(session, world.admin, world.tenant_id),
            name="Thanks",
            text="Thanks {name}!",
            lang="en",
        )
        with pytest.raises(ForbiddenError, match="agent may not do canned.manage"):
            add_canned_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                name="x",
                text="x",
                lang="en",
            )
        with pytest.raises(InvalidInputError, match="position 1"):
            add_canned_reply(
                session,
                clock,
                acting(session, world.admin, world.tenant_id),
                name="bad",
                text="{oops",
                lang="en",
            )
        conversation = make_conversation(
            session, world.tenant_id, "zoe", name="Zoé", brand_id=world.brand_id
        )
        names = [
            c.name for c in list_canned_replies(session, world.tenant_id, brand_id=world.brand_id)
        ]
        assert names == ["Facture", "Thanks"]  # the brand's own first
        assert [c.name for c in list_canned_replies(session, world.tenant_id, lang="fr-CA")] == [
            "Facture"
        ]
        variables = conversation_variables(session, world.tenant_id, conversation.id, world.agent)
        assert variables == {
            "conversation": str(conversation.id),
            "handle": "zoe",
            "name": "Zoé",
            "brand": "Volta",
            "agent": "Agent",
        }
        text = render_canned_reply(session, world.tenant_id, fr.id, variables)
        assert text == "Bonjour Zoé, nous vérifions votre facture."
        with pytest.raises(InvalidInputError, match=r"unknown variable \{name\}"):
            render_canned_reply(session, world.tenant_id, fr.id, {"brand": "Volta"})
        canned_id = fr.id
        actions = session.scalars(select(AuditEntry.action)).all()
        assert actions.count("canned.add") == 2
    other = make_world(db, clock, "other")
    with session_scope(db.factory) as session:
        assert list_canned_replies(session, other.tenant_id) == []
        with pytest.raises(NotFoundError):
            render_canned_reply(session, other.tenant_id, canned_id, {"name": "x"})


# -- the lifecycle ------------------------------------------------------------------------


def test_a_reply_is_queued_in_the_transaction_and_published_after_commit(
    db: Database, clock: FrozenClock
) -> None:
    world = make_world(db, clock)
    channels, recorder = recording_registry()
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "zoe", brand_id=world.brand_id)
        conversation_id = conversation.id

    # a send whose transaction rolls back leaves nothing to publish
    def send_then_fail() -> None:
        with session_scope(db.factory) as session:
            reply = draft_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                conversation_id,
                "We are on it",
                channels=channels,
            )
            send_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                reply.id,
                channels=channels,
            )
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        send_then_fail()
    assert outbox(db) == []
    with session_scope(db.factory) as session:
        reply = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            conversation_id,
            "  We are on it, Zoé.  ",
            channels=channels,
        )
        assert (reply.status, reply.visibility, reply.channel) == ("draft", "public", "recording")
        assert reply.in_reply_to == "m-zoe-0"
        send_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            reply.id,
            channels=channels,
        )
        assert reply.status == "queued"
        reply_id = reply.id
    assert [e.payload for e in outbox(db)] == [{"tenant_id": world.tenant_id, "reply_id": reply_id}]
    assert recorder.records == []  # nothing leaves before the relay runs

    clock.advance(timedelta(seconds=30))
    assert deliver(db, clock, channels) == 1
    sent = reply_of(db, reply_id)
    assert (sent.status, sent.external_id, sent.sent_at) == (
        "sent",
        f"recorded:twitter:{reply_id}",
        clock.now(),
    )
    [published] = recorder.replies()
    assert published["text"] == "We are on it, Zoé."
    assert published["recipient_handle"] == "zoe"
    assert published["in_reply_to"] == "m-zoe-0"
    with session_scope(db.factory) as session:
        stored = session.get(Conversation, conversation_id)
        assert stored is not None
        assert stored.first_response_at == stored.last_agent_at == clock.now()
    kinds = [e.kind for e in events(db, world.tenant_id)]
    assert kinds == ["reply_draft", "reply_queued", "reply_sent"]
    assert deliver(db, clock, channels) == 0
    # a second reply moves last_agent_at, not the first response
    first = clock.now()
    clock.advance(timedelta(hours=1))
    with session_scope(db.factory) as session:
        reply = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            conversation_id,
            "Done",
            channels=channels,
        )
        send_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            reply.id,
            channels=channels,
        )
    deliver(db, clock, channels)
    with session_scope(db.factory) as session:
        stored = session.get(Conversation, conversation_id)
        assert stored is not None
        assert (stored.first_response_at, stored.last_agent_at) == (first, clock.now())
        assert len(list_replies(session, world.tenant_id, conversation_id)) == 2


def test_a_duplicate_delivery_publishes_once(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    channels, recorder = recording_registry()
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "zoe")
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
        payload = {"tenant_id": world.tenant_id, "reply_id": reply.id, "_event_id": 1}
    publish_reply(db.factory, clock, channels, payload)
    publish_reply(db.factory, clock, channels, payload)  # a relay died before recording "sent"
    assert len(recorder.replies()) == 1
    assert len(events(db, world.tenant_id, "reply_sent")) == 1


def test_approval_required_for_a_brand_holds_the_reply_until_a_supervisor_approves(
    db: Database, clock: FrozenClock
) -> None:
    world = make_world(db, clock)
    channels, recorder = recording_registry()
    set_policy(db, clock, world, brands=frozenset({world.brand_id}))
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "zoe", brand_id=world.brand_id)
        reply = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            conversation.id,
            "Sorry!",
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
        reply_id = reply.id
        assert [r.id for r in pending_approvals(session, world.tenant_id)] == [reply_id]
    assert deliver(db, clock, channels) == 0
    assert outbox(db) == []
    assert recorder.records == []

    with session_scope(db.factory) as session:
        with pytest.raises(ForbiddenError, match="may not do replies.approve"):
            approve_reply(session, clock, acting(session, world.agent, world.tenant_id), reply_id)
        with pytest.raises(InvalidInputError, match="only a draft or an approved reply"):
            send_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                reply_id,
                channels=channels,
            )
    assert outbox(db) == []
    assert reply_of(db, reply_id).status == "pending_approval"

    with session_scope(db.factory) as session:
        reply = approve_reply(
            session,
            clock,
            acting(session, world.supervisor, world.tenant_id),
            reply_id,
            channels=channels,
        )
        assert (reply.status, reply.approved_by) == ("queued", world.supervisor)
    assert deliver(db, clock, channels) == 1
    assert reply_of(db, reply_id).status == "sent"
    kinds = [e.kind for e in events(db, world.tenant_id)]
    assert kinds == [
        "reply_draft",
        "reply_submitted",
        "reply_approved",
        "reply_queued",
        "reply_sent",
    ]
    [submitted] = events(db, world.tenant_id, "reply_submitted")
    assert submitted.data["reasons"] == ["brand"]


def test_rejected_replies_are_edited_and_submitted_again(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    channels, _ = recording_registry()
    set_policy(db, clock, world, all=True)
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "zoe")
        reply = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            conversation.id,
            "Whatever.",
            channels=channels,
        )
        send_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            reply.id,
            channels=channels,
        )
        reject_reply(
            session, clock, acting(session, world.supervisor, world.tenant_id), reply.id, "Too curt"
        )
        assert reply.status == "rejected"
        with pytest.raises(InvalidInputError, match="rejected"):
            send_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                reply.id,
                channels=channels,
            )
        edit_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            reply.id,
            text="Sorry for the trouble, we are checking.",
        )
        assert reply.status == "draft"
        send_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            reply.id,
            channels=channels,
        )
        assert reply.status == "pending_approval"
        # approved but held back, then edited: the approval does not survive the edit
        approve_reply(
            session, clock, acting(session, world.admin, world.tenant_id), reply.id, send=False
        )
        assert (reply.status, reply.approved_by) == ("approved", world.admin)
        edit_reply(
            session, clock, acting(session, world.agent, world.tenant_id), reply.id, text="Changed!"
        )
        assert (reply.status, reply.approved_by) == ("draft", None)
        send_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            reply.id,
            channels=channels,
        )
        assert reply.status == "pending_approval"
        approve_reply(
            session, clock, acting(session, world.admin, world.tenant_id), reply.id, send=False
        )
        send_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            reply.id,
            channels=channels,
        )
        assert reply.status == "queued"
        with pytest.raises(InvalidInputError, match="can no longer be edited"):
            edit_reply(
                session, clock, acting(session, world.agent, world.tenant_id), reply.id, text="late"
            )
    [rejected] = events(db, world.tenant_id, "reply_rejected")
    assert rejected.data["reason"] == "Too curt"
    assert rejected.actor_id == world.supervisor


def test_p1_conversations_and_open_incidents_require_approval(
    db: Database, clock: FrozenClock
) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        p1 = make_conversation(session, world.tenant_id, "vip", priority_level="P1")
        p3 = make_conversation(session, world.tenant_id, "calm", brand_id=world.brand_id)
        assert approval_reasons(session, world.tenant_id, p1) == ["p1"]
        assert approval_reasons(session, world.tenant_id, p3) == []
        incident = Incident(
            tenant_id=world.tenant_id,
            brand_id=world.brand_id,
            title="Storm",
            status="open",
            opened_at=OPENED,
        )
        session.add(incident)
        session.flush()
        assert approval_reasons(session, world.tenant_id, p3) == ["incident"]
        incident.status = "closed"
        session.flush()
        assert approval_reasons(session, world.tenant_id, p3) == []
    set_policy(db, clock, world, p1=False, incident=False)
    with session_scope(db.factory) as session:
        found = session.get(Conversation, p1.id)
        assert found is not None
        assert approval_reasons(session, world.tenant_id, found) == []


def test_nothing_is_sent_without_approval_on_any_path(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    channels, recorder = recording_registry()
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "vip", priority_level="P1")
        conversation_id = conversation.id
        reply = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            conversation_id,
            "Hello",
            channels=channels,
        )
        reply_id = reply.id
        # even a supervisor's own reply waits for an explicit approval
        own = draft_reply(
            session,
            clock,
            acting(session, world.supervisor, world.tenant_id),
            conversation_id,
            "Hi from the supervisor",
            channels=channels,
        )
        send_reply(
            session,
            clock,
            acting(session, world.supervisor, world.tenant_id),
            own.id,
            channels=channels,
        )
        assert own.status == "pending_approval"
        send_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            reply_id,
            channels=channels,
        )
        assert reply.status == "pending_approval"
        approve_reply(
            session, clock, acting(session, world.supervisor, world.tenant_id), reply_id, send=False
        )
    with session_scope(db.factory) as session:
        with pytest.raises(InvalidInputError, match="not pending approval"):
            approve_reply(
                session, clock, acting(session, world.supervisor, world.tenant_id), reply_id
            )
        with pytest.raises(NotFoundError):
            approve_reply(session, clock, forged(world.viewer + 1000, world.tenant_id), reply_id)
        with pytest.raises(ForbiddenError, match="viewer may not do replies.write"):
            send_reply(session, clock, acting(session, world.viewer, world.tenant_id), reply_id)
    with session_scope(db.factory) as session:
        statuses = {r.id: r.status for r in list_replies(session, world.tenant_id, conversation_id)}
    assert statuses == {reply_id: "approved", own.id: "pending_approval"}
    assert outbox(db) == []
    assert deliver(db, clock, channels) == 0
    assert recorder.records == []


def test_the_queue_gate_refuses_an_unapproved_reply(db: Database, clock: FrozenClock) -> None:
    """A draft queued before approval was required cannot sneak through after: the gate is
    in the queueing itself, so a reply approved by nobody never reaches the outbox."""
    world = make_world(db, clock)
    channels, _ = recording_registry()
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "zoe")
        reply = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            conversation.id,
            "Hi",
            channels=channels,
        )
        reply.status = "approved"  # forged: approved without an approver
        conversation.priority_level = "P1"
        session.flush()
        with pytest.raises(InvalidInputError, match=r"needs a supervisor's approval \(p1\)"):
            send_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                reply.id,
                channels=channels,
            )
    assert outbox(db) == []


def test_visibility_follows_the_channel(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    channels, _ = recording_registry()
    with session_scope(db.factory) as session:
        mail = make_conversation(session, world.tenant_id, "zoe@example.com", source="email")
        tweet = make_conversation(session, world.tenant_id, "zoe")
        reply = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            mail.id,
            "Hello",
            channels=channels,
        )
        assert (reply.visibility, reply.channel) == ("private", "email")
        with pytest.raises(InvalidInputError, match="channel 'email' cannot publish public"):
            draft_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                mail.id,
                "Hello",
                visibility="public",
                channels=channels,
            )
        with pytest.raises(InvalidInputError, match="channel 'email' cannot publish public"):
            edit_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                reply.id,
                visibility="public",
                channels=channels,
            )
        dm = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            tweet.id,
            "Hello",
            visibility="private",
            channels=channels,
        )
        assert dm.visibility == "private"
        with pytest.raises(InvalidInputError, match="public or private"):
            draft_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                tweet.id,
                "Hello",
                visibility="secret",
                channels=channels,
            )
        with pytest.raises(NotFoundError, match="not in conversation"):
            draft_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                tweet.id,
                "Hello",
                in_reply_to="m-zoe@example.com-0",
                channels=channels,
            )
        with pytest.raises(InvalidInputError, match="needs some text"):
            draft_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                tweet.id,
                "   ",
                channels=channels,
            )


class FlakyChannel(RecordingChannel):
    """A channel that fails until told otherwise (an in-repo fake plugin)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def publish(self, reply: OutgoingReply) -> str:
        if self.down:
            raise ChannelError("network unreachable")
        return super().publish(reply)


def test_a_failed_publication_is_shown_and_retried(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    flaky = FlakyChannel()
    channels = ChannelRegistry({}, flaky)
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "zoe")
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
        reply_id, conversation_id = reply.id, conversation.id
    assert deliver(db, clock, channels) == 0
    failed = reply_of(db, reply_id)
    assert failed.status == "failed"
    assert failed.error == "ChannelError: network unreachable (retrying)"
    [event] = outbox(db)
    assert (event.status, event.attempts) == ("pending", 1)
    clock.advance(timedelta(seconds=3))
    assert deliver(db, clock, channels) == 0  # still down: one failure event on the timeline
    assert len(events(db, world.tenant_id, "reply_failed")) == 1
    flaky.down = False
    clock.advance(timedelta(seconds=5))
    assert deliver(db, clock, channels) == 1
    sent = reply_of(db, reply_id)
    assert (sent.status, sent.error) == ("sent", None)
    with session_scope(db.factory) as session:
        stored = session.get(Conversation, conversation_id)
        assert stored is not None
        assert stored.first_response_at == clock.now()


def test_an_e_mail_without_address_fails_for_good(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    channels, _ = recording_registry()
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "no-address", source="email")
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
        reply_id = reply.id
    assert deliver(db, clock, channels) == 1  # the event is done: retrying cannot help
    failed = reply_of(db, reply_id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert "no e-mail address for 'no-address'" in failed.error
    assert [e.status for e in outbox(db)] == ["sent"]


def test_replies_are_tenant_scoped(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    other = make_world(db, clock, "other")
    channels, _ = recording_registry()
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "zoe")
        reply = draft_reply(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            conversation.id,
            "Hi",
            channels=channels,
        )
        with pytest.raises(NotFoundError, match="tenant 'acme' not found for agent@other"):
            draft_reply(
                session,
                clock,
                forged(other.agent, world.tenant_id),
                conversation.id,
                "Hi",
                channels=channels,
            )
        with pytest.raises(NotFoundError, match="conversations .* not found"):
            draft_reply(
                session,
                clock,
                acting(session, other.agent, other.tenant_id),
                conversation.id,
                "Hi",
                channels=channels,
            )
        with pytest.raises(NotFoundError):
            send_reply(
                session,
                clock,
                acting(session, other.agent, other.tenant_id),
                reply.id,
                channels=channels,
            )
        # the contact centre's agent serving both tenants acts in each
        bpo = member(session, clock, "bpo@bpo.example", [world.tenant_id, other.tenant_id], "agent")
        draft_reply(
            session,
            clock,
            acting(session, bpo.id, other.tenant_id),
            make_conversation(session, other.tenant_id, "max").id,
            "Hi",
            channels=channels,
        )


def test_approval_settings_are_validated(db: Database, clock: FrozenClock) -> None:
    assert approval_policy(None) == ApprovalPolicy()
    assert approval_policy({"care": {"approval": {"brands": [3], "p1": False}}}) == (
        ApprovalPolicy(brands=frozenset({3}), p1=False)
    )
    with pytest.raises(InvalidInputError, match="care.approval.brands"):
        approval_policy({"care": {"approval": {"brands": "all"}}})
    with pytest.raises(InvalidInputError, match="care.approval.incident"):
        approval_policy({"care": {"approval": {"incident": "yes"}}})
    world = make_world(db, clock)
    with session_scope(db.factory) as session, pytest.raises(NotFoundError, match="brand 999"):
        set_approval_policy(
            session,
            clock,
            acting(session, world.admin, world.tenant_id),
            ApprovalPolicy(brands=frozenset({999})),
        )
    with session_scope(db.factory) as session, pytest.raises(ForbiddenError, match="agent"):
        set_approval_policy(
            session, clock, acting(session, world.agent, world.tenant_id), ApprovalPolicy()
        )


# -- moderation -----------------------------------------------------------------------------


def test_moderation_is_recorded_and_passed_to_the_channel(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    channels, recorder = recording_registry()
    with session_scope(db.factory) as session:
        tweet = make_conversation(session, world.tenant_id, "troll", text="spam spam")
        mail = make_conversation(session, world.tenant_id, "zoe@example.com", source="email")
        tweet_mention = session.scalars(
            select(Mention.id).where(Mention.conversation_id == tweet.id)
        ).one()
        mail_mention = session.scalars(
            select(Mention.id).where(Mention.conversation_id == mail.id)
        ).one()
        assert moderate_mention(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            tweet_mention,
            "hide",
            channels=channels,
        )
        assert moderate_mention(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            tweet_mention,
            "label",
            label="spam",
            channels=channels,
        )
        assert not moderate_mention(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            mail_mention,
            "label",
            label="billing",
            channels=channels,
        )
        with pytest.raises(ForbiddenError, match="may not do moderation.delete"):
            moderate_mention(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                tweet_mention,
                "delete",
                channels=channels,
            )
        with pytest.raises(InvalidInputError, match="label of 1–50"):
            moderate_mention(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                tweet_mention,
                "label",
                channels=channels,
            )
        with pytest.raises(InvalidInputError, match="one of hide, delete, label"):
            moderate_mention(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                tweet_mention,
                "ban",
                channels=channels,
            )
        assert moderate_mention(
            session,
            clock,
            acting(session, world.supervisor, world.tenant_id),
            tweet_mention,
            "delete",
            channels=channels,
        )
    recorded = [
        (e.data["action"], e.data["forwarded"], e.actor_id)
        for e in events(db, world.tenant_id, "moderation")
    ]
    assert recorded == [
        ("hide", True, world.agent),
        ("label", True, world.agent),
        ("label", False, world.agent),
        ("delete", True, world.supervisor),
    ]
    with session_scope(db.factory) as session:
        audited = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "conversation.moderation")
        ).all()
        assert len(audited) == 4
    assert len(outbox(db, "care.moderation")) == 3
    deliver(db, clock, channels)
    done = [(r["action"], r["label"]) for r in recorder.records if r["kind"] == "moderation"]
    assert done == [("hide", None), ("label", "spam"), ("delete", None)]


# -- suggestions ----------------------------------------------------------------------------


def _answered(
    db: Database,
    clock: FrozenClock,
    world: World,
    prefix: str,
    pairs: list[tuple[str, str]],
    **values: Any,
) -> None:
    """Past conversations (customer message, agent answer), the answers sent."""
    channels, _ = recording_registry()
    with session_scope(db.factory) as session:
        for i, (message, answer) in enumerate(pairs):
            conversation = make_conversation(
                session, world.tenant_id, f"{prefix}{i}", text=message, minutes=i, **values
            )
            reply = draft_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                conversation.id,
                answer,
                channels=channels,
            )
            send_reply(
                session,
                clock,
                acting(session, world.agent, world.tenant_id),
                reply.id,
                channels=channels,
            )
    deliver(db, clock, channels)


def test_suggestions_rank_past_answers_by_similar_questions(
    db: Database, clock: FrozenClock
) -> None:
    world = make_world(db, clock)
    refund = "Your refund leaves within 5 days, sorry for the wait."
    _answered(
        db,
        clock,
        world,
        "c",
        [
            ("Où est mon REMBOURSEMENT ? ça fait 3 semaines", refund),
            ("remboursement toujours pas reçu", refund),
            ("The app crashes when I open my invoice", "Please update the app to 4.2."),
            ("Coupure de courant à Lyon", "A technician is on the way."),
        ],
        brand_id=world.brand_id,
    )
    _answered(db, clock, world, "x", [("remboursement ??", "OTHER BRAND ANSWER")])  # no brand
    with session_scope(db.factory) as session:
        add_canned_reply(
            session,
            clock,
            acting(session, world.admin, world.tenant_id),
            name="Refund delay",
            text="Hello {name}, refunds take 5 days.",
            lang="en",
            brand_id=world.brand_id,
            tags=["remboursement"],
        )
        found = suggest_replies(
            session,
            world.tenant_id,
            "mon remboursement n'est pas arrivé",
            brand_id=world.brand_id,
            k=3,
        )
        assert [s.source for s in found[:2]] == ["reply", "canned"]
        best = found[0]
        assert best.text == refund
        assert best.uses == 2
        assert 0 < best.score <= 1
        assert best.answered is not None
        assert "REMBOURSEMENT" in best.answered
        assert found[1].name == "Refund delay"
        assert found[1].variables == ("name",)
        assert all(s.text != "OTHER BRAND ANSWER" for s in found)
        assert found == sorted(found, key=lambda s: -s.score)
        crash = suggest_replies(session, world.tenant_id, "app crash", brand_id=world.brand_id)
        assert crash[0].text == "Please update the app to 4.2."
        assert suggest_replies(session, world.tenant_id, "zzz qqq", brand_id=world.brand_id) == []
        # the conversation's own latest message, brand and language
        new = make_conversation(
            session, world.tenant_id, "new", text="Remboursement ?", brand_id=world.brand_id
        )
        assert suggest_for_conversation(session, world.tenant_id, new.id, k=1)[0].text == refund
    other = make_world(db, clock, "other")
    with session_scope(db.factory) as session:
        assert suggest_replies(session, other.tenant_id, "remboursement") == []


def test_a_past_reply_is_offered_without_the_name_of_the_customer_it_was_written_to(
    db: Database, clock: FrozenClock
) -> None:
    world = make_world(db, clock)
    for handle, name, greeting in [
        ("kkelly", "Kate Kelly", "Bonjour Kate Kelly"),
        ("omorris", "Oliver Morris", "Bonjour Oliver"),
    ]:
        _answered(
            db,
            clock,
            world,
            handle,
            [
                (
                    f"@{handle} remboursement pas reçu",
                    f"{greeting}, le remboursement part demain. Agent",
                )
            ],
            brand_id=world.brand_id,
            name=name,
        )
    with session_scope(db.factory) as session:
        found = suggest_replies(
            session, world.tenant_id, "mon remboursement pas reçu", brand_id=world.brand_id
        )
    assert [s.text for s in found] == ["Bonjour {name}, le remboursement part demain. {agent}"]
    assert found[0].uses == 2, "the same answer to two people is one template"
    assert found[0].variables == ("name", "agent")


def test_as_template_replaces_whole_names_and_handles_and_keeps_braces() -> None:
    made = as_template(
        "Hi Kate Kelly (@kkelly): Katerine, kkelly2 and {x} stay. Kate, thanks! Léa",
        name="Kate Kelly",
        handle="@kkelly",
        agent="Léa Roy",
    )
    assert made == (
        "Hi {name} (@{handle}): Katerine, kkelly2 and {{x}} stay. {name}, thanks! {agent}"
    )
    assert as_template("Merci {ok}", name=None, handle=None, agent=None) == "Merci {{ok}}"
    assert as_template("Bonjour J, merci", name="J") == "Bonjour J, merci", "an initial stays"
