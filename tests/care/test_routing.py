"""Routing to queues, round-robin assignment with capacity and presence, supervisor override,
and concurrent dispatchers on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from clameur.care.models import AgentState, Conversation, ConversationEvent
from clameur.care.routing import (
    assign,
    assign_next,
    assign_pending,
    reassign,
    route,
    route_pending,
    set_presence,
)
from clameur.care.teams import add_member, add_queue, add_team, set_agent
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import AlreadyExistsError, ForbiddenError, InvalidInputError, NotFoundError
from clameur.mentions.models import Author
from clameur.tenancy import add_user, get_brand
from clameur.tenancy.models import AuditEntry
from tests.conftest import Database, make_tenant
from tests.factories import acting, forged, lead, member

OPENED = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


def make_conversation(
    session: Session, tenant_id: int, handle: str, *, minutes: int = 0, **values: Any
) -> Conversation:
    """A stored open conversation of a new author (``values`` override any column)."""
    at = OPENED + timedelta(minutes=minutes)
    source = values.get("source", "twitter")
    author = Author(
        tenant_id=tenant_id, source=source, handle=handle, first_seen_at=at, last_seen_at=at
    )
    session.add(author)
    session.flush()
    columns: dict[str, Any] = {
        "source": source,
        "status": "open",
        "root_external_id": f"m-{handle}",
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
    conversation = Conversation(tenant_id=tenant_id, author_id=author.id, **columns)
    session.add(conversation)
    session.flush()
    return conversation


def make_agents(
    session: Session,
    clock: FrozenClock,
    tenant_id: int,
    team_id: int,
    names: list[str],
    *,
    capacity: int = 5,
    skills: list[str] | None = None,
    languages: list[str] | None = None,
    presence: str = "online",
) -> list[int]:
    ids = []
    for name in names:
        user = member(session, clock, f"{name}@bpo.example", tenant_id, "agent")
        add_member(session, clock, lead(session, clock, tenant_id), team_id, user.id)
        set_agent(
            session,
            clock,
            lead(session, clock, tenant_id),
            user.id,
            skills=skills or [],
            languages=languages or [],
            capacity=capacity,
        )
        set_presence(session, clock, acting(session, user.id, tenant_id), user.id, presence)
        ids.append(user.id)
    return ids


def front_desk(
    db: Database, clock: FrozenClock, slug: str = "acme", **queue: Any
) -> tuple[int, int, int]:
    """A tenant with one front team and one catch-all queue: (tenant, team, queue) ids."""
    tenant = make_tenant(db, clock, slug, {"volta": ["volta"]})
    with session_scope(db.factory) as session:
        team = add_team(session, clock, lead(session, clock, tenant.id), "Front")
        q = add_queue(
            session, clock, lead(session, clock, tenant.id), "All", team_id=team.id, **queue
        )
        return tenant.id, team.id, q.id


def assignees(session: Session, tenant_id: int) -> dict[int, int | None]:
    rows = session.execute(
        select(Conversation.id, Conversation.assignee_id).where(Conversation.tenant_id == tenant_id)
    )
    return {cid: who for cid, who in rows}


def events(session: Session, tenant_id: int, kind: str) -> list[ConversationEvent]:
    return list(
        session.scalars(
            select(ConversationEvent)
            .where(ConversationEvent.tenant_id == tenant_id, ConversationEvent.kind == kind)
            .order_by(ConversationEvent.id)
        )
    )


# -- routing -----------------------------------------------------------------------------


def test_route_takes_the_first_matching_queue_by_position(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"], "nova": ["nova"]})
    with session_scope(db.factory) as session:
        nova = get_brand(session, tenant.id, "nova")
        team = add_team(session, clock, lead(session, clock, tenant.id), "Front")
        catch_all = add_queue(
            session, clock, lead(session, clock, tenant.id), "Rest", team_id=team.id, position=50
        )
        urgent = add_queue(
            session,
            clock,
            lead(session, clock, tenant.id),
            "Urgent",
            team_id=team.id,
            position=1,
            min_level="P2",
        )
        french = add_queue(
            session,
            clock,
            lead(session, clock, tenant.id),
            "French",
            team_id=team.id,
            position=2,
            languages=["fr-FR"],
        )
        nova_mail = add_queue(
            session,
            clock,
            lead(session, clock, tenant.id),
            "Nova mail",
            team_id=team.id,
            position=3,
            brand_ids=[nova.id],
            sources=["email"],
        )
        p1 = make_conversation(session, tenant.id, "a", priority_level="P1", lang="fr")
        p2 = make_conversation(session, tenant.id, "b", priority_level="P2")
        fr = make_conversation(session, tenant.id, "c", lang="fr")
        mail = make_conversation(session, tenant.id, "d", source="email", brand_id=nova.id)
        tweet = make_conversation(session, tenant.id, "e", brand_id=nova.id)
        unscored = make_conversation(session, tenant.id, "f", priority_level=None)
        assert route(session, tenant.id, p1) is urgent
        assert route(session, tenant.id, p2) is urgent
        assert route(session, tenant.id, fr) is french
        assert route(session, tenant.id, mail) is nova_mail
        assert route(session, tenant.id, tweet) is catch_all
        assert route(session, tenant.id, unscored) is catch_all
        assert tweet.queue_id == catch_all.id
        assert french.filters["languages"] == ["fr"]


def test_route_pending_routes_unrouted_open_conversations_and_leaves_unmatched(
    db: Database, clock: FrozenClock
) -> None:
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    with session_scope(db.factory) as session:
        team = add_team(session, clock, lead(session, clock, tenant.id), "Front")
        english = add_queue(
            session,
            clock,
            lead(session, clock, tenant.id),
            "English",
            team_id=team.id,
            languages=["en"],
        )
        en = make_conversation(session, tenant.id, "a")
        de = make_conversation(session, tenant.id, "b", lang="de")
        closed = make_conversation(session, tenant.id, "c", status="closed")
        assert route_pending(session, tenant.id) == 1
        assert (en.queue_id, de.queue_id, closed.queue_id) == (english.id, None, None)


def test_route_refuses_another_tenants_conversation(db: Database, clock: FrozenClock) -> None:
    make_tenant(db, clock, "acme", {})
    other = make_tenant(db, clock, "other", {})
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, other.id, "a")
        with pytest.raises(NotFoundError):
            route(session, other.id - 1, conversation)


# -- round-robin, capacity, presence -----------------------------------------------------


def test_round_robin_spreads_conversations_evenly_among_equal_agents(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        agents = make_agents(session, clock, tenant_id, team_id, ["ann", "bob", "cat"], capacity=10)
        for n in range(12):
            make_conversation(session, tenant_id, f"c{n}", queue_id=queue_id, minutes=n)
        done = assign_next(session, clock, tenant_id, queue_id)
        assert len(done) == 12
        assert Counter(a.user_id for a in done) == {agent: 4 for agent in agents}
        # in queue order, the agents take turns
        assert [a.user_id for a in done[:6]] == agents + agents
        assert len(events(session, tenant_id, "assign")) == 12
        audits = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "conversation.assign")
        ).all()
        assert len(audits) == 12


def test_round_robin_gives_the_next_one_to_the_agent_idle_longest(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        agents = make_agents(session, clock, tenant_id, team_id, ["ann", "bob", "cat"])
        got = []
        for n in range(6):
            clock.advance(timedelta(minutes=1))
            make_conversation(session, tenant_id, f"c{n}", queue_id=queue_id)
            (assignment,) = assign_next(session, clock, tenant_id, queue_id)
            got.append(assignment.user_id)
        assert got == agents + agents
        # a supervisor's assignment counts too: ann just got one, so bob is the idlest
        clock.advance(timedelta(minutes=1))
        supervisor = member(session, clock, "sup@bpo.example", tenant_id, "supervisor")
        extra = make_conversation(session, tenant_id, "x", queue_id=None)
        reassign(session, clock, acting(session, supervisor.id, tenant_id), extra.id, agents[0])
        clock.advance(timedelta(minutes=1))
        make_conversation(session, tenant_id, "y", queue_id=queue_id)
        assert [a.user_id for a in assign_next(session, clock, tenant_id, queue_id)] == [agents[1]]


def test_capacity_is_never_exceeded_and_the_overflow_stays_queued_in_order(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        ann, bob = make_agents(session, clock, tenant_id, team_id, ["ann", "bob"], capacity=2)
        ids = [
            make_conversation(
                session, tenant_id, f"c{n}", queue_id=queue_id, minutes=n, priority=float(p)
            ).id
            for n, p in enumerate([10, 90, 50, 90, 30, 70, 20])
        ]
        done = assign_next(session, clock, tenant_id, queue_id)
        # priority desc, then oldest first: 90 (c1), 90 (c3), 70 (c5), 50 (c2)
        assert [a.conversation_id for a in done] == [ids[1], ids[3], ids[5], ids[2]]
        assert Counter(a.user_id for a in done) == {ann: 2, bob: 2}
        left = [cid for cid, who in assignees(session, tenant_id).items() if who is None]
        assert sorted(left) == sorted([ids[0], ids[4], ids[6]])
        assert assign_pending(session, clock, tenant_id) == []
        # resolving one frees a slot: the best waiting one (30, c4) goes to its agent
        resolved = session.get(Conversation, ids[1])
        assert resolved is not None
        resolved.status = "resolved"
        holder = resolved.assignee_id
        (again,) = assign_pending(session, clock, tenant_id)
        assert (again.conversation_id, again.user_id) == (ids[4], holder)


def test_capacity_counts_the_agents_work_in_every_tenant(db: Database, clock: FrozenClock) -> None:
    a_id, a_team, a_queue = front_desk(db, clock, "alpha")
    b_id, b_team, b_queue = front_desk(db, clock, "beta")
    with session_scope(db.factory) as session:
        (ann,) = make_agents(session, clock, a_id, a_team, ["ann"], capacity=3)
        member(session, clock, "ann@bpo.example", b_id, "agent")  # she serves beta too
        add_member(session, clock, lead(session, clock, b_id), b_team, ann)
        for n in range(2):
            make_conversation(session, a_id, f"a{n}", queue_id=a_queue)
            make_conversation(session, b_id, f"b{n}", queue_id=b_queue)
        assert len(assign_pending(session, clock, a_id)) == 2
        assert len(assign_pending(session, clock, b_id)) == 1  # 2 + 1 = capacity 3


def test_offline_and_away_agents_get_nothing_and_give_back_unanswered_work(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        (ann,) = make_agents(session, clock, tenant_id, team_id, ["ann"])
        (bob,) = make_agents(session, clock, tenant_id, team_id, ["bob"], presence="offline")
        (cat,) = make_agents(session, clock, tenant_id, team_id, ["cat"], presence="away")
        ids = [
            make_conversation(session, tenant_id, f"c{n}", queue_id=queue_id, minutes=n).id
            for n in range(3)
        ]
        done = assign_next(session, clock, tenant_id, queue_id)
        assert {a.user_id for a in done} == {ann}
        answered = session.get(Conversation, ids[0])
        assert answered is not None
        answered.first_response_at = answered.last_agent_at = clock.now()

        clock.advance(timedelta(minutes=5))
        given_back = set_presence(session, clock, acting(session, ann, tenant_id), ann, "away")
        assert sorted(given_back) == ids[1:]
        assert assignees(session, tenant_id) == {ids[0]: ann, ids[1]: None, ids[2]: None}
        unassigned = events(session, tenant_id, "unassign")
        assert [e.data["from"] for e in unassigned] == [ann, ann]
        assert assign_pending(session, clock, tenant_id) == []  # nobody online

        set_presence(session, clock, acting(session, bob, tenant_id), bob, "online")
        done = assign_pending(session, clock, tenant_id)
        assert {a.conversation_id: a.user_id for a in done} == {ids[1]: bob, ids[2]: bob}
        state = session.get(AgentState, cat)
        assert state is not None
        assert state.presence == "away"
        presence_audit = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "agent.presence", AuditEntry.object_id == ann
            )
        ).all()
        assert presence_audit[-1].data["given_back"] == ids[1:]


def test_skills_and_languages_decide_who_may_take_a_conversation(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock, skills=["Billing"])
    with session_scope(db.factory) as session:
        (fr_agent,) = make_agents(
            session,
            clock,
            tenant_id,
            team_id,
            ["fr"],
            skills=["billing", "legal"],
            languages=["fr"],
        )
        (en_agent,) = make_agents(
            session, clock, tenant_id, team_id, ["en"], skills=["billing"], languages=["en", "es"]
        )
        make_agents(session, clock, tenant_id, team_id, ["unskilled"], languages=["fr", "de"])
        ids = {
            lang: make_conversation(
                session, tenant_id, f"c-{lang}", queue_id=queue_id, lang=lang, minutes=n
            ).id
            for n, lang in enumerate(["fr", "en", "de", "es-MX", "FR-ca"])
        }
        done = {
            a.conversation_id: a.user_id for a in assign_next(session, clock, tenant_id, queue_id)
        }
        assert done == {
            ids["fr"]: fr_agent,
            ids["en"]: en_agent,
            ids["es-MX"]: en_agent,
            ids["FR-ca"]: fr_agent,
        }
        assert assignees(session, tenant_id)[ids["de"]] is None


def test_a_language_nobody_free_speaks_does_not_block_the_queue(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        (fr_agent,) = make_agents(
            session, clock, tenant_id, team_id, ["fr"], capacity=1, languages=["fr"]
        )
        (en_agent,) = make_agents(
            session, clock, tenant_id, team_id, ["en"], capacity=2, languages=["en"]
        )
        fr_ids = [
            make_conversation(
                session, tenant_id, f"fr{n}", queue_id=queue_id, lang="fr", priority=90.0
            ).id
            for n in range(5)
        ]
        en_ids = [
            make_conversation(
                session, tenant_id, f"en{n}", queue_id=queue_id, lang="en", priority=10.0
            ).id
            for n in range(3)
        ]
        done = {
            a.conversation_id: a.user_id for a in assign_next(session, clock, tenant_id, queue_id)
        }
        assert done == {fr_ids[0]: fr_agent, en_ids[0]: en_agent, en_ids[1]: en_agent}


# -- supervisor override -----------------------------------------------------------------


def test_supervisor_override_ignores_capacity_and_agents_are_refused(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        ann, bob = make_agents(session, clock, tenant_id, team_id, ["ann", "bob"], capacity=1)
        set_presence(session, clock, acting(session, bob, tenant_id), bob, "offline")
        supervisor = member(session, clock, "sup@bpo.example", tenant_id, "supervisor")
        viewer = member(session, clock, "view@client.example", tenant_id, "viewer")
        first = make_conversation(session, tenant_id, "a", queue_id=queue_id)
        second = make_conversation(session, tenant_id, "b", queue_id=queue_id, minutes=1)
        assert [a.user_id for a in assign_next(session, clock, tenant_id, queue_id)] == [ann]
        assert first.assignee_id == ann
        assert second.assignee_id is None

        with pytest.raises(ForbiddenError, match="agent may not do conversations.assign_others"):
            reassign(session, clock, acting(session, ann, tenant_id), second.id, ann)
        with pytest.raises(InvalidInputError, match="viewer"):
            reassign(
                session, clock, acting(session, supervisor.id, tenant_id), second.id, viewer.id
            )
        assert second.assignee_id is None

        reassign(
            session, clock, acting(session, supervisor.id, tenant_id), second.id, ann
        )  # ann is full
        reassign(
            session, clock, acting(session, supervisor.id, tenant_id), first.id, bob
        )  # bob is offline
        assert (first.assignee_id, second.assignee_id) == (bob, ann)
        moves = events(session, tenant_id, "assign")[-2:]
        assert [(e.actor_id, e.data["to"], e.data["from"], e.data["override"]) for e in moves] == [
            (supervisor.id, ann, None, True),
            (supervisor.id, bob, ann, True),
        ]
        reassign(
            session, clock, acting(session, supervisor.id, tenant_id), first.id, None
        )  # back to the queue
        assert first.assignee_id is None
        assert events(session, tenant_id, "unassign")[-1].actor_id == supervisor.id
        first.status = "closed"
        with pytest.raises(InvalidInputError, match="closed"):
            reassign(session, clock, acting(session, supervisor.id, tenant_id), first.id, ann)


def test_agents_assign_to_themselves_and_supervisors_to_anyone(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        ann, bob = make_agents(session, clock, tenant_id, team_id, ["ann", "bob"], capacity=1)
        viewer = member(session, clock, "view@client.example", tenant_id, "viewer")
        outsider = add_user(session, clock, "out@bpo.example")  # no role in any tenant
        as_ann, as_bob = acting(session, ann, tenant_id), acting(session, bob, tenant_id)
        sup = lead(session, clock, tenant_id)
        first = make_conversation(session, tenant_id, "a", queue_id=queue_id)
        second = make_conversation(session, tenant_id, "b", queue_id=queue_id)

        assign(session, clock, as_ann, first.id, ann)  # "assign to me", whatever her capacity
        assign(session, clock, as_ann, second.id, ann)
        assert (first.assignee_id, second.assignee_id) == (ann, ann)
        with pytest.raises(ForbiddenError, match="conversations.assign_others"):
            assign(session, clock, as_bob, first.id, bob)  # taking it from ann
        with pytest.raises(ForbiddenError, match="conversations.assign_others"):
            assign(session, clock, as_ann, first.id, bob)  # giving it to someone else
        with pytest.raises(ForbiddenError, match="conversations.assign"):
            assign(session, clock, acting(session, viewer.id, tenant_id), first.id, viewer.id)
        assign(session, clock, as_ann, second.id, None)  # she gives one back
        assert second.assignee_id is None
        assign(session, clock, sup, first.id, bob)
        assert first.assignee_id == bob
        with pytest.raises(InvalidInputError, match="viewer"):
            assign(session, clock, sup, first.id, viewer.id)
        with pytest.raises(NotFoundError, match="to_user_id"):
            assign(session, clock, sup, first.id, outsider.id)
        moves = [
            (e.actor_id, e.data["to"], e.data["by"]) for e in events(session, tenant_id, "assign")
        ]
        assert moves == [(ann, ann, "self"), (ann, ann, "self"), (sup.user_id, bob, "supervisor")]
        assert events(session, tenant_id, "unassign")[-1].actor_id == ann


def test_nothing_crosses_tenants(db: Database, clock: FrozenClock) -> None:
    a_id, a_team, a_queue = front_desk(db, clock, "alpha")
    b_id, b_team, b_queue = front_desk(db, clock, "beta")
    with session_scope(db.factory) as session:
        (ann,) = make_agents(session, clock, a_id, a_team, ["ann"])
        client_agent = member(session, clock, "agent@beta.example", b_id, "agent")
        supervisor = member(session, clock, "sup@bpo.example", a_id, "supervisor")
        theirs = make_conversation(session, b_id, "b", queue_id=b_queue)
        with pytest.raises(NotFoundError):
            assign_next(session, clock, a_id, b_queue)
        with pytest.raises(NotFoundError):
            reassign(session, clock, acting(session, supervisor.id, a_id), theirs.id, ann)
        with pytest.raises(NotFoundError):  # alpha's supervisor is nobody in beta
            reassign(session, clock, forged(supervisor.id, b_id), theirs.id, client_agent.id)
        with pytest.raises(NotFoundError):  # ann serves alpha only: not a target in beta
            reassign(session, clock, lead(session, clock, b_id), theirs.id, ann)
        with pytest.raises(NotFoundError):
            add_member(session, clock, lead(session, clock, a_id), a_team, client_agent.id)
        with pytest.raises(NotFoundError):
            add_member(session, clock, lead(session, clock, a_id), b_team, ann)
        assert assign_pending(session, clock, a_id) == []
        assert theirs.assignee_id is None


def test_teams_and_queues_are_checked(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    other = make_tenant(db, clock, "other", {"nova": ["nova"]})
    with session_scope(db.factory) as session:
        nova = get_brand(session, other.id, "nova")
        front = add_team(session, clock, lead(session, clock, tenant.id), "Front")
        with pytest.raises(AlreadyExistsError):
            add_team(session, clock, lead(session, clock, tenant.id), "Front")
        with pytest.raises(InvalidInputError, match="sla_minutes"):
            add_team(session, clock, lead(session, clock, tenant.id), "Billing", kind="back_office")
        with pytest.raises(InvalidInputError, match="kind"):
            add_team(session, clock, lead(session, clock, tenant.id), "X", kind="middle")
        billing = add_team(
            session,
            clock,
            lead(session, clock, tenant.id),
            "Billing",
            kind="back_office",
            sla_minutes=240,
            required_fields=["Invoice_number"],
        )
        assert billing.settings == {"sla_minutes": 240, "required_fields": ["invoice_number"]}
        with pytest.raises(InvalidInputError, match="back-office"):
            add_queue(session, clock, lead(session, clock, tenant.id), "Q", team_id=billing.id)
        with pytest.raises(InvalidInputError, match="min_level"):
            add_queue(
                session,
                clock,
                lead(session, clock, tenant.id),
                "Q",
                team_id=front.id,
                min_level="P9",
            )
        with pytest.raises(InvalidInputError, match="sources"):
            add_queue(
                session,
                clock,
                lead(session, clock, tenant.id),
                "Q",
                team_id=front.id,
                sources=["fax"],
            )
        with pytest.raises(NotFoundError, match="brand"):
            add_queue(
                session,
                clock,
                lead(session, clock, tenant.id),
                "Q",
                team_id=front.id,
                brand_ids=[nova.id],
            )
        viewer = member(session, clock, "v@acme.example", tenant.id, "viewer")
        with pytest.raises(InvalidInputError, match="viewer"):
            add_member(session, clock, lead(session, clock, tenant.id), front.id, viewer.id)
        agent = member(session, clock, "a@bpo.example", tenant.id, "agent")
        with pytest.raises(ForbiddenError, match="agent may not do teams.manage"):
            set_agent(session, clock, acting(session, agent.id, tenant.id), agent.id, capacity=9)
        with pytest.raises(InvalidInputError, match="capacity"):
            set_agent(session, clock, lead(session, clock, tenant.id), agent.id, capacity=-1)
        state = set_agent(
            session,
            clock,
            lead(session, clock, tenant.id),
            agent.id,
            skills=["Billing", "billing"],
            languages=["pt-BR"],
            capacity=3,
        )
        assert (state.skills, state.languages, state.presence) == (["billing"], ["pt"], "offline")
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.tenant_id == tenant.id)
        ).all()
        assert set(actions) >= {"team.add", "agent.set"}


# -- concurrency (PostgreSQL) ------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_dispatchers_never_double_assign(db: Database, clock: FrozenClock) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        team2 = add_team(session, clock, lead(session, clock, tenant_id), "Second")
        add_queue(
            session,
            clock,
            lead(session, clock, tenant_id),
            "Second",
            team_id=team2.id,
            position=200,
        )
        agents = make_agents(
            session, clock, tenant_id, team_id, ["a1", "a2", "a3", "a4"], capacity=5
        )
        for agent in agents[:2]:  # two agents work both teams' queues
            add_member(session, clock, lead(session, clock, tenant_id), team2.id, agent)
        for n in range(60):
            make_conversation(session, tenant_id, f"c{n}", queue_id=queue_id, minutes=n)
    workers = 6
    barrier = threading.Barrier(workers)
    results: list[int] = []
    errors: list[BaseException] = []

    def dispatch(n: int) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                with session_scope(db.factory) as session:
                    session.execute(text("SET LOCAL lock_timeout = '60s'"))
                    if n % 2:
                        done = assign_pending(session, clock, tenant_id)
                    else:
                        done = assign_next(session, clock, tenant_id, queue_id)
                    results.append(len(done))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatch, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results) == 20  # 4 agents × capacity 5
    with session_scope(db.factory) as session:
        taken = [who for who in assignees(session, tenant_id).values() if who is not None]
        assert Counter(taken) == {agent: 5 for agent in agents}
        assigned_events = Counter(e.conversation_id for e in events(session, tenant_id, "assign"))
        assert len(assigned_events) == 20
        assert set(assigned_events.values()) == {1}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_conversation_locked_elsewhere_is_skipped_not_waited_for(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        make_agents(session, clock, tenant_id, team_id, ["ann"], capacity=10)
        top = make_conversation(session, tenant_id, "top", queue_id=queue_id, priority=99.0).id
        rest = [
            make_conversation(session, tenant_id, f"c{n}", queue_id=queue_id).id for n in range(3)
        ]
    holder = db.session()
    try:  # another transaction (say, an escalation) holds the top conversation's row
        holder.execute(select(Conversation).where(Conversation.id == top).with_for_update()).one()
        with session_scope(db.factory) as session:
            session.execute(text("SET LOCAL lock_timeout = '30s'"))
            done = assign_next(session, clock, tenant_id, queue_id)
            assert sorted(a.conversation_id for a in done) == rest
    finally:
        holder.rollback()
        holder.close()
    with session_scope(db.factory) as session:
        assert [a.conversation_id for a in assign_next(session, clock, tenant_id, queue_id)] == [
            top
        ]
