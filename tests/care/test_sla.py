"""SLA clocks in business time: policies, pause/resume, warnings, breaches and escalation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care.calendars import add_calendar
from clameur.care.models import Conversation, ConversationEvent, Queue, SlaPolicy
from clameur.care.sla import (
    BREACH,
    BREACH_EMAIL,
    WARNING,
    clock_states,
    on_agent_reply,
    on_customer_message,
    on_customer_messages,
    on_status_change,
    resolve_policy,
    set_policy,
)
from clameur.care.sla_sweep import handlers, sweep, tenants_to_sweep
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import OutboxEvent, relay
from clameur.db import session_scope
from clameur.errors import InvalidInputError, NotFoundError
from clameur.mentions.models import Author
from clameur.tenancy import Tenant
from clameur.tenancy.models import AuditEntry
from tests.conftest import Database, make_tenant
from tests.factories import member
from tests.smtp import Mailbox

PARIS = ZoneInfo("Europe/Paris")
MONTREAL = ZoneInfo("America/Montreal")
WEEK = ("mon", "tue", "wed", "thu", "fri")
MINUTE = 60


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=UTC)


def paris(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=PARIS)


def montreal(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=MONTREAL)


def make_conversation(
    session: Session, tenant_id: int, handle: str, opened_at: datetime, **values: Any
) -> Conversation:
    """A stored open conversation of a new author (``values`` override any column)."""
    source = values.get("source", "twitter")
    author = Author(
        tenant_id=tenant_id,
        source=source,
        handle=handle,
        first_seen_at=opened_at,
        last_seen_at=opened_at,
    )
    session.add(author)
    session.flush()
    columns: dict[str, Any] = {
        "source": source,
        "status": "open",
        "root_external_id": f"m-{handle}",
        "opened_at": opened_at,
        "last_activity_at": opened_at,
        "mention_count": 1,
        "flags": [],
        "tags": [],
        "sla": {},
        "priority_level": "P3",
        "priority": 40.0,
    }
    columns.update(values)
    conversation = Conversation(tenant_id=tenant_id, author_id=author.id, **columns)
    session.add(conversation)
    session.flush()
    return conversation


def set_status(session: Session, conversation: Conversation, status: str, at: datetime) -> None:
    """What the status service does: change the status, then tell the SLA clocks."""
    conversation.status = status
    on_status_change(session, conversation.tenant_id, conversation.id, at)


def office(
    session: Session,
    tenant_id: int,
    name: str,
    zone: str,
    start: str,
    end: str,
    country: str,
    subdivision: str | None = None,
) -> int:
    row = add_calendar(
        session,
        tenant_id,
        name,
        timezone=zone,
        hours={d: [[start, end]] for d in WEEK},
        country=country,
        subdivision=subdivision,
    )
    return row.id


def kinds(found: list[Any]) -> list[tuple[str, str]]:
    return [(e.kind, e.clock) for e in found]


# -- policies ------------------------------------------------------------------------------


def test_policy_fallbacks_prefer_the_most_specific() -> None:
    def policy(pid: int, source: str, level: str) -> SlaPolicy:
        return SlaPolicy(id=pid, tenant_id=1, source=source, level=level)

    everything, twitter, urgent, urgent_tweet, twin = (
        policy(1, "*", "*"),
        policy(2, "twitter", "*"),
        policy(3, "*", "P1"),
        policy(4, "twitter", "P1"),
        policy(5, "twitter", "P1"),
    )
    policies = [twin, urgent_tweet, urgent, twitter, everything]
    assert resolve_policy(policies, "twitter", "P1") is urgent_tweet  # the oldest of the two
    assert resolve_policy(policies, "email", "P1") is urgent
    assert resolve_policy(policies, "twitter", "P3") is twitter
    assert resolve_policy(policies, "twitter", None) is twitter
    assert resolve_policy(policies, "email", "P3") is everything
    # the level beats the source
    assert resolve_policy([twitter, urgent], "twitter", "P1") is urgent
    assert resolve_policy([twitter], "email", "P1") is None


def test_set_policy_validates_and_replaces(db: Database, clock: FrozenClock) -> None:
    acme = make_tenant(db, clock, "acme", {})
    globex = make_tenant(db, clock, "globex", {})
    with session_scope(db.factory) as session:
        theirs = add_calendar(
            session, globex.id, "Paris", timezone="Europe/Paris", always_open=True
        )
        first = set_policy(session, acme.id, source="twitter", first_response_minutes=60)
        again = set_policy(session, acme.id, source="twitter", first_response_minutes=30)
        assert again.id == first.id
        assert again.first_response_minutes == 30
        for bad in (
            {"source": "fax"},
            {"level": "P9"},
            {"first_response_minutes": 0},
            {"warn_percent": 0},
            {"warn_percent": 101},
        ):
            with pytest.raises(InvalidInputError):
                set_policy(session, acme.id, **bad)
        with pytest.raises(NotFoundError):  # another tenant's calendar
            set_policy(session, acme.id, calendar_id=theirs.id)


def test_policy_by_source_and_level_across_two_time_zones(db: Database, clock: FrozenClock) -> None:
    """Christmas in Paris (twitter) and Montréal (e-mail); an urgent P1 in any channel."""
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        paris_id = office(session, tenant.id, "Paris", "Europe/Paris", "09:00", "18:00", "FR")
        montreal_id = office(
            session, tenant.id, "Montréal", "America/Montreal", "08:30", "17:00", "CA", "QC"
        )
        set_policy(session, tenant.id, first_response_minutes=24 * 60)
        set_policy(
            session, tenant.id, source="twitter", first_response_minutes=60, calendar_id=paris_id
        )
        set_policy(
            session, tenant.id, source="email", first_response_minutes=60, calendar_id=montreal_id
        )
        set_policy(session, tenant.id, level="P1", first_response_minutes=15)
        tweet = make_conversation(session, tenant.id, "ana", paris(12, 24, 17, 30))
        mail = make_conversation(
            session, tenant.id, "bob", montreal(12, 24, 16, 30), source="email"
        )
        blog = make_conversation(session, tenant.id, "cyd", utc(12, 24, 10), source="blog")
        urgent = make_conversation(session, tenant.id, "dan", utc(12, 24, 10), priority_level="P1")
        on_customer_messages(
            session, tenant.id, [(c.id, c.opened_at) for c in (tweet, mail, blog, urgent)]
        )
        now = utc(12, 24, 10)
        due = {
            c.id: clock_states(session, tenant.id, c.id, now)["first_response"].due_at
            for c in (tweet, mail, blog, urgent)
        }
        # 30 minutes on 24 December, Christmas closed, 30 minutes on the 26th
        assert due[tweet.id] == paris(12, 26, 9, 30)
        assert due[mail.id] == montreal(12, 26, 9, 0)
        assert due[blog.id] == utc(12, 25, 10)  # the catch-all policy: always open
        assert due[urgent.id] == utc(12, 24, 10, 15)  # (*, P1) beats (*, *) and has no calendar
        assert tweet.sla["policy_id"] != mail.sla["policy_id"]


def test_no_policy_no_clocks(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, tenant.id, "ana", utc(1, 7, 9))
        on_customer_message(session, tenant.id, conversation.id, utc(1, 7, 9))
        assert conversation.sla["clocks"] == {}
        assert sweep(session, clock, tenant.id, utc(6, 1, 0)) == []


def test_a_rising_priority_tightens_the_targets(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        set_policy(session, tenant.id, level="P4", first_response_minutes=240)
        set_policy(
            session, tenant.id, level="P1", first_response_minutes=30, resolution_minutes=120
        )
        conversation = make_conversation(
            session, tenant.id, "ana", utc(1, 7, 9), priority_level="P4"
        )
        on_customer_message(session, tenant.id, conversation.id, utc(1, 7, 9))
        states = clock_states(session, tenant.id, conversation.id, utc(1, 7, 9))
        assert set(states) == {"first_response"}
        assert states["first_response"].due_at == utc(1, 7, 13)
        conversation.priority_level = "P1"  # an angry follow-up
        on_customer_message(session, tenant.id, conversation.id, utc(1, 7, 9, 10))
        states = clock_states(session, tenant.id, conversation.id, utc(1, 7, 9, 10))
        assert states["first_response"].due_at == utc(1, 7, 9, 30)  # still from the opening
        assert states["resolution"].due_at == utc(1, 7, 11)


# -- business hours ------------------------------------------------------------------------


def test_clocks_across_night_weekend_and_armistice_in_paris(
    db: Database, clock: FrozenClock
) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        calendar = office(session, tenant.id, "Paris", "Europe/Paris", "09:00", "18:00", "FR")
        set_policy(
            session,
            tenant.id,
            first_response_minutes=120,
            resolution_minutes=3 * 540,
            calendar_id=calendar,
        )
        friday = paris(11, 8, 17)  # Monday 11 November is a public holiday
        conversation = make_conversation(session, tenant.id, "ana", friday)
        on_customer_message(session, tenant.id, conversation.id, friday)
        states = clock_states(session, tenant.id, conversation.id, friday)
        assert states["first_response"].due_at == paris(11, 12, 10)
        # 1 h on Friday, 9 h on Tuesday and Wednesday, 8 h on Thursday
        assert states["resolution"].due_at == paris(11, 14, 17)
        later = clock_states(session, tenant.id, conversation.id, paris(11, 11, 23))
        assert later["first_response"].used_seconds == 60 * MINUTE  # the weekend and holiday

        assert sweep(session, clock, tenant.id, paris(11, 11, 12)) == []
        assert sweep(session, clock, tenant.id, paris(11, 12, 9, 35)) == []
        # warned at 80 %: 96 minutes, i.e. 09:36 on Tuesday
        assert kinds(sweep(session, clock, tenant.id, paris(11, 12, 9, 36))) == [
            (WARNING, "first_response")
        ]
        assert kinds(sweep(session, clock, tenant.id, paris(11, 12, 10))) == [
            (BREACH, "first_response")
        ]


def test_clocks_across_the_dst_weekend_in_montreal(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        calendar = office(
            session, tenant.id, "Montréal", "America/Montreal", "08:30", "17:00", "CA", "QC"
        )
        set_policy(session, tenant.id, first_response_minutes=120, calendar_id=calendar)
        friday = montreal(3, 8, 16)  # EST; the clocks go forward on Sunday 10 March
        conversation = make_conversation(session, tenant.id, "ana", friday)
        on_customer_message(session, tenant.id, conversation.id, friday)
        due = clock_states(session, tenant.id, conversation.id, friday)["first_response"].due_at
        assert due == montreal(3, 11, 9, 30) == utc(3, 11, 13, 30)  # EDT, UTC-4
        assert sweep(session, clock, tenant.id, utc(3, 11, 13, 5)) == []
        assert kinds(sweep(session, clock, tenant.id, utc(3, 11, 13, 6))) == [
            (WARNING, "first_response")
        ]
        assert sweep(session, clock, tenant.id, utc(3, 11, 13, 29)) == []
        assert kinds(sweep(session, clock, tenant.id, utc(3, 11, 13, 30))) == [
            (BREACH, "first_response")
        ]


# -- pause and resume ----------------------------------------------------------------------


def test_waiting_on_the_customer_pauses_the_clocks(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        set_policy(session, tenant.id, first_response_minutes=60, resolution_minutes=240)
        conversation = make_conversation(session, tenant.id, "ana", utc(1, 7, 10))
        on_customer_message(session, tenant.id, conversation.id, utc(1, 7, 10))
        set_status(session, conversation, "waiting", utc(1, 7, 10, 20))
        assert conversation.sla["paused_since"] == utc(1, 7, 10, 20).isoformat(
            timespec="microseconds"
        )
        assert sweep(session, clock, tenant.id, utc(1, 7, 23)) == []  # paused: nothing due
        paused = clock_states(session, tenant.id, conversation.id, utc(1, 7, 23))
        assert paused["first_response"].state == "paused"
        assert paused["first_response"].used_seconds == 20 * MINUTE
        assert paused["resolution"].used_seconds == 20 * MINUTE
        assert paused["first_response"].due_at is None

        set_status(session, conversation, "waiting", utc(1, 8, 9))  # idempotent
        set_status(session, conversation, "open", utc(1, 8, 12))
        resumed = clock_states(session, tenant.id, conversation.id, utc(1, 8, 12))
        assert resumed["first_response"].due_at == utc(1, 8, 12, 40)
        assert resumed["resolution"].due_at == utc(1, 8, 15, 40)
        assert conversation.sla["paused_since"] is None
        assert kinds(sweep(session, clock, tenant.id, utc(1, 8, 12, 28))) == [
            (WARNING, "first_response")
        ]
        assert kinds(sweep(session, clock, tenant.id, utc(1, 8, 12, 40))) == [
            (BREACH, "first_response")
        ]


def test_next_response_runs_from_each_customer_message_after_a_reply(
    db: Database, clock: FrozenClock
) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        set_policy(session, tenant.id, first_response_minutes=60, next_response_minutes=30)
        conversation = make_conversation(session, tenant.id, "ana", utc(1, 7, 10))
        cid = conversation.id
        on_customer_message(session, tenant.id, cid, utc(1, 7, 10))
        assert set(conversation.sla["clocks"]) == {"first_response"}
        on_customer_message(session, tenant.id, cid, utc(1, 7, 10, 5))  # before any reply
        assert set(conversation.sla["clocks"]) == {"first_response"}

        on_agent_reply(session, tenant.id, cid, utc(1, 7, 10, 20))
        assert conversation.first_response_at == utc(1, 7, 10, 20)
        first = clock_states(session, tenant.id, cid, utc(1, 7, 11))["first_response"]
        assert (first.state, first.met, first.used_seconds) == ("stopped", True, 20 * MINUTE)

        on_customer_message(session, tenant.id, cid, utc(1, 7, 10, 30))
        on_customer_message(session, tenant.id, cid, utc(1, 7, 10, 45))  # does not restart it
        nxt = clock_states(session, tenant.id, cid, utc(1, 7, 10, 45))["next_response"]
        assert (nxt.started_at, nxt.due_at) == (utc(1, 7, 10, 30), utc(1, 7, 11))
        on_agent_reply(session, tenant.id, cid, utc(1, 7, 10, 50))
        assert conversation.first_response_at == utc(1, 7, 10, 20)
        assert conversation.last_agent_at == utc(1, 7, 10, 50)

        # a customer's answer while the conversation waits on them starts a paused clock
        set_status(session, conversation, "waiting", utc(1, 7, 10, 55))
        on_customer_message(session, tenant.id, cid, utc(1, 7, 11))
        nxt = clock_states(session, tenant.id, cid, utc(1, 7, 13))["next_response"]
        assert (nxt.state, nxt.used_seconds) == ("paused", 0)
        assert conversation.sla["done"] == {"next_response": {"met": 1, "missed": 0}}
        set_status(session, conversation, "open", utc(1, 7, 11, 10))
        assert sweep(session, clock, tenant.id, utc(1, 7, 11, 33)) == []
        assert kinds(sweep(session, clock, tenant.id, utc(1, 7, 11, 34))) == [
            (WARNING, "next_response")
        ]
        assert kinds(sweep(session, clock, tenant.id, utc(1, 7, 11, 40))) == [
            (BREACH, "next_response")
        ]


def test_resolved_before_the_deadline_never_breaches(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        set_policy(
            session,
            tenant.id,
            first_response_minutes=60,
            next_response_minutes=30,
            resolution_minutes=120,
        )
        conversation = make_conversation(session, tenant.id, "ana", utc(1, 7, 9))
        on_customer_message(session, tenant.id, conversation.id, utc(1, 7, 9))
        on_agent_reply(session, tenant.id, conversation.id, utc(1, 7, 9, 30))
        set_status(session, conversation, "resolved", utc(1, 7, 10))
        assert conversation.sla["next_at"] is None
        assert sweep(session, clock, tenant.id, utc(12, 31, 23)) == []
        states = clock_states(session, tenant.id, conversation.id, utc(12, 31, 23))
        assert {n: (s.state, s.met) for n, s in states.items()} == {
            "first_response": ("stopped", True),
            "resolution": ("stopped", True),
        }
        assert "sla_breached" not in conversation.flags
        events = session.scalars(select(ConversationEvent.kind)).all()
        assert WARNING not in events
        assert BREACH not in events

        # resolved late, with no sweep in between: missed, but nothing to escalate any more
        late = make_conversation(session, tenant.id, "bob", utc(1, 7, 9))
        on_customer_message(session, tenant.id, late.id, utc(1, 7, 9))
        set_status(session, late, "closed", utc(1, 7, 12))
        states = clock_states(session, tenant.id, late.id, utc(1, 7, 12))
        assert states["resolution"].met is False
        assert states["first_response"].met is False
        assert sweep(session, clock, tenant.id, utc(12, 31, 23)) == []


def test_reopening_resumes_what_the_resolution_stopped(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        set_policy(session, tenant.id, first_response_minutes=60, resolution_minutes=120)
        conversation = make_conversation(session, tenant.id, "ana", utc(1, 7, 9))
        on_customer_message(session, tenant.id, conversation.id, utc(1, 7, 9))
        on_agent_reply(session, tenant.id, conversation.id, utc(1, 7, 9, 10))
        set_status(session, conversation, "resolved", utc(1, 7, 10))
        set_status(session, conversation, "open", utc(1, 8, 9))  # the customer was not happy
        states = clock_states(session, tenant.id, conversation.id, utc(1, 8, 9))
        assert states["first_response"].state == "stopped"  # stopped by the reply: stays so
        assert states["resolution"].state == "running"
        assert states["resolution"].due_at == utc(1, 8, 10)  # 60 minutes were left


def test_a_clock_past_both_thresholds_only_breaches(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        set_policy(session, tenant.id, first_response_minutes=60, resolution_minutes=600)
        conversation = make_conversation(session, tenant.id, "ana", utc(1, 7, 9))
        on_customer_message(session, tenant.id, conversation.id, utc(1, 7, 9))
        found = sweep(session, clock, tenant.id, utc(1, 7, 12))
        assert kinds(found) == [(BREACH, "first_response")]
        assert found[0].due_at == utc(1, 7, 10)
        assert found[0].used_seconds == 3 * 3600
        # then the resolution clock warns (at 80 % of 10 h) and breaches, once each
        assert kinds(sweep(session, clock, tenant.id, utc(1, 7, 17))) == [(WARNING, "resolution")]
        assert sweep(session, clock, tenant.id, utc(1, 7, 18)) == []
        assert kinds(sweep(session, clock, tenant.id, utc(1, 7, 19))) == [(BREACH, "resolution")]
        assert sweep(session, clock, tenant.id, utc(1, 9, 19)) == []


# -- escalation ----------------------------------------------------------------------------


def test_warning_then_breach_escalates_and_mails_the_supervisors(
    db: Database, clock: FrozenClock, smtp_server: tuple[Mailbox, int]
) -> None:
    acme = make_tenant(db, clock, "acme", {})
    globex = make_tenant(db, clock, "globex", {})
    with session_scope(db.factory) as session:
        front = Queue(tenant_id=acme.id, name="Front", position=10, filters={})
        escalations = Queue(tenant_id=acme.id, name="Escalations", position=1, filters={})
        session.add_all([front, escalations])
        session.flush()
        tenant = session.get(Tenant, acme.id)
        assert tenant is not None
        tenant.settings = {"care": {"breach_queue_id": escalations.id}}
        member(session, clock, "sup@acme.example", acme.id, "supervisor")
        member(session, clock, "lead@bpo.example", [acme.id, globex.id], "supervisor")  # BPO's
        member(session, clock, "agent@acme.example", acme.id, "agent")
        member(session, clock, "sup@globex.example", globex.id, "supervisor")
        member(session, clock, "agent@acme.example", globex.id, "supervisor")  # not in acme
        gone = member(session, clock, "old@acme.example", acme.id, "supervisor")
        gone.active = False
        for tenant_id in (acme.id, globex.id):
            set_policy(session, tenant_id, first_response_minutes=60, warn_percent=75)
        conversation = make_conversation(session, acme.id, "ana", utc(1, 7, 9), queue_id=front.id)
        theirs = make_conversation(session, globex.id, "ana", utc(1, 7, 9))
        on_customer_message(session, acme.id, conversation.id, utc(1, 7, 9))
        on_customer_message(session, globex.id, theirs.id, utc(1, 7, 9))
        cid, queue_ids = conversation.id, (front.id, escalations.id)

    with session_scope(db.factory) as session:
        assert tenants_to_sweep(session, utc(1, 7, 9, 44)) == []
        assert tenants_to_sweep(session, utc(1, 7, 9, 45)) == [acme.id, globex.id]
        warned = sweep(session, clock, acme.id, utc(1, 7, 9, 45))
        assert kinds(warned) == [(WARNING, "first_response")]
        assert sweep(session, clock, acme.id, utc(1, 7, 9, 50)) == []  # once per clock
        assert session.scalars(select(OutboxEvent)).all() == []  # warnings mail nobody

    with session_scope(db.factory) as session:
        breached = sweep(session, clock, acme.id, utc(1, 7, 10))
        assert kinds(breached) == [(BREACH, "first_response")]
        assert sweep(session, clock, acme.id, utc(1, 7, 11)) == []  # once per clock

    with session_scope(db.factory) as session:
        conversation = session.get_one(Conversation, cid)
        assert "sla_breached" in conversation.flags
        assert conversation.priority == 100.0
        assert conversation.queue_id == queue_ids[1]
        events = session.scalars(
            select(ConversationEvent)
            .where(ConversationEvent.conversation_id == cid)
            .order_by(ConversationEvent.id)
        ).all()
        assert [(e.kind, e.at) for e in events] == [
            (WARNING, utc(1, 7, 9, 45)),
            (BREACH, utc(1, 7, 10)),
        ]
        breach = events[1].data
        assert breach["clock"] == "first_response"
        assert breach["due_at"].startswith("2030-01-07T10:00:00")
        assert breach["priority"] == [40.0, 100.0]
        assert breach["queue"] == list(queue_ids)
        assert breach["notified"] == ["lead@bpo.example", "sup@acme.example"]
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_id == cid).order_by(AuditEntry.id)
        ).all()
        assert actions == ["conversation.sla_warning", "conversation.sla_breach"]
        outbox = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        assert [(e.kind, e.tenant_id, e.payload["to"]) for e in outbox] == [
            (BREACH_EMAIL, acme.id, "lead@bpo.example"),
            (BREACH_EMAIL, acme.id, "sup@acme.example"),
        ]
        # the other tenant's overdue conversation was not touched by acme's sweep
        other = session.get_one(Conversation, theirs.id)
        assert other.flags == []
        assert other.sla["clocks"]["first_response"]["breached_at"] is None

    mailbox, port = smtp_server
    settings = Settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_from="care@clameur.example", smtp_timeout=10
    )
    assert relay(db.factory, clock, handlers(settings)) == 2
    messages = mailbox.messages()
    assert sorted(m["To"] for m in messages) == ["lead@bpo.example", "sup@acme.example"]
    for message in messages:
        assert message["Subject"] == (
            f"[Clameur] SLA breached: first response on conversation #{cid} (acme)"
        )
        body = message.get_content()
        assert "due Mon 07 Jan 2030 10:00 UTC" in body
        assert "re-routed to 'Escalations'" in body


def test_a_wrong_breach_queue_is_reported_not_used(db: Database, clock: FrozenClock) -> None:
    acme = make_tenant(db, clock, "acme", {})
    globex = make_tenant(db, clock, "globex", {})
    with session_scope(db.factory) as session:
        foreign = Queue(tenant_id=globex.id, name="Theirs", position=1, filters={})
        session.add(foreign)
        session.flush()
        tenant = session.get_one(Tenant, acme.id)
        tenant.settings = {"care": {"breach_queue_id": foreign.id}}
        set_policy(session, acme.id, resolution_minutes=30)
        conversation = make_conversation(session, acme.id, "ana", utc(1, 7, 9), priority=None)
        on_customer_message(session, acme.id, conversation.id, utc(1, 7, 9))
        assert kinds(sweep(session, clock, acme.id, utc(1, 7, 10))) == [(BREACH, "resolution")]
        assert conversation.queue_id is None
        assert conversation.priority == 100.0
        event = session.scalars(select(ConversationEvent)).one()
        assert event.data["breach_queue_missing"] == foreign.id
        assert event.data["notified"] == []  # no supervisor: nobody to mail
        assert session.scalars(select(OutboxEvent)).all() == []


def test_services_refuse_another_tenants_conversation(db: Database, clock: FrozenClock) -> None:
    acme = make_tenant(db, clock, "acme", {})
    globex = make_tenant(db, clock, "globex", {})
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, acme.id, "ana", utc(1, 7, 9))
        with pytest.raises(NotFoundError):
            on_customer_message(session, globex.id, conversation.id, utc(1, 7, 9))
        with pytest.raises(NotFoundError):
            on_agent_reply(session, globex.id, conversation.id, utc(1, 7, 9))
        with pytest.raises(NotFoundError):
            on_status_change(session, globex.id, conversation.id, utc(1, 7, 9))
        with pytest.raises(NotFoundError):
            clock_states(session, globex.id, conversation.id, utc(1, 7, 9))
        with pytest.raises(InvalidInputError, match="timezone-aware"):
            on_agent_reply(session, acme.id, conversation.id, datetime(2030, 1, 7, 9))  # noqa: DTZ001
        assert conversation.sla == {}
        assert sweep(session, clock, acme.id, utc(1, 8, 9)) == []
