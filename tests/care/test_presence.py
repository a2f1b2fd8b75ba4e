"""Who is viewing or typing: the in-process registry, with an injected clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from clameur.care.presence import MemoryPresence
from clameur.clock import FrozenClock
from clameur.errors import InvalidInputError

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def registry(clock: FrozenClock) -> MemoryPresence:
    return MemoryPresence(clock, ttl=timedelta(seconds=30), typing_ttl=timedelta(seconds=10))


def test_others_shows_everyone_else_until_their_entry_lapses(
    registry: MemoryPresence, clock: FrozenClock
) -> None:
    registry.touch(7, 1, "viewing")
    clock.advance(timedelta(seconds=5))
    registry.touch(7, 2, "typing")
    registry.touch(8, 3, "viewing")  # another conversation
    others = registry.others(7, 1)
    assert [(p.user_id, p.state, p.since) for p in others] == [
        (2, "typing", T0 + timedelta(seconds=5))
    ]
    assert [(p.user_id, p.state) for p in registry.others(7, 2)] == [(1, "viewing")]

    clock.advance(timedelta(seconds=26))  # user 1 touched 31 s ago: gone
    assert registry.others(7, 2) == []
    # user 2 stopped typing 26 s ago: still there, only viewing
    (two,) = registry.others(7, 1)
    assert (two.state, two.since) == ("viewing", T0 + timedelta(seconds=5))
    registry.leave(7, 2)
    assert registry.others(7, 1) == []


def test_refreshing_keeps_an_agent_present_and_since_unchanged(
    registry: MemoryPresence, clock: FrozenClock
) -> None:
    for _ in range(10):
        registry.touch(7, 1, "viewing")
        clock.advance(timedelta(seconds=20))
    (one,) = registry.others(7, 2)
    assert one.since == T0
    assert one.expires_at == clock.now() + timedelta(seconds=10)
    registry.touch(7, 1, "typing")
    registry.touch(7, 1, "viewing")  # the screen says the agent stopped typing
    assert registry.others(7, 2)[0].state == "viewing"


def test_only_one_agent_may_type_an_answer(registry: MemoryPresence, clock: FrozenClock) -> None:
    assert registry.claim_typing(7, 1) is None
    clock.advance(timedelta(seconds=3))
    other = registry.claim_typing(7, 2)
    assert other is not None
    assert (other.user_id, other.state, other.since) == (1, "typing", T0)
    assert [(p.user_id, p.state) for p in registry.others(7, 1)] == [(2, "viewing")]
    assert registry.claim_typing(7, 1) is None  # the first typist keeps typing
    clock.advance(timedelta(seconds=11))  # user 1 stopped typing
    assert registry.claim_typing(7, 2) is None
    again = registry.claim_typing(7, 1)
    assert again is not None
    assert again.user_id == 2


def test_claims_racing_from_many_threads_have_one_winner(clock: FrozenClock) -> None:
    registry = MemoryPresence(clock)
    workers = 16
    barrier = threading.Barrier(workers)
    winners: list[int] = []
    lock = threading.Lock()

    def claim(user_id: int) -> None:
        barrier.wait()
        if registry.claim_typing(42, user_id) is None:
            with lock:
                winners.append(user_id)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    states = {p.user_id: p.state for p in registry.others(42, -1)}
    assert states == {n: "typing" if n == winners[0] else "viewing" for n in range(workers)}


def test_bad_state_and_ttl_are_refused(registry: MemoryPresence, clock: FrozenClock) -> None:
    with pytest.raises(InvalidInputError, match="viewing or typing"):
        registry.touch(7, 1, "editing")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="positive"):
        MemoryPresence(clock, ttl=timedelta(0))


def test_expired_entries_of_idle_conversations_are_swept(
    registry: MemoryPresence, clock: FrozenClock
) -> None:
    for conversation_id in range(999):
        registry.touch(conversation_id, 1, "viewing")
    clock.advance(timedelta(minutes=1))
    registry.touch(5000, 1, "viewing")  # the 1000th touch sweeps
    assert len(registry) == 1  # conversations with someone in them
