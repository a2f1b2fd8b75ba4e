"""A snoozed conversation is nobody's work until it wakes: assignment passes it by."""

from __future__ import annotations

from datetime import timedelta

from clameur.care.routing import assign_pending
from clameur.clock import FrozenClock
from clameur.db import session_scope
from tests.care.test_routing import assignees, front_desk, make_agents, make_conversation
from tests.conftest import Database


def test_assignment_skips_snoozed_conversations_until_they_wake(
    db: Database, clock: FrozenClock
) -> None:
    tenant_id, team_id, queue_id = front_desk(db, clock)
    with session_scope(db.factory) as session:
        (agent,) = make_agents(session, clock, tenant_id, team_id, ["ana"])
        until = clock.now() + timedelta(hours=2)
        asleep = make_conversation(session, tenant_id, "a", queue_id=queue_id, snoozed_until=until)
        awake = make_conversation(session, tenant_id, "b", queue_id=queue_id, minutes=1)
        asleep_id, awake_id = asleep.id, awake.id
    with session_scope(db.factory) as session:
        assign_pending(session, clock, tenant_id)
        found = assignees(session, tenant_id)
    assert found == {asleep_id: None, awake_id: agent}
    with session_scope(db.factory) as session:
        session.get_one(type(asleep), asleep_id).snoozed_until = None  # it woke
    with session_scope(db.factory) as session:
        assign_pending(session, clock, tenant_id)
        assert assignees(session, tenant_id)[asleep_id] == agent
