"""Every care action on behalf of a person takes a principal and trusts nothing else.

For each action (one entry of :data:`ACTIONS`): (a) an admin of tenant B acting on tenant A's
object does not find it; (b) a forged principal — B's admin claiming admin in A — is refused
by ``refresh``; (c) a viewer of A is refused whatever the policy table denies viewers; (d) the
principal who may do it succeeds, so the refusals above are not a broken setup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care import contacts, conversations, handover, incidents, replies, routing, teams
from clameur.care.canned import add_canned_reply
from clameur.care.models import Contact, ContactIdentity, Incident, Team
from clameur.care.surveys import send_survey
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.errors import ForbiddenError, NotFoundError
from clameur.mentions.models import Author, Mention
from clameur.tenancy import POLICY, Principal
from tests.care.test_replies import OPENED, make_conversation, make_world, recording_registry
from tests.conftest import Database
from tests.factories import acting, forged, lead

SURVEYS = Settings(survey_secret="s3cret-for-tests", public_base_url="https://care.example.com")
CHANNELS, _ = recording_registry()


@dataclass(frozen=True)
class Scene:
    """Tenant A's objects and people, and tenant B's admin."""

    tenant_id: int
    brand: int
    agent: int
    supervisor: int
    admin: int
    viewer: int
    conversation: int
    resolved: int
    held: int
    mention: int
    draft: int
    pending: int
    incident: int
    contact: int
    other_contact: int
    second_identity: int
    front: int
    billing: int
    other_tenant_id: int
    other_admin: int


def _contact(session: Session, tenant_id: int, handles: list[str]) -> tuple[int, list[int]]:
    contact = Contact(tenant_id=tenant_id, name=handles[0], emails=[], created_at=OPENED)
    session.add(contact)
    session.flush()
    authors = []
    for handle in handles:
        author = Author(
            tenant_id=tenant_id,
            source="twitter",
            handle=handle,
            first_seen_at=OPENED,
            last_seen_at=OPENED,
        )
        session.add(author)
        session.flush()
        session.add(
            ContactIdentity(
                tenant_id=tenant_id, author_id=author.id, contact_id=contact.id, linked_at=OPENED
            )
        )
        authors.append(author.id)
    session.flush()
    return contact.id, authors


def build(db: Database, clock: FrozenClock) -> Scene:
    a = make_world(db, clock, "acme")
    b = make_world(db, clock, "globex")
    with session_scope(db.factory) as session:
        tid = a.tenant_id
        agent = acting(session, a.agent, tid)
        conversation = make_conversation(session, tid, "zoe", brand_id=a.brand_id)
        resolved = make_conversation(session, tid, "res", status="resolved")
        held = make_conversation(session, tid, "held")
        mention = session.scalars(
            select(Mention.id).where(Mention.conversation_id == conversation.id)
        ).one()
        draft = replies.draft_reply(session, clock, agent, conversation.id, "Hi", channels=CHANNELS)
        pending = replies.draft_reply(
            session, clock, agent, conversation.id, "Hello", channels=CHANNELS
        )
        pending.status = "pending_approval"
        incident = Incident(
            tenant_id=tid,
            title="Storm",
            status="open",
            opened_at=OPENED,
            holding_answer="Sorry {name}",
            approved_by=a.supervisor,
            approved_at=OPENED,
        )
        session.add(incident)
        session.flush()
        make_conversation(session, tid, "crowd", incident_id=incident.id)
        contact, (_, second) = _contact(session, tid, ["julie", "julie_fb"])
        other_contact, _ = _contact(session, tid, ["julie2"])
        boss = lead(session, clock, tid)
        front = teams.add_team(session, clock, boss, "Front")
        billing = teams.add_team(
            session, clock, boss, "Billing", kind="back_office", sla_minutes=60
        )
        teams.add_member(session, clock, boss, front.id, a.agent)
        handover.escalate(session, clock, agent, held.id, billing.id, {})
        return Scene(
            tid,
            a.brand_id,
            a.agent,
            a.supervisor,
            a.admin,
            a.viewer,
            conversation.id,
            resolved.id,
            held.id,
            mention,
            draft.id,
            pending.id,
            incident.id,
            contact,
            other_contact,
            second,
            front.id,
            billing.id,
            b.tenant_id,
            b.admin,
        )


Call = Callable[[Session, FrozenClock, Principal, Scene], object]


@dataclass(frozen=True)
class Action:
    name: str
    policy: str
    """The policy table's action the service checks first."""
    who: str
    """The role of tenant A that may do it (the legitimate principal)."""
    call: Call
    finds_objects: bool = True
    """False: the action takes no object id (it creates in the principal's own tenant)."""


ACTIONS = [
    Action(
        "conversations.set_status",
        "conversations.act",
        "agent",
        lambda s, c, p, x: conversations.set_status(s, p, x.conversation, "pending", at=c.now()),
    ),
    Action(
        "conversations.tag",
        "conversations.act",
        "agent",
        lambda s, c, p, x: conversations.tag(s, p, x.conversation, add=["vip"], at=c.now()),
    ),
    Action(
        "conversations.add_note",
        "conversations.act",
        "agent",
        lambda s, c, p, x: conversations.add_note(s, p, x.conversation, "Checked.", at=c.now()),
    ),
    Action(
        "replies.draft_reply",
        "replies.write",
        "agent",
        lambda s, c, p, x: replies.draft_reply(s, c, p, x.conversation, "Hi", channels=CHANNELS),
    ),
    Action(
        "replies.edit_reply",
        "replies.write",
        "agent",
        lambda s, c, p, x: replies.edit_reply(s, c, p, x.draft, text="Hi again"),
    ),
    Action(
        "replies.send_reply",
        "replies.write",
        "agent",
        lambda s, c, p, x: replies.send_reply(s, c, p, x.draft, channels=CHANNELS),
    ),
    Action(
        "replies.approve_reply",
        "replies.approve",
        "supervisor",
        lambda s, c, p, x: replies.approve_reply(s, c, p, x.pending, channels=CHANNELS),
    ),
    Action(
        "replies.reject_reply",
        "replies.approve",
        "supervisor",
        lambda s, c, p, x: replies.reject_reply(s, c, p, x.pending, "Too curt"),
    ),
    Action(
        "replies.moderate_mention",
        "moderation.act",
        "agent",
        lambda s, c, p, x: replies.moderate_mention(s, c, p, x.mention, "hide", channels=CHANNELS),
    ),
    Action(
        "replies.set_approval_policy",
        "approvals.manage",
        "supervisor",
        lambda s, c, p, x: replies.set_approval_policy(
            s, c, p, replies.ApprovalPolicy(brands=frozenset({x.brand}))
        ),
    ),
    Action(
        "canned.add_canned_reply",
        "canned.manage",
        "supervisor",
        lambda s, c, p, x: add_canned_reply(
            s, c, p, name="Hi", text="Hi {name}", lang="en", brand_id=x.brand
        ),
    ),
    Action(
        "incidents.attach_conversations",
        "conversations.act",
        "agent",
        lambda s, c, p, x: incidents.attach_conversations(s, c, p, x.incident, [x.conversation]),
    ),
    Action(
        "incidents.set_holding_answer",
        "replies.write",
        "agent",
        lambda s, c, p, x: incidents.set_holding_answer(s, c, p, x.incident, "Sorry!"),
    ),
    Action(
        "incidents.approve_holding_answer",
        "incidents.manage",
        "supervisor",
        lambda s, c, p, x: incidents.approve_holding_answer(s, c, p, x.incident, "Sorry!"),
    ),
    Action(
        "incidents.close_incident",
        "incidents.manage",
        "supervisor",
        lambda s, c, p, x: incidents.close_incident(s, c, p, x.incident),
    ),
    Action(
        "incidents.bulk_reply",
        "replies.write",
        "agent",
        lambda s, c, p, x: incidents.bulk_reply(s, c, p, x.incident, channels=CHANNELS),
    ),
    Action(
        "handover.escalate",
        "handover.act",
        "agent",
        lambda s, c, p, x: handover.escalate(s, c, p, x.conversation, x.billing, {}),
    ),
    Action(
        "handover.hand_back",
        "handover.act",
        "supervisor",
        lambda s, c, p, x: handover.hand_back(s, c, p, x.held, "Refunded."),
    ),
    Action(
        "routing.set_presence",
        "presence.set",
        "agent",
        lambda s, c, p, x: routing.set_presence(s, c, p, x.agent, "away"),
    ),
    Action(
        "routing.assign",
        "conversations.assign",
        "agent",
        lambda s, c, p, x: routing.assign(s, c, p, x.conversation, p.user_id),
    ),
    Action(
        "routing.reassign",
        "conversations.assign_others",
        "supervisor",
        lambda s, c, p, x: routing.reassign(s, c, p, x.conversation, x.agent),
    ),
    Action(
        "contacts.merge",
        "contacts.manage",
        "agent",
        lambda s, c, p, x: contacts.merge(s, p, x.contact, x.other_contact, at=c.now()),
    ),
    Action(
        "contacts.split",
        "contacts.manage",
        "agent",
        lambda s, c, p, x: contacts.split(s, p, x.contact, [x.second_identity], at=c.now()),
    ),
    Action(
        "teams.add_team",
        "teams.manage",
        "supervisor",
        lambda s, c, p, x: teams.add_team(s, c, p, "Night shift"),
        finds_objects=False,
    ),
    Action(
        "teams.add_member",
        "teams.manage",
        "supervisor",
        lambda s, c, p, x: teams.add_member(s, c, p, x.front, x.supervisor),
    ),
    Action(
        "teams.remove_member",
        "teams.manage",
        "supervisor",
        lambda s, c, p, x: teams.remove_member(s, c, p, x.front, x.agent),
    ),
    Action(
        "teams.add_queue",
        "teams.manage",
        "supervisor",
        lambda s, c, p, x: teams.add_queue(s, c, p, "All", team_id=x.front),
    ),
    Action(
        "teams.set_agent",
        "teams.manage",
        "supervisor",
        lambda s, c, p, x: teams.set_agent(s, c, p, x.agent, capacity=3),
    ),
    Action(
        "surveys.send_survey",
        "conversations.act",
        "agent",
        lambda s, c, p, x: send_survey(s, c, SURVEYS, p, x.resolved, "csat"),
    ),
]


def test_every_action_names_a_policy_action() -> None:
    assert {a.policy for a in ACTIONS} <= set(POLICY)
    assert len({a.name for a in ACTIONS}) == len(ACTIONS)


@pytest.mark.parametrize("action", ACTIONS, ids=[a.name for a in ACTIONS])
def test_only_the_right_principal_acts(db: Database, clock: FrozenClock, action: Action) -> None:
    scene = build(db, clock)
    clock.advance(timedelta(minutes=5))

    # (a) a real admin of tenant B: A's objects do not exist for them
    with session_scope(db.factory) as session:
        theirs = acting(session, scene.other_admin, scene.other_tenant_id)
        assert theirs.role == "admin"
        if action.finds_objects:
            with pytest.raises(NotFoundError):
                action.call(session, clock, theirs, scene)
        else:  # what they make lands in their own tenant
            made = action.call(session, clock, theirs, scene)
            assert isinstance(made, Team)
            assert made.tenant_id == scene.other_tenant_id
        session.rollback()

    # (b) the same person claiming admin in tenant A: refresh refuses the principal
    with session_scope(db.factory) as session, pytest.raises(NotFoundError, match="acme"):
        action.call(session, clock, forged(scene.other_admin, scene.tenant_id), scene)

    # (c) A's viewer, wherever the policy table denies viewers
    with session_scope(db.factory) as session:
        viewer = acting(session, scene.viewer, scene.tenant_id)
        if "viewer" not in POLICY[action.policy]:
            with pytest.raises(ForbiddenError, match=action.policy):
                action.call(session, clock, viewer, scene)
        session.rollback()

    # (d) the principal who may do it does it
    with session_scope(db.factory) as session:
        legitimate = acting(session, getattr(scene, action.who), scene.tenant_id)
        assert legitimate.role == action.who
        action.call(session, clock, legitimate, scene)


def test_a_principal_loses_its_power_when_its_role_is_revoked(
    db: Database, clock: FrozenClock
) -> None:
    """A principal resolved a moment ago no longer acts once the role is taken away: the
    services re-read it (``refresh``) instead of trusting the role it carries."""
    from clameur.tenancy import revoke
    from clameur.tenancy.models import User

    scene = build(db, clock)
    with session_scope(db.factory) as session:
        agent = acting(session, scene.agent, scene.tenant_id)
        user = session.get(User, scene.agent)
        assert user is not None
        assert revoke(session, user, scene.tenant_id)
        with pytest.raises(NotFoundError):
            conversations.set_status(session, agent, scene.conversation, "pending", at=OPENED)
    with session_scope(db.factory) as session:
        supervisor = acting(session, scene.supervisor, scene.tenant_id)
        demoted = Principal(**{**_fields(supervisor), "role": "admin"})  # claims more
        user = session.get(User, scene.supervisor)
        assert user is not None
        user.active = False
        with pytest.raises(NotFoundError, match="deactivated"):
            replies.approve_reply(session, clock, demoted, scene.pending, channels=CHANNELS)


def _fields(principal: Principal) -> dict[str, object]:
    return {name: getattr(principal, name) for name in Principal.__dataclass_fields__}
