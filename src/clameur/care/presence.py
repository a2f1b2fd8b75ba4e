"""Who is viewing or typing in a conversation, so that two agents do not answer one post.

Agents' screens report themselves every few seconds (:meth:`touch`); an entry lapses after
its time to live unless refreshed (typing lapses sooner than viewing: a typist who stopped
is soon only a viewer). Before starting an answer a screen calls :meth:`claim_typing`: it
marks the agent typing, unless another agent already is — then that other typist is
returned and the caller shows "X is typing" instead.

The registry is ephemeral (never in the database): :class:`MemoryPresence` lives in one
process, which fits the embedded deployment (one web process). Conversation ids are unique
across tenants; callers check the agent may see the conversation before touching it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from clameur.clock import Clock
from clameur.errors import InvalidInputError

State = Literal["viewing", "typing"]
STATES: tuple[State, ...] = ("viewing", "typing")


@dataclass(frozen=True, slots=True)
class Presence:
    user_id: int
    state: State
    since: datetime
    """When the agent started this state (refreshing does not move it)."""
    expires_at: datetime


class PresenceRegistry(Protocol):
    def touch(self, conversation_id: int, user_id: int, state: State) -> Presence: ...

    def leave(self, conversation_id: int, user_id: int) -> None: ...

    def others(self, conversation_id: int, user_id: int) -> list[Presence]: ...

    def claim_typing(self, conversation_id: int, user_id: int) -> Presence | None: ...


@dataclass(slots=True)
class _Entry:
    viewing_since: datetime
    expires_at: datetime
    typing_since: datetime | None = None
    typing_until: datetime | None = None

    def typing(self, now: datetime) -> bool:
        return self.typing_until is not None and now < self.typing_until

    def view(self, user_id: int, now: datetime) -> Presence:
        if self.typing(now):
            assert self.typing_since is not None
            return Presence(user_id, "typing", self.typing_since, self.expires_at)
        return Presence(user_id, "viewing", self.viewing_since, self.expires_at)


class MemoryPresence:
    """The in-process registry (thread-safe), with the time from an injected clock.

    An entry lives ``ttl`` after its last touch; "typing" lasts ``typing_ttl`` after the
    last typing touch, then the agent shows as viewing until the entry lapses."""

    def __init__(
        self,
        clock: Clock,
        *,
        ttl: timedelta = timedelta(seconds=30),
        typing_ttl: timedelta = timedelta(seconds=10),
    ) -> None:
        if ttl <= timedelta(0) or typing_ttl <= timedelta(0):
            raise InvalidInputError("presence time to live must be positive", where="ttl")
        self._clock = clock
        self._ttl = ttl
        self._typing_ttl = min(typing_ttl, ttl)
        self._lock = threading.Lock()
        self._entries: dict[int, dict[int, _Entry]] = {}
        self._touches = 0

    def __len__(self) -> int:
        """How many conversations hold entries (expired ones linger until swept)."""
        with self._lock:
            return len(self._entries)

    def _live(self, conversation_id: int, now: datetime) -> dict[int, _Entry]:
        """The conversation's unexpired entries (expired ones dropped). Lock held."""
        entries = self._entries.get(conversation_id)
        if entries is None:
            return {}
        for user_id in [u for u, e in entries.items() if e.expires_at <= now]:
            del entries[user_id]
        if not entries:
            del self._entries[conversation_id]
            return {}
        return entries

    def _sweep(self, now: datetime) -> None:
        """Drop every expired entry now and then, so idle conversations do not pile up."""
        self._touches += 1
        if self._touches % 1000 == 0:
            for conversation_id in list(self._entries):
                self._live(conversation_id, now)

    def _set(self, conversation_id: int, user_id: int, state: State, now: datetime) -> Presence:
        if state not in STATES:
            raise InvalidInputError(f"state is viewing or typing, got {state!r}", where="state")
        entries = self._live(conversation_id, now)
        entry = entries.get(user_id)
        if entry is None:
            entry = _Entry(viewing_since=now, expires_at=now)
            self._entries.setdefault(conversation_id, {})[user_id] = entry
        entry.expires_at = now + self._ttl
        if state == "typing":
            if not entry.typing(now):
                entry.typing_since = now
            entry.typing_until = now + self._typing_ttl
        else:  # the screen says viewing: the agent stopped typing
            entry.typing_since = entry.typing_until = None
        return entry.view(user_id, now)

    def touch(self, conversation_id: int, user_id: int, state: State) -> Presence:
        """The agent is viewing (or typing in) the conversation; refreshes the entry."""
        now = self._clock.now()
        with self._lock:
            self._sweep(now)
            return self._set(conversation_id, user_id, state, now)

    def leave(self, conversation_id: int, user_id: int) -> None:
        """The agent closed the conversation."""
        with self._lock:
            entries = self._entries.get(conversation_id)
            if entries is not None:
                entries.pop(user_id, None)
                if not entries:
                    del self._entries[conversation_id]

    def others(self, conversation_id: int, user_id: int) -> list[Presence]:
        """Everyone else viewing or typing in the conversation, typists first."""
        now = self._clock.now()
        with self._lock:
            live = self._live(conversation_id, now)
            found = [e.view(u, now) for u, e in live.items() if u != user_id]
        return sorted(found, key=lambda p: (p.state != "typing", p.since, p.user_id))

    def claim_typing(self, conversation_id: int, user_id: int) -> Presence | None:
        """Mark the agent typing, unless someone else typed first: then return that typist
        (the earliest) and only mark the agent viewing. Atomic."""
        now = self._clock.now()
        with self._lock:
            self._sweep(now)
            live = self._live(conversation_id, now)
            typists = [e.view(u, now) for u, e in live.items() if e.typing(now)]
            first = min(typists, key=lambda p: (p.since, p.user_id), default=None)
            if first is None or first.user_id == user_id:
                self._set(conversation_id, user_id, "typing", now)
                return None
            self._set(conversation_id, user_id, "viewing", now)
            return first
