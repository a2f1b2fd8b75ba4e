"""The outbox relay under concurrency and crashes: leases, tokens, event ids."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.core import OutboxEvent, enqueue, relay
from clameur.core.outbox import LEASE
from clameur.db import session_scope
from tests.conftest import Database


def enqueue_many(db: Database, clock: FrozenClock, n: int) -> list[int]:
    with session_scope(db.factory) as session:
        events = [enqueue(session, clock, "webhook", {"n": i}, None) for i in range(n)]
        session.flush()
        return [e.id for e in events]


def stored(db: Database) -> list[OutboxEvent]:
    with session_scope(db.factory) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


class Crash(BaseException):
    """The relay process dies in the middle of a delivery (not an ordinary failure)."""


def test_handlers_receive_the_event_id_and_the_stored_payload_is_unchanged(
    db: Database, clock: FrozenClock
) -> None:
    [event_id] = enqueue_many(db, clock, 1)
    seen: list[dict[str, Any]] = []
    assert relay(db.factory, clock, {"webhook": seen.append}) == 1
    assert seen == [{"n": 0, "_event_id": event_id, "_created_at": clock.now().isoformat()}]
    [event] = stored(db)
    assert event.payload == {"n": 0}
    assert (event.status, event.attempts, event.sent_at) == ("sent", 1, clock.now())


def test_a_relay_takes_at_most_its_limit(db: Database, clock: FrozenClock) -> None:
    enqueue_many(db, clock, 5)
    seen: list[dict[str, Any]] = []
    assert relay(db.factory, clock, {"webhook": seen.append}, limit=2) == 2
    assert [e.attempts for e in stored(db)] == [1, 1, 0, 0, 0], "the others are not claimed"


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
def test_two_relays_at_once_never_deliver_an_event_twice(db: Database, clock: FrozenClock) -> None:
    ids = enqueue_many(db, clock, 120)
    delivered: list[tuple[str, int]] = []
    lock = threading.Lock()
    # each relay's first delivery waits for the other's: both hold claimed batches at once
    both_busy = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []

    def handler(payload: dict[str, Any]) -> None:
        name = threading.current_thread().name
        with lock:
            first = all(who != name for who, _ in delivered)
            delivered.append((name, payload["_event_id"]))
        if first:
            both_busy.wait()

    def run() -> None:
        try:
            while relay(db.factory, clock, {"webhook": handler}, limit=10) > 0:
                pass
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            both_busy.abort()

    threads = [threading.Thread(target=run, name=f"relay-{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(event_id for _, event_id in delivered) == ids, "each event exactly once"
    assert {who for who, _ in delivered} == {"relay-0", "relay-1"}, "both relays took part"
    assert {(e.status, e.attempts) for e in stored(db)} == {("sent", 1)}


def test_a_dead_relays_events_are_taken_over_when_its_lease_expires(
    db: Database, clock: FrozenClock
) -> None:
    enqueue_many(db, clock, 3)
    calls: list[int] = []

    def crashing(payload: dict[str, Any]) -> None:
        calls.append(payload["_event_id"])
        raise Crash

    with pytest.raises(Crash):
        relay(db.factory, clock, {"webhook": crashing})
    sent: list[int] = []

    def deliver(payload: dict[str, Any]) -> None:
        sent.append(payload["_event_id"])

    assert relay(db.factory, clock, {"webhook": deliver}) == 0, "still leased to the dead relay"
    clock.advance(LEASE)
    assert relay(db.factory, clock, {"webhook": deliver}) == 3
    assert calls == sent[:1]
    assert [(e.status, e.attempts) for e in stored(db)] == [("sent", 2)] * 3


def test_a_crash_on_the_last_attempt_makes_the_event_dead(db: Database, clock: FrozenClock) -> None:
    enqueue_many(db, clock, 1)

    def crashing(payload: dict[str, Any]) -> None:
        raise Crash

    with pytest.raises(Crash):
        relay(db.factory, clock, {"webhook": crashing}, max_attempts=1)
    clock.advance(LEASE)
    assert relay(db.factory, clock, {"webhook": crashing}, max_attempts=1) == 0
    [event] = stored(db)
    assert (event.status, event.attempts) == ("dead", 1)
    assert "lease expired" in (event.last_error or "")


def test_a_relay_that_lost_its_lease_records_nothing(db: Database, clock: FrozenClock) -> None:
    enqueue_many(db, clock, 1)
    outcomes: list[int] = []

    def slow_then_failing(payload: dict[str, Any]) -> None:
        # so slow that the lease expires and another relay delivers the event meanwhile
        clock.advance(LEASE + timedelta(seconds=1))
        outcomes.append(relay(db.factory, clock, {"webhook": lambda p: None}))
        raise ConnectionError("too late anyway")

    assert relay(db.factory, clock, {"webhook": slow_then_failing}) == 0
    assert outcomes == [1]
    [event] = stored(db)
    assert (event.status, event.attempts, event.last_error) == ("sent", 2, None)
