"""The background worker: loops on the clock, wake-ups, status, clean stops, many relays."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clameur.clock import Clock, FrozenClock, SystemClock
from clameur.core import OutboxEvent, enqueue, relay
from clameur.db import session_scope
from clameur.detection.notify import EMAIL, WEBHOOK
from clameur.pipeline.worker import LoopStatus, Worker
from tests.conftest import Database
from tests.detection.test_notify import raise_alert, setup_tenant


def enqueue_many(db: Database, clock: Clock, n: int) -> list[int]:
    with session_scope(db.factory) as session:
        events = [enqueue(session, clock, "webhook", {"n": i}, None) for i in range(n)]
        session.flush()
        return [e.id for e in events]


def stored(db: Database) -> list[OutboxEvent]:
    with session_scope(db.factory) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def wait_until(condition: Any, what: str, seconds: float = 20.0) -> None:
    """Poll a condition other threads make true (a deadline, not a sleep for time to pass)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_each_loop_runs_when_its_interval_has_passed_on_the_clock(
    db: Database, clock: FrozenClock
) -> None:
    status = LoopStatus()
    worker = Worker(db.factory, clock, {}, status=status)
    assert [loop.name for loop in worker.loops] == ["relay", "assign", "sla", "digests"]
    assert set(worker.run_due()) == {"relay", "assign", "sla", "digests"}, "all due at first"
    assert worker.run_due() == {}, "nothing due before any interval"
    clock.advance(timedelta(seconds=1))
    assert set(worker.run_due()) == {"relay"}
    clock.advance(timedelta(seconds=4))
    assert set(worker.run_due()) == {"relay", "assign"}
    clock.advance(timedelta(seconds=25))
    assert set(worker.run_due()) == {"relay", "assign", "sla"}
    clock.advance(timedelta(seconds=30))
    assert set(worker.run_due()) == {"relay", "assign", "sla", "digests"}
    loops = status.snapshot()["loops"]
    assert {name: state["runs"] for name, state in loops.items()} == {
        "relay": 5,
        "assign": 4,
        "sla": 3,
        "digests": 2,
    }
    assert loops["digests"]["last_run"] == clock.now().isoformat()
    assert status.snapshot()["running"] is False, "run_due does not start threads"


def test_a_replay_worker_has_no_wall_clock_loops(db: Database, clock: FrozenClock) -> None:
    worker = Worker(
        db.factory,
        clock,
        {},
        assign_interval=None,
        sla_interval=None,
        digest_interval=None,
        status=LoopStatus(),
    )
    assert [loop.name for loop in worker.loops] == ["relay"]


def test_the_relay_loop_delivers_everything_due_and_wakes_early(
    db: Database, clock: FrozenClock
) -> None:
    ids = enqueue_many(db, clock, 230)  # more than one relay batch of 100
    seen: list[int] = []
    worker = Worker(
        db.factory, clock, {"webhook": lambda p: seen.append(p["_event_id"])}, status=LoopStatus()
    )
    assert worker.run_due()["relay"] == 230
    assert seen == ids
    [late] = enqueue_many(db, clock, 1)
    assert "relay" not in worker.run_due(), "not due yet"
    worker.wake("relay")
    assert worker.run_due() == {"relay": 1}, "a wake-up runs it before its time"
    assert seen[-1] == late


def test_a_digest_wakes_the_relay(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, webhooks=[{"url": "http://hooks.example/x", "secret": "s"}])
    raise_alert(db, clock, ids, "low")  # below notify_min_severity: held for the digest
    sent: list[dict[str, Any]] = []
    worker = Worker(
        db.factory, clock, {WEBHOOK: sent.append, EMAIL: sent.append}, status=LoopStatus()
    )
    worker.run_due()  # the digest window opens
    assert sent == []
    clock.advance(timedelta(minutes=60))
    assert worker.run_due()["digests"] == 1
    assert worker.run_due() == {"relay": 1}, "the relay runs at once, not a second later"
    assert [p["url"] for p in sent] == ["http://hooks.example/x"]


def test_a_failing_round_is_recorded_and_the_next_one_clears_it(
    db: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = LoopStatus()
    worker = Worker(db.factory, clock, {}, status=status)
    failures = iter([RuntimeError("database went away")])

    def flaky(*_args: Any) -> int:
        for failure in failures:
            raise failure
        return 0

    monkeypatch.setattr("clameur.pipeline.worker.assign_all", flaky)
    worker.run_due()
    assert status.snapshot()["loops"]["assign"] == {
        "last_run": clock.now().isoformat(),
        "runs": 1,
        "last_error": "RuntimeError: database went away",
    }
    assert status.snapshot()["loops"]["relay"]["last_error"] is None
    clock.advance(timedelta(seconds=5))
    worker.run_due()
    assert status.snapshot()["loops"]["assign"]["last_error"] is None
    assert status.snapshot()["loops"]["assign"]["runs"] == 2


def test_status_counts_every_run_from_many_threads() -> None:
    status = LoopStatus()
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for _ in range(500):
            status.record("relay", clock.now())

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert status.snapshot()["loops"]["relay"]["runs"] == 4000
    status.started(["relay"])
    status.started(["relay"])
    status.stopped()
    assert status.snapshot()["running"] is True, "one of two workers still runs"
    status.stopped()
    assert status.snapshot()["running"] is False


def test_a_stopping_relay_gives_back_what_it_has_not_tried(
    db: Database, clock: FrozenClock
) -> None:
    enqueue_many(db, clock, 5)
    stop = threading.Event()
    seen: list[int] = []

    def deliver_then_stop(payload: dict[str, Any]) -> None:
        seen.append(payload["n"])
        stop.set()  # SIGTERM arrives during the first delivery

    assert relay(db.factory, clock, {"webhook": deliver_then_stop}, stopping=stop.is_set) == 1
    events = stored(db)
    assert [(e.status, e.attempts) for e in events] == [("sent", 1)] + [("pending", 0)] * 4
    assert all(e.available_at == clock.now() for e in events[1:]), "due at once, no lease"
    # another relay takes them over immediately, not after the 5-minute lease
    assert relay(db.factory, clock, {"webhook": lambda p: seen.append(p["n"])}) == 4
    assert seen == [0, 1, 2, 3, 4]


def test_stop_finishes_the_current_delivery_then_releases_the_rest(
    db: Database, clock: FrozenClock
) -> None:
    enqueue_many(db, clock, 4)
    status = LoopStatus()
    in_handler = threading.Event()
    seen: list[int] = []
    worker: Worker

    def slow(payload: dict[str, Any]) -> None:
        seen.append(payload["n"])
        in_handler.set()
        wait_until(worker.stopping, "stop to be asked")  # still delivering when asked

    worker = Worker(
        db.factory,
        clock,
        {"webhook": slow},
        assign_interval=None,
        sla_interval=None,
        digest_interval=None,
        status=status,
    )
    worker.start()
    assert status.snapshot()["running"] is True
    assert in_handler.wait(20)
    assert worker.stop(timeout=20) is True
    assert not worker.running
    assert status.snapshot()["running"] is False
    assert seen == [0]
    assert [(e.status, e.attempts) for e in stored(db)] == [("sent", 1)] + [("pending", 0)] * 3


def test_threads_run_at_start_then_on_wake_ups_and_stop_promptly(
    db: Database, clock: FrozenClock
) -> None:
    enqueue_many(db, clock, 3)
    seen: list[int] = []
    status = LoopStatus()
    # the clock is frozen and the longest sleep is long: only a wake-up can run the relay
    worker = Worker(
        db.factory, clock, {"webhook": lambda p: seen.append(p["n"])}, status=status, max_wait=3600
    )
    with worker:
        wait_until(lambda: len(seen) == 3, "the first round")
        wait_until(
            lambda: all(s["runs"] for s in status.snapshot()["loops"].values()),
            "every loop's first round",
        )
        enqueue_many(db, clock, 1)
        worker.wake("relay")
        wait_until(lambda: len(seen) == 4, "the woken round")
        began = time.monotonic()
    assert time.monotonic() - began < 10, "stop does not wait for the next round"
    assert not worker.running


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
def test_many_relay_threads_and_two_workers_deliver_each_event_once(db: Database) -> None:
    clock = SystemClock()  # a round that lost a SQLite write race is retried a second later
    ids = enqueue_many(db, clock, 300)
    delivered: list[int] = []
    lock = threading.Lock()

    def deliver(payload: dict[str, Any]) -> None:
        with lock:
            delivered.append(payload["_event_id"])

    workers = [
        Worker(db.factory, clock, {"webhook": deliver}, concurrency=3, status=LoopStatus())
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: len(delivered) >= 300, "every event", seconds=60)
    finally:
        for worker in workers:
            assert worker.stop(timeout=30)
    assert sorted(delivered) == ids, "each event exactly once"
    assert {e.status for e in stored(db)} == {"sent"}
