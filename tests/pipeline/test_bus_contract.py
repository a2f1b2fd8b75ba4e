"""One contract, two buses: every test here runs against InMemoryBus and RedisBus.

Redis tests use a key prefix of their own (deleted after the test). Time passes without
sleeping: the in-memory bus reads an injected clock; on Redis, ``age`` sets the idle time
of the pending entries (``XCLAIM … IDLE … JUSTID``, which keeps their owner and counter).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from clameur.core.bus import (
    Bus,
    BusFullError,
    BusUnavailableError,
    InMemoryBus,
    Message,
    bus_for,
    dead_stream,
)
from clameur.core.bus_redis import RedisBus
from clameur.errors import ClameurError
from tests.conftest import redis_or_skip
from tests.smtp import free_port


@dataclass
class Harness:
    make: Callable[..., Bus]
    """A bus of this kind (keyword arguments: max_backlog, max_deliveries, publish_timeout)."""
    age: Callable[[Bus, str, str, int], None]
    """Make the pending entries of (stream, group) ``ms`` milliseconds older."""


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _memory_harness() -> Iterator[Harness]:
    clocks: dict[int, _Clock] = {}

    def make(**options: Any) -> Bus:
        clock = _Clock()
        bus = InMemoryBus(clock=clock, **options)
        clocks[id(bus)] = clock
        return bus

    def age(bus: Bus, _stream: str, _group: str, ms: int) -> None:
        clocks[id(bus)].now += ms / 1000

    yield Harness(make, age)


def _redis_harness() -> Iterator[Harness]:
    url = redis_or_skip()
    made: list[RedisBus] = []

    def make(**options: Any) -> Bus:
        bus = RedisBus.from_url(url, prefix=f"test-{uuid.uuid4().hex[:12]}:", **options)
        made.append(bus)
        return bus

    def age(bus: Bus, stream: str, group: str, ms: int) -> None:
        assert isinstance(bus, RedisBus)
        key = bus.prefix + stream
        for entry in bus.client.xpending_range(key, group, min="-", max="+", count=1000):
            idle = int(entry["time_since_delivered"]) + ms
            bus.client.xclaim(
                key, group, entry["consumer"], 0, [entry["message_id"]], idle=idle, justid=True
            )

    try:
        yield Harness(make, age)
    finally:
        for bus in made:
            bus.delete_keys()
            bus.client.close()


@pytest.fixture(params=["memory", "redis"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    yield from (_memory_harness() if request.param == "memory" else _redis_harness())


def test_each_entry_goes_to_one_consumer_of_the_group(harness: Harness) -> None:
    bus = harness.make()
    ids = [bus.publish("s", {"n": i}) for i in range(5)]
    a = bus.read("s", "g", "a", count=3)
    b = bus.read("s", "g", "b", count=3)
    assert [m.body["n"] for m in a] == [0, 1, 2]
    assert [m.body["n"] for m in b] == [3, 4]
    assert [m.id for m in a + b] == ids
    assert all(m.deliveries == 1 for m in a + b)
    assert bus.read("s", "g", "c") == []
    assert bus.pending("s", "g") == 5


def test_ack_removes_entries_from_pending_and_from_the_stream(harness: Harness) -> None:
    bus = harness.make()
    ids = [bus.publish("s", {"n": i}) for i in range(4)]
    bus.read("s", "g", "a", count=4)
    assert bus.backlog("s") == 4
    bus.ack("s", "g", ids[:3])
    assert (bus.pending("s", "g"), bus.backlog("s")) == (1, 1)
    bus.ack("s", "g", ids[3:])
    assert (bus.pending("s", "g"), bus.backlog("s")) == (0, 0)


def test_entries_published_before_the_group_existed_are_read(harness: Harness) -> None:
    bus = harness.make()
    bus.publish("s", {"n": 1})
    assert [m.body for m in bus.read("s", "late-group", "x")] == [{"n": 1}]


def test_a_live_consumers_pending_entries_are_not_claimed_before_min_idle(
    harness: Harness,
) -> None:
    bus = harness.make()
    for i in range(3):
        bus.publish("s", {"n": i})
    bus.read("s", "g", "a", count=3)
    assert bus.claim_stale("s", "g", "b", min_idle_ms=60_000) == []
    harness.age(bus, "s", "g", 30_000)
    assert bus.claim_stale("s", "g", "b", min_idle_ms=60_000) == []
    harness.age(bus, "s", "g", 31_000)
    claimed = bus.claim_stale("s", "g", "b", min_idle_ms=60_000, count=2)
    assert [(m.body["n"], m.deliveries) for m in claimed] == [(0, 2), (1, 2)]
    # claiming restarts the idle time: a third consumer cannot take them at once
    assert [m.body["n"] for m in bus.claim_stale("s", "g", "c", min_idle_ms=60_000)] == [2]
    assert bus.claim_stale("s", "g", "c", min_idle_ms=60_000) == []
    assert bus.pending("s", "g") == 3


def test_touch_keeps_a_long_run_from_being_taken_over(harness: Harness) -> None:
    bus = harness.make()
    bus.publish("s", {"n": 1})
    (message,) = bus.read("s", "g", "a")
    harness.age(bus, "s", "g", 900)
    bus.touch("s", "g", "a", [message.id])
    harness.age(bus, "s", "g", 900)
    assert bus.claim_stale("s", "g", "b", min_idle_ms=1000) == [], "touched 900 ms ago"
    harness.age(bus, "s", "g", 200)
    (taken,) = bus.claim_stale("s", "g", "b", min_idle_ms=1000)
    assert taken.deliveries == 2, "touching counts no delivery"


def test_a_failed_entry_is_retried_after_min_idle_then_dead_lettered_with_its_error(
    harness: Harness,
) -> None:
    bus = harness.make(max_deliveries=3)
    poison = bus.publish("s", {"poison": True})
    fine = bus.publish("s", {"poison": False})
    first = bus.read("s", "g", "a", count=2)
    assert bus.fail("s", "g", first[0], "ValueError: bad chunk (try 1)") is False
    bus.ack("s", "g", [fine])
    assert bus.claim_stale("s", "g", "a", min_idle_ms=1000) == [], "not before min idle"
    seen = [first[0].deliveries]
    for attempt in (2, 3):
        harness.age(bus, "s", "g", 1000)
        (again,) = bus.claim_stale("s", "g", "a", min_idle_ms=1000)
        assert (again.id, again.body) == (poison, {"poison": True})
        seen.append(again.deliveries)
        buried = bus.fail("s", "g", again, f"ValueError: bad chunk (try {attempt})")
        assert buried is (attempt == 3)
    assert seen == [1, 2, 3]
    assert (bus.pending("s", "g"), bus.backlog("s")) == (0, 0)
    (letter,) = bus.dead_letters("s")
    assert (letter.source_id, letter.body, letter.deliveries) == (poison, {"poison": True}, 3)
    assert letter.error == "ValueError: bad chunk (try 3)"
    harness.age(bus, "s", "g", 10_000)
    assert bus.claim_stale("s", "g", "a", min_idle_ms=1000) == []


def test_an_entry_whose_consumers_keep_dying_is_dead_lettered_on_the_next_claim(
    harness: Harness,
) -> None:
    bus = harness.make(max_deliveries=2)
    entry = bus.publish("s", {"n": 1})
    bus.read("s", "g", "w1")  # delivery 1: w1 dies
    harness.age(bus, "s", "g", 500)
    (claimed,) = bus.claim_stale("s", "g", "w2", min_idle_ms=500)  # delivery 2: dies too
    assert claimed.deliveries == 2
    harness.age(bus, "s", "g", 500)
    told: list[tuple[str, int, str]] = []

    def on_dead(message: Message, error: str) -> None:
        told.append((message.id, message.deliveries, error))

    assert bus.claim_stale("s", "g", "w3", min_idle_ms=500, on_dead=on_dead) == []
    assert [(i, n) for i, n, _ in told] == [(entry, 2)]
    (letter,) = bus.dead_letters("s")
    assert told[0][2] == letter.error
    assert (letter.source_id, letter.deliveries) == (entry, 2)
    assert "without being acknowledged" in letter.error
    assert bus.pending("s", "g") == 0


def test_the_last_recorded_error_is_kept_when_the_claim_buries_it(harness: Harness) -> None:
    bus = harness.make(max_deliveries=1)
    bus.publish("s", {"n": 1})
    (message,) = bus.read("s", "g", "a")
    # the only delivery allowed failed: buried at once
    assert bus.fail("s", "g", message, "KeyError: 'records'") is True
    assert [letter.error for letter in bus.dead_letters("s")] == ["KeyError: 'records'"]
    assert bus.dead_letters("other") == []
    assert dead_stream("s") == "s:dead"


def test_fail_after_ack_does_nothing(harness: Harness) -> None:
    bus = harness.make(max_deliveries=1)
    bus.publish("s", {"n": 1})
    (message,) = bus.read("s", "g", "a")
    bus.ack("s", "g", [message.id])
    assert bus.fail("s", "g", message, "late") is False
    assert bus.dead_letters("s") == []


def test_a_full_stream_makes_the_producer_wait_until_a_consumer_makes_room(
    harness: Harness,
) -> None:
    bus = harness.make(max_backlog=2, publish_timeout=20.0)
    bus.publish("s", {"n": 0})
    bus.publish("s", {"n": 1})
    published = threading.Event()

    def produce() -> None:
        bus.publish("s", {"n": 2})
        published.set()

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        assert not published.wait(0.3), "the producer must wait while the stream is full"
        assert bus.backlog("s") == 2
        first = bus.read("s", "g", "a", count=1)
        assert not published.wait(0.2), "read is not room: the entry is still in progress"
        bus.ack("s", "g", [first[0].id])
        assert published.wait(10), "an ack makes room"
    finally:
        producer.join(20)
    assert [m.body["n"] for m in bus.read("s", "g", "a", count=5)] == [1, 2]
    # a consumer putting an entry back never waits
    bus.publish("s", {"n": 3}, bounded=False)
    assert bus.backlog("s") == 3


def test_a_producer_gives_up_after_publish_timeout_naming_the_stream(harness: Harness) -> None:
    bus = harness.make(max_backlog=1, publish_timeout=0.2)
    bus.publish("ingest", {"n": 0})
    start = time.monotonic()
    with pytest.raises(BusFullError, match=r"'ingest' stayed full \(1 entries") as caught:
        bus.publish("ingest", {"n": 1})
    assert time.monotonic() - start >= 0.2
    assert isinstance(caught.value, ClameurError)
    assert bus.backlog("ingest") == 1


def test_read_blocks_until_an_entry_arrives(harness: Harness) -> None:
    bus = harness.make()
    timer = threading.Timer(0.2, lambda: bus.publish("s", {"n": 1}))
    timer.start()
    try:
        got = bus.read("s", "g", "a", block_ms=5000)
    finally:
        timer.join()
    assert [m.body for m in got] == [{"n": 1}]
    start = time.monotonic()
    assert bus.read("s", "g", "a", block_ms=100) == []
    assert time.monotonic() - start >= 0.09


def test_bus_for_names_what_it_does_not_support() -> None:
    assert isinstance(bus_for("memory://"), InMemoryBus)
    with pytest.raises(ClameurError, match=r"unsupported bus URL 'kafka://x'.*CLAMEUR_BUS_URL"):
        bus_for("kafka://x")


def test_bus_for_redis_url_gives_the_redis_bus() -> None:
    url = redis_or_skip()
    bus = bus_for(url, max_backlog=7, max_deliveries=2)
    assert isinstance(bus, RedisBus)
    assert (bus.max_backlog, bus.max_deliveries) == (7, 2)
    bus.client.close()


def test_an_unreachable_redis_is_named_in_one_clear_error() -> None:
    port = free_port()  # nothing listens there
    bus = RedisBus.from_url(f"redis://127.0.0.1:{port}/0", reconnect_seconds=0.2)
    with pytest.raises(BusUnavailableError, match=rf"Redis at 127.0.0.1:{port}.*unreachable"):
        bus.publish("s", {"n": 1})
