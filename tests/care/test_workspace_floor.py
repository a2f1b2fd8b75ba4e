"""The supervisor floor: agents and load, queue depths, oldest waiting, SLA at risk and
breached, open alerts and incidents — in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from clameur.care import routing, sla, sla_sweep, teams
from clameur.care.floor import floor
from clameur.care.models import Conversation, Incident
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.detection.models import Alert
from clameur.errors import InvalidInputError, NotFoundError
from tests.care.test_replies import OPENED, World, make_conversation, make_world
from tests.conftest import Database
from tests.factories import acting, forged, member

NOW = OPENED + timedelta(minutes=50)
"""First-response target 60 min, warning at 80 %: a conversation opened at OPENED is at
risk now, one opened 70 minutes before OPENED is breached."""


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _alert(session: Session, tenant_id: int, severity: str, status: str = "open") -> None:
    session.add(
        Alert(
            tenant_id=tenant_id,
            kind="volume_spike",
            severity=severity,
            key=f"spike:{severity}:{status}",
            triggered_at=OPENED,
            updated_at=OPENED,
            status=status,
            summary="spike",
            count=0,
            evidence={},
        )
    )


def _floor_world(db: Database, clock: FrozenClock, extra: int = 0) -> tuple[World, dict[str, int]]:
    world = make_world(db, clock)
    ids: dict[str, int] = {}
    with session_scope(db.factory) as session:
        tid = world.tenant_id
        boss = acting(session, world.supervisor, tid)
        zoe = member(session, clock, "zoe@acme.example", tid, "agent", name="Zoe").id
        front = teams.add_team(session, clock, boss, "Front")
        night = teams.add_team(session, clock, boss, "Night")
        for team_id, user in ((front.id, world.agent), (night.id, world.agent), (front.id, zoe)):
            teams.add_member(session, clock, boss, team_id, user)
        teams.set_agent(session, clock, boss, world.agent, capacity=3)
        routing.set_presence(session, clock, boss, world.agent, "online")
        routing.set_presence(session, clock, boss, zoe, "away")
        main = teams.add_queue(session, clock, boss, "Main", team_id=front.id, position=1)
        vip = teams.add_queue(session, clock, boss, "VIP", team_id=front.id, position=2)
        sla.set_policy(session, tid, first_response_minutes=60)

        def conv(handle: str, minutes: int, **values: Any) -> int:
            return make_conversation(session, tid, handle, minutes=minutes, **values).id

        ids["risk"] = conv("risk", 0, queue_id=main.id)
        ids["late"] = conv("late", -70, queue_id=main.id)
        ids["recent"] = conv(
            "recent", -30, queue_id=main.id, last_customer_at=OPENED - timedelta(minutes=5)
        )
        ids["held"] = conv("held", -80, queue_id=main.id, assignee_id=world.agent)
        ids["waiting"] = conv("waiting", -90, queue_id=vip.id)
        ids["admin"] = conv("admins", 10, queue_id=vip.id, assignee_id=world.admin)
        ids["done"] = conv("done", -100, queue_id=vip.id, status="resolved")
        ids["nowhere"] = conv("nowhere", 20)
        for n in range(extra):
            conv(f"more{n}", 30 + n, queue_id=vip.id)
        everything = [i for k, i in ids.items() if k != "done"]
        messages = [(i, session.get_one(Conversation, i).opened_at) for i in everything]
        sla.on_customer_messages(session, tid, messages)
        waiting = session.get_one(Conversation, ids["waiting"])
        waiting.status = "waiting"
        sla.on_status_change(session, tid, waiting.id, OPENED - timedelta(minutes=89))
        for severity, status in (("high", "open"), ("high", "resolved"), ("low", "open")):
            _alert(session, tid, severity, status)
        session.add_all(
            Incident(tenant_id=tid, title=t, status=s, opened_at=OPENED)
            for t, s in (("a", "open"), ("b", "closed"))
        )
        ids.update(main=main.id, vip=vip.id, zoe=zoe)
    return world, ids


def test_the_floor(db: Database, clock: FrozenClock) -> None:
    world, ids = _floor_world(db, clock)
    other = make_world(db, clock, "globex")
    with session_scope(db.factory) as session:
        make_conversation(session, other.tenant_id, "theirs")  # another tenant's: not counted
        _alert(session, other.tenant_id, "critical")
    with session_scope(db.factory) as session:
        shown = floor(session, acting(session, world.supervisor, world.tenant_id), NOW)
    assert shown.at == NOW
    assert (shown.open, shown.unassigned, shown.unqueued) == (7, 4, 1)
    assert (shown.sla_at_risk, shown.sla_breached) == (1, 3)
    assert shown.alerts_open == {"low": 1, "medium": 0, "high": 1, "critical": 0}
    assert shown.incidents_open == 1

    main, vip = shown.queues
    assert (main.id, main.name, main.team) == (ids["main"], "Main", "Front")
    assert (main.open, main.depth) == (4, 3)
    assert main.oldest_waiting_seconds == 120 * 60, "late: waiting since 70 min before OPENED"
    assert (main.at_risk, main.breached) == (1, 3), "risk is warned; late, recent and held due"
    assert (vip.open, vip.depth, vip.at_risk, vip.breached) == (2, 0, 0, 0)
    assert vip.oldest_waiting_seconds is None

    agents = {a.email: a for a in shown.agents}
    assert list(agents) == ["agent@acme.example", "zoe@acme.example", "admin@acme.example"]
    agent = agents["agent@acme.example"]
    assert (agent.presence, agent.open_assigned, agent.capacity) == ("online", 1, 3)
    assert agent.teams == ("Front", "Night")
    assert agent.presence_since is not None
    assert (agents["zoe@acme.example"].presence, agents["zoe@acme.example"].teams) == (
        "away",
        ("Front",),
    )
    admin = agents["admin@acme.example"]
    assert (admin.presence, admin.open_assigned, admin.teams) == ("offline", 1, ())
    assert shown.agents_online == 1

    # the SLA sweep's marks (warned_at, breached_at) tell the same story
    with session_scope(db.factory) as session:
        events = sla_sweep.sweep(session, clock, world.tenant_id, NOW)
        assert sorted(e.kind for e in events) == ["sla_breach"] * 3 + ["sla_warning"]
    with session_scope(db.factory) as session:
        swept = floor(session, acting(session, world.supervisor, world.tenant_id), NOW)
    assert (swept.sla_at_risk, swept.sla_breached) == (1, 3)
    assert [(q.at_risk, q.breached) for q in swept.queues] == [(1, 3), (0, 0)]


def test_the_floor_costs_the_same_queries_for_any_number_of_conversations(
    db: Database, clock: FrozenClock
) -> None:
    world, _ = _floor_world(db, clock)
    with session_scope(db.factory) as session:
        principal = acting(session, world.supervisor, world.tenant_id)
        with counted(session) as few:
            small = floor(session, principal, NOW)
    with session_scope(db.factory) as session:
        for n in range(60):
            make_conversation(session, world.tenant_id, f"x{n}", minutes=n)
    with session_scope(db.factory) as session:
        principal = acting(session, world.supervisor, world.tenant_id)
        with counted(session) as many:
            big = floor(session, principal, NOW)
    assert big.open == small.open + 60
    assert len(many) == len(few) <= 12


def test_the_floor_needs_a_member_and_an_aware_time(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    other = make_world(db, clock, "globex")
    with session_scope(db.factory) as session:
        viewer = acting(session, world.viewer, world.tenant_id)
        assert floor(session, viewer, NOW).open == 0
        with pytest.raises(InvalidInputError, match="time zone"):
            floor(session, viewer, NOW.replace(tzinfo=None))
    with session_scope(db.factory) as session, pytest.raises(NotFoundError):
        floor(session, forged(other.admin, world.tenant_id), NOW)
