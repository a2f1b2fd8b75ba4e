"""The reply box's collision rules: a colleague's conversation asks first (or is refused, per
team), and of two agents sending at once the second is refused with the first's reply."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care import collision, replies, teams
from clameur.care.collision import (
    AssignedToOther,
    ConfirmationRequired,
    NewerReply,
    reply_now,
    set_reply_to_others,
)
from clameur.care.models import Conversation, Reply
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from clameur.tenancy.models import AuditEntry
from tests.care.test_replies import World, make_conversation, make_world, recording_registry
from tests.conftest import Database
from tests.factories import acting, member

CHANNELS, _ = recording_registry()


def _scene(db: Database, clock: FrozenClock) -> tuple[World, int, int, int]:
    """World, a second agent (Zoe), a front team with a queue, and a conversation in it."""
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        zoe = member(session, clock, "zoe@acme.example", world.tenant_id, "agent", name="Zoe")
        boss = acting(session, world.supervisor, world.tenant_id)
        front = teams.add_team(session, clock, boss, "Front")
        queue = teams.add_queue(session, clock, boss, "All", team_id=front.id)
        conversation = make_conversation(
            session, world.tenant_id, "ana", brand_id=world.brand_id, queue_id=queue.id
        )
        return world, zoe.id, front.id, conversation.id


def _send(db: Database, clock: FrozenClock, world: World, user: int, cid: int, **kw: Any) -> Reply:
    with session_scope(db.factory) as session:
        kw.setdefault("seen_reply_id", None)
        return reply_now(
            session,
            clock,
            acting(session, user, world.tenant_id),
            cid,
            "Hello!",
            channels=CHANNELS,
            **kw,
        )


def _assign(db: Database, cid: int, user: int | None) -> None:
    with session_scope(db.factory) as session:
        session.get_one(Conversation, cid).assignee_id = user


def test_reply_now_drafts_and_sends_in_one_step(db: Database, clock: FrozenClock) -> None:
    world, _, _, cid = _scene(db, clock)
    sent = _send(db, clock, world, world.agent, cid)
    assert (sent.status, sent.author_id, sent.text) == ("queued", world.agent, "Hello!")
    again = _send(db, clock, world, world.agent, cid, seen_reply_id=sent.id)
    assert again.status == "queued", "having seen the newest reply, one may reply again"
    with session_scope(db.factory) as session:
        viewer = acting(session, world.viewer, world.tenant_id)
        with pytest.raises(ForbiddenError, match="replies.write"):
            reply_now(session, clock, viewer, cid, "Hi", seen_reply_id=None, channels=CHANNELS)
    other = make_world(db, clock, "globex")
    with session_scope(db.factory) as session:
        stranger = acting(session, other.admin, other.tenant_id)
        with pytest.raises(NotFoundError):
            reply_now(session, clock, stranger, cid, "Hi", seen_reply_id=None, channels=CHANNELS)


def test_a_reply_sent_meanwhile_refuses_the_next_with_that_reply(
    db: Database, clock: FrozenClock
) -> None:
    world, zoe, _, cid = _scene(db, clock)
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        draft = replies.draft_reply(session, clock, agent, cid, "just a draft", channels=CHANNELS)
        draft_id = draft.id
    first = _send(db, clock, world, zoe, cid, seen_reply_id=None)  # a draft does not collide
    with pytest.raises(NewerReply) as refused:
        _send(db, clock, world, world.agent, cid, seen_reply_id=draft_id)
    assert isinstance(refused.value, ConflictError)
    shown = refused.value.reply
    assert shown["id"] == first.id
    assert shown["author"] == {"id": zoe, "name": "Zoe", "email": "zoe@acme.example"}
    assert (shown["text"], shown["status"]) == ("Hello!", "queued")
    assert refused.value.detail == {"conflict": "newer_reply", "reply": shown}
    assert "Zoe replied" in str(refused.value)
    with session_scope(db.factory) as session:
        count = len(session.scalars(select(Reply.id).where(Reply.conversation_id == cid)).all())
    assert count == 2, "the refused reply left nothing behind (the request rolls back)"


def test_a_seen_reply_of_another_conversation_is_refused(db: Database, clock: FrozenClock) -> None:
    world, _, _, cid = _scene(db, clock)
    with session_scope(db.factory) as session:
        other = make_conversation(session, world.tenant_id, "bob").id
    theirs = _send(db, clock, world, world.agent, other)
    with pytest.raises(NotFoundError, match=f"reply {theirs.id} is not in conversation {cid}"):
        _send(db, clock, world, world.agent, cid, seen_reply_id=theirs.id)


def test_a_colleagues_conversation_asks_for_confirmation_by_default(
    db: Database, clock: FrozenClock
) -> None:
    world, zoe, _, cid = _scene(db, clock)
    _assign(db, cid, zoe)
    with pytest.raises(ConfirmationRequired) as asked:
        _send(db, clock, world, world.agent, cid)
    assert asked.value.assignee == {"id": zoe, "name": "Zoe", "email": "zoe@acme.example"}
    assert asked.value.detail["conflict"] == "confirm"
    assert "assigned to Zoe" in str(asked.value)
    sent = _send(db, clock, world, world.agent, cid, confirm_other_assignee=True)
    assert sent.status == "queued"
    # the assignee herself is never asked
    assert _send(db, clock, world, zoe, cid, seen_reply_id=sent.id).status == "queued"


def test_a_team_may_refuse_replies_to_a_colleagues_conversation(
    db: Database, clock: FrozenClock
) -> None:
    world, zoe, front, cid = _scene(db, clock)
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        with pytest.raises(ForbiddenError, match="teams.manage"):
            set_reply_to_others(session, clock, agent, front, "refuse")
        boss = acting(session, world.supervisor, world.tenant_id)
        with pytest.raises(InvalidInputError, match="reply_to_others"):
            set_reply_to_others(session, clock, boss, front, "maybe")
        team = set_reply_to_others(session, clock, boss, front, "refuse")
        assert team.settings["reply_to_others"] == "refuse"
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "team.reply_to_others")
        ).one()
        assert entry.data == {"from": "confirm", "to": "refuse"}
    _assign(db, cid, zoe)
    with pytest.raises(AssignedToOther) as refused:
        _send(db, clock, world, world.agent, cid, confirm_other_assignee=True)
    assert not isinstance(refused.value, ConfirmationRequired)
    assert refused.value.detail["conflict"] == "refuse"
    assert refused.value.assignee["id"] == zoe
    _assign(db, cid, None)
    assert _send(db, clock, world, world.agent, cid).status == "queued", "nobody holds it"
    with session_scope(db.factory) as session:
        conversation = session.get_one(Conversation, cid)
        assert collision.reply_to_others(session, world.tenant_id, conversation) == "refuse"


def test_two_agents_sending_at_once_only_one_reply_goes(db: Database, clock: FrozenClock) -> None:
    """Both open the box having seen no reply, both send at the same instant (a barrier):
    exactly one reply is queued, the other sender is refused with it."""
    world, zoe, _, cid = _scene(db, clock)
    barrier = threading.Barrier(2)
    outcomes: dict[int, Any] = {}

    def send(user: int) -> None:
        session = db.factory()
        try:
            principal = acting(session, user, world.tenant_id)
            session.commit()  # the principal is read; nothing held
            barrier.wait(timeout=10)
            reply = reply_now(
                session,
                clock,
                principal,
                cid,
                f"from {user}",
                seen_reply_id=None,
                channels=CHANNELS,
            )
            session.commit()
            outcomes[user] = reply.id
        except ConflictError as exc:
            session.rollback()
            outcomes[user] = exc
        except Exception as exc:  # noqa: BLE001 - reported below
            session.rollback()
            outcomes[user] = exc
        finally:
            session.close()

    threads = [threading.Thread(target=send, args=(u,)) for u in (world.agent, zoe)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    sent = [v for v in outcomes.values() if isinstance(v, int)]
    refused = [v for v in outcomes.values() if isinstance(v, NewerReply)]
    assert (len(sent), len(refused)) == (1, 1), outcomes
    assert refused[0].reply["id"] == sent[0]
    with session_scope(db.factory) as session:
        stored = session.scalars(select(Reply.id).where(Reply.conversation_id == cid)).all()
    assert stored == sent
