"""The bus that moves batches between processes.

Embedded deployments use :class:`InMemoryBus`; the interface is the one of Redis Streams
with consumer groups (publish, read as a group member, acknowledge, claim what a dead
member left pending), so a Redis implementation plugs in without touching the steps.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    stream: str
    body: dict[str, Any]


class Bus(Protocol):
    def publish(self, stream: str, body: dict[str, Any]) -> str: ...

    def read(self, stream: str, group: str, consumer: str, count: int = 10) -> list[Message]:
        """New messages for this group, delivered to one consumer of the group."""
        ...

    def ack(self, stream: str, group: str, ids: list[str]) -> None: ...

    def claim_stale(self, stream: str, group: str, consumer: str, count: int = 10) -> list[Message]:
        """Messages another consumer read but never acknowledged (it died)."""
        ...


class InMemoryBus:
    """A thread-safe bus inside one process. Delivery is at-least-once, like Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._streams: dict[str, list[Message]] = defaultdict(list)
        self._cursor: dict[tuple[str, str], int] = defaultdict(int)
        self._pending: dict[tuple[str, str], OrderedDict[str, tuple[str, Message]]] = defaultdict(
            OrderedDict
        )

    def publish(self, stream: str, body: dict[str, Any]) -> str:
        with self._lock:
            message = Message(id=f"{next(self._ids)}-0", stream=stream, body=body)
            self._streams[stream].append(message)
            return message.id

    def read(self, stream: str, group: str, consumer: str, count: int = 10) -> list[Message]:
        with self._lock:
            start = self._cursor[(stream, group)]
            batch = self._streams[stream][start : start + count]
            self._cursor[(stream, group)] = start + len(batch)
            pending = self._pending[(stream, group)]
            for message in batch:
                pending[message.id] = (consumer, message)
            return list(batch)

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        with self._lock:
            pending = self._pending[(stream, group)]
            for message_id in ids:
                pending.pop(message_id, None)

    def claim_stale(self, stream: str, group: str, consumer: str, count: int = 10) -> list[Message]:
        with self._lock:
            pending = self._pending[(stream, group)]
            claimed: list[Message] = []
            for message_id, (owner, message) in list(pending.items()):
                if owner != consumer and len(claimed) < count:
                    pending[message_id] = (consumer, message)
                    claimed.append(message)
            return claimed

    def pending(self, stream: str, group: str) -> int:
        with self._lock:
            return len(self._pending[(stream, group)])


def bus_for(url: str) -> Bus:
    if url.startswith("memory://"):
        return InMemoryBus()
    raise ValueError(
        f"unsupported bus URL {url!r}: only memory:// exists so far (Redis Streams comes with "
        "the scale-out work)"
    )
