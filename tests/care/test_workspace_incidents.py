"""Crisis mode's progress bar: one row per author of a bulk reply, as the outbox sends it."""

from __future__ import annotations

import pytest

from clameur.care.incidents import (
    approve_holding_answer,
    attach_conversations,
    bulk_progress,
    bulk_reply,
)
from clameur.care.models import Reply
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import NotFoundError
from tests.care.test_incidents import HOLDING, _incident, crowd
from tests.care.test_replies import deliver, make_conversation, make_world, recording_registry
from tests.conftest import Database
from tests.factories import acting


def test_the_progress_of_a_bulk_reply_one_row_per_author(db: Database, clock: FrozenClock) -> None:
    """12 conversations of 10 authors: 10 replies; run twice, nobody is answered twice; the
    rows follow the replies from queued to sent (or failed) through the outbox."""
    world = make_world(db, clock)
    channels, recorder = recording_registry()
    with session_scope(db.factory) as session:
        members = crowd(session, world, 10, 2)
        incident_id = _incident(session, clock, world, members)
        boss = acting(session, world.supervisor, world.tenant_id)
        approve_holding_answer(session, clock, boss, incident_id, HOLDING)
        before = bulk_progress(session, acting(session, world.viewer, world.tenant_id), incident_id)
    assert before["authors"] == 10
    assert before["done"] == 0
    assert before["totals"]["unanswered"] == 10
    assert {r["status"] for r in before["rows"]} == {"unanswered"}
    assert [r["handle"] for r in before["rows"]] == [f"cust{n:03d}" for n in range(10)]

    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        first = bulk_reply(session, clock, agent, incident_id, channels=channels)
        again = bulk_reply(session, clock, agent, incident_id, channels=channels)
    assert (len(first.replies), len(again.replies), len(again.skipped_authors)) == (10, 0, 10)

    with session_scope(db.factory) as session:
        queued = bulk_progress(session, acting(session, world.agent, world.tenant_id), incident_id)
    assert queued["totals"]["queued"] == 10
    assert queued["totals"]["unanswered"] == 0
    assert queued["done"] == 0
    assert sorted(r["reply_id"] for r in queued["rows"]) == sorted(first.replies)
    twice = next(r for r in queued["rows"] if r["handle"] == "cust000")
    latest = max(c.id for c in members if c.author_id == twice["author_id"])
    assert twice["conversation_id"] == latest, "answered in their latest conversation"

    assert deliver(db, clock, channels) == 10
    assert len(recorder.replies()) == 10
    with session_scope(db.factory) as session:
        broken = session.get_one(Reply, first.replies[3])
        broken.status, broken.error, broken.sent_at = "failed", "channel down", None
        newcomer = make_conversation(session, world.tenant_id, "late", brand_id=world.brand_id)
        attach_conversations(
            session,
            clock,
            acting(session, world.agent, world.tenant_id),
            incident_id,
            [newcomer.id],
        )
    with session_scope(db.factory) as session:
        done = bulk_progress(session, acting(session, world.viewer, world.tenant_id), incident_id)
    assert done["authors"] == 11
    assert {k: v for k, v in done["totals"].items() if v} == {
        "sent": 9,
        "failed": 1,
        "unanswered": 1,
    }
    assert done["done"] == 10
    failed = next(r for r in done["rows"] if r["status"] == "failed")
    assert (failed["reply_id"], failed["error"], failed["sent_at"]) == (
        first.replies[3],
        "channel down",
        None,
    )
    sent = [r for r in done["rows"] if r["status"] == "sent"]
    assert all(r["sent_at"] is not None for r in sent)
    assert done["rows"][-1]["handle"] == "late"
    assert [r["reply_id"] for r in done["rows"][:10]] == sorted(first.replies)


def test_progress_is_scoped_to_the_tenant(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        incident_id = _incident(session, clock, world, crowd(session, world, 2, 0))
    other = make_world(db, clock, "globex")
    with session_scope(db.factory) as session:
        stranger = acting(session, other.admin, other.tenant_id)
        with pytest.raises(NotFoundError):
            bulk_progress(session, stranger, incident_id)
