"""The bus that moves batches between processes: one contract, two implementations.

Embedded deployments use :class:`InMemoryBus`; scaled-out ones :class:`~clameur.core.
bus_redis.RedisBus` (Redis Streams). Both keep the same semantics, checked by the same
contract tests (``tests/pipeline/test_bus_contract.py``):

- **A stream is a work queue with one consumer group.** ``read`` hands each new entry to
  one member of the group; the entry stays *pending* for that member until ``ack``, which
  also deletes it — so a stream's length is its backlog (what is queued or in progress).
- **Bounded, with backpressure.** ``publish`` waits while the stream holds ``max_backlog``
  entries or more, until consumers make room or ``publish_timeout`` passes
  (:class:`BusFullError`). Producers pause; memory does not grow.
- **At-least-once, with a delivery counter.** A first ``read`` is delivery 1; each
  ``claim_stale`` of an entry counts one more. ``claim_stale`` takes only entries idle for
  at least ``min_idle_ms`` since their last delivery (their consumer died or is stuck),
  never another consumer's fresh work.
- **Dead letters.** ``fail`` records a failed delivery's error on the entry; once an entry
  has been delivered ``max_deliveries`` times and fails (or would be delivered once more),
  it moves to the stream ``<stream>:dead`` with its last error, and leaves the source
  stream (acknowledged and deleted). A dead-letter stream keeps the last ``dead_max``
  entries.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from clameur.errors import ClameurError

if TYPE_CHECKING:
    from clameur.config import Settings

DEFAULT_MAX_DELIVERIES = 5
DEFAULT_DEAD_MAX = 10_000
NO_ERROR = "delivered {n} times without being acknowledged (its consumers died or hung)"
"""The dead letter's error when no consumer recorded one (each died while processing)."""


class BusFullError(ClameurError):
    """A producer waited ``publish_timeout`` for room in a full stream."""


class BusUnavailableError(ClameurError):
    """The bus's server could not be reached (after the reconnection attempts)."""


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    stream: str
    body: dict[str, Any]
    deliveries: int = 1
    """How many times the entry was delivered, this delivery included."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    """The entry's id in the dead-letter stream."""
    source_id: str
    """Its id in the stream it came from."""
    body: dict[str, Any]
    error: str
    deliveries: int


OnDead = Callable[[Message, str], None]
"""Told of each entry a claim dead-lettered: the entry (its last delivery count) and error."""


def dead_stream(stream: str) -> str:
    return f"{stream}:dead"


class Bus(Protocol):
    max_deliveries: int

    def publish(self, stream: str, body: dict[str, Any], *, bounded: bool = True) -> str:
        """Append ``body``; waits while the stream is full (``bounded=False``: never — for
        a consumer putting an entry back, which must not wait on itself)."""
        ...

    def read(
        self, stream: str, group: str, consumer: str, count: int = 10, block_ms: int = 0
    ) -> list[Message]:
        """New entries for this group, delivered to this consumer (waiting up to
        ``block_ms`` for some when there are none)."""
        ...

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        """Done with these entries: they leave the pending list and the stream."""
        ...

    def claim_stale(
        self,
        stream: str,
        group: str,
        consumer: str,
        min_idle_ms: int,
        count: int = 10,
        *,
        on_dead: OnDead | None = None,
    ) -> list[Message]:
        """Pending entries idle for at least ``min_idle_ms``, now this consumer's (one more
        delivery each), oldest first. Entries past ``max_deliveries`` are dead-lettered
        instead, and passed to ``on_dead(message, error)``."""
        ...

    def touch(self, stream: str, group: str, consumer: str, ids: list[str]) -> None:
        """This consumer is still working on these entries: their idle time starts again
        (no delivery is counted), so a long run is not taken over as if it had died."""
        ...

    def fail(self, stream: str, group: str, message: Message, error: str) -> bool:
        """This delivery of ``message`` failed with ``error``. True when that was its last
        allowed delivery and it moved to the dead letters; otherwise it stays pending and
        ``claim_stale`` offers it again once idle."""
        ...

    def pending(self, stream: str, group: str) -> int:
        """Entries delivered to the group's consumers and not acknowledged."""
        ...

    def backlog(self, stream: str) -> int:
        """Entries in the stream: queued or in progress."""
        ...

    def dead_letters(self, stream: str, count: int = 100) -> list[DeadLetter]:
        """The oldest ``count`` dead letters of ``stream``."""
        ...


# -- in memory ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    consumer: str
    delivered_at: float
    deliveries: int


@dataclass
class _Stream:
    entries: OrderedDict[int, dict[str, Any]] = field(default_factory=OrderedDict)
    last_delivered: dict[str, int] = field(default_factory=dict)
    """Per group: the highest entry number delivered (``read`` starts after it)."""
    pending: dict[str, OrderedDict[int, _Pending]] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)


class InMemoryBus:
    """A thread-safe bus inside one process, with the semantics of the Redis one.

    ``clock`` (seconds, monotonic) decides idleness, so tests age entries without
    sleeping."""

    def __init__(
        self,
        *,
        max_backlog: int | None = None,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        publish_timeout: float | None = None,
        dead_max: int = DEFAULT_DEAD_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
        self.max_backlog = max_backlog
        self.max_deliveries = max_deliveries
        self.publish_timeout = publish_timeout
        self.dead_max = dead_max
        self._clock = clock
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._streams: dict[str, _Stream] = {}

    def _stream(self, name: str) -> _Stream:
        return self._streams.setdefault(name, _Stream())

    def publish(self, stream: str, body: dict[str, Any], *, bounded: bool = True) -> str:
        deadline = None if self.publish_timeout is None else time.monotonic() + self.publish_timeout
        with self._changed:
            state = self._stream(stream)
            bound = self.max_backlog if bounded else None
            while bound is not None and len(state.entries) >= bound:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise BusFullError(full_reason(stream, bound, self.publish_timeout))
                self._changed.wait(left)
            number = next(self._ids)
            state.entries[number] = body
            self._changed.notify_all()
            return f"{number}-0"

    def read(
        self, stream: str, group: str, consumer: str, count: int = 10, block_ms: int = 0
    ) -> list[Message]:
        deadline = time.monotonic() + block_ms / 1000
        with self._changed:
            state = self._stream(stream)
            while True:
                after = state.last_delivered.get(group, 0)
                fresh = [n for n in state.entries if n > after][:count]
                if fresh or time.monotonic() >= deadline:
                    break
                self._changed.wait(deadline - time.monotonic())
            if not fresh:
                return []
            state.last_delivered[group] = fresh[-1]
            pending = state.pending.setdefault(group, OrderedDict())
            now = self._clock()
            for number in fresh:
                pending[number] = _Pending(consumer, now, 1)
            return [Message(f"{n}-0", stream, state.entries[n], 1) for n in fresh]

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        with self._changed:
            state = self._stream(stream)
            pending = state.pending.setdefault(group, OrderedDict())
            for message_id in ids:
                number = _number(message_id)
                pending.pop(number, None)
                state.entries.pop(number, None)
                state.errors.pop(number, None)
            self._changed.notify_all()

    def claim_stale(
        self,
        stream: str,
        group: str,
        consumer: str,
        min_idle_ms: int,
        count: int = 10,
        *,
        on_dead: OnDead | None = None,
    ) -> list[Message]:
        buried: list[tuple[Message, str]] = []
        with self._changed:
            state = self._stream(stream)
            pending = state.pending.setdefault(group, OrderedDict())
            now = self._clock()
            claimed: list[Message] = []
            for number, entry in list(pending.items()):
                if len(claimed) >= count:
                    break
                if (now - entry.delivered_at) * 1000 < min_idle_ms:
                    continue
                if number not in state.entries:  # deleted meanwhile: nothing to deliver
                    del pending[number]
                    continue
                entry.consumer, entry.delivered_at = consumer, now
                entry.deliveries += 1
                message = Message(f"{number}-0", stream, state.entries[number], entry.deliveries)
                if entry.deliveries > self.max_deliveries:
                    reason = state.errors.get(number) or NO_ERROR.format(n=entry.deliveries - 1)
                    self._bury(stream, group, message, reason, entry.deliveries - 1)
                    buried.append((replace(message, deliveries=entry.deliveries - 1), reason))
                    continue
                claimed.append(message)
        for message, reason in buried:  # outside the lock: the callback may use the bus
            if on_dead is not None:
                on_dead(message, reason)
        return claimed

    def touch(self, stream: str, group: str, consumer: str, ids: list[str]) -> None:
        with self._changed:
            pending = self._stream(stream).pending.setdefault(group, OrderedDict())
            now = self._clock()
            for message_id in ids:
                entry = pending.get(_number(message_id))
                if entry is not None:
                    entry.consumer, entry.delivered_at = consumer, now

    def fail(self, stream: str, group: str, message: Message, error: str) -> bool:
        with self._changed:
            state = self._stream(stream)
            number = _number(message.id)
            if number not in state.pending.get(group, {}):
                return False  # acknowledged or buried meanwhile (another delivery of it)
            state.errors[number] = error
            if message.deliveries >= self.max_deliveries:
                self._bury(stream, group, message, error, message.deliveries)
                return True
            return False

    def _bury(self, stream: str, group: str, message: Message, error: str, deliveries: int) -> None:
        """Move to the dead letters and out of the source (lock held)."""
        dead = self._stream(dead_stream(stream))
        number = next(self._ids)
        dead.entries[number] = {
            "source_id": message.id,
            "body": message.body,
            "error": error,
            "deliveries": deliveries,
        }
        while len(dead.entries) > self.dead_max:
            dead.entries.popitem(last=False)
        state = self._stream(stream)
        source = _number(message.id)
        state.pending.setdefault(group, OrderedDict()).pop(source, None)
        state.entries.pop(source, None)
        state.errors.pop(source, None)
        self._changed.notify_all()

    def pending(self, stream: str, group: str) -> int:
        with self._changed:
            return len(self._stream(stream).pending.get(group, {}))

    def backlog(self, stream: str) -> int:
        with self._changed:
            return len(self._stream(stream).entries)

    def dead_letters(self, stream: str, count: int = 100) -> list[DeadLetter]:
        with self._changed:
            entries = list(self._stream(dead_stream(stream)).entries.items())[:count]
            return [
                DeadLetter(
                    id=f"{n}-0",
                    source_id=str(e["source_id"]),
                    body=dict(e["body"]),
                    error=str(e["error"]),
                    deliveries=int(e["deliveries"]),
                )
                for n, e in entries
            ]


def _number(message_id: str) -> int:
    return int(message_id.split("-", 1)[0])


def full_reason(stream: str, bound: int, timeout: float | None) -> str:
    return (
        f"bus stream {stream!r} stayed full ({bound} entries, CLAMEUR_BUS_MAX_BACKLOG) for "
        f"{timeout:g} s: are `clameur worker` processes running?"
    )


def bus_for(
    url: str,
    *,
    max_backlog: int | None = None,
    max_deliveries: int = DEFAULT_MAX_DELIVERIES,
    publish_timeout: float | None = None,
    prefix: str = "clameur:",
) -> Bus:
    """The bus at ``url``: ``memory://`` (this process only) or ``redis://…`` /
    ``rediss://…`` / ``unix://…`` (Redis Streams)."""
    if url.startswith("memory://"):
        return InMemoryBus(
            max_backlog=max_backlog, max_deliveries=max_deliveries, publish_timeout=publish_timeout
        )
    if url.startswith(("redis://", "rediss://", "unix://")):
        from clameur.core.bus_redis import RedisBus

        return RedisBus.from_url(
            url,
            prefix=prefix,
            max_backlog=max_backlog,
            max_deliveries=max_deliveries,
            publish_timeout=publish_timeout,
        )
    raise ClameurError(
        f"unsupported bus URL {url!r} (CLAMEUR_BUS_URL): use memory:// or redis://HOST:PORT/DB"
    )


def bus_from_settings(settings: Settings) -> Bus:
    """The deployment's bus (``CLAMEUR_BUS_URL`` and the ``CLAMEUR_BUS_*`` knobs)."""
    return bus_for(
        settings.bus_url,
        max_backlog=settings.bus_max_backlog or None,
        max_deliveries=settings.bus_max_deliveries,
        publish_timeout=settings.bus_publish_timeout or None,
        prefix=settings.bus_prefix,
    )
