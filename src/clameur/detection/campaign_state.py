"""The in-memory state of one tenant's campaign run: clusters and the window's mentions.

Split from :mod:`clameur.detection.campaign` (the decisions); what is stored between
batches is in :mod:`clameur.detection.campaign_store`.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.detection.alerts import Member
from clameur.detection.campaign_score import (
    ClusterView,
    Facts,
    is_suspect,
    phrasing_factor,
    shows_suspicion,
)
from clameur.mentions.draft import Draft


@dataclass(eq=False)
class Cluster:
    """A cluster's decisions are made on its last window: the accounts whose first member
    (since they entered) and the members whose own time are within the brand's
    ``campaign_window_hours`` of its newest member (:meth:`evict`); ``members``,
    ``first_at`` and :attr:`evicted` are lifetime figures. The state stored between
    batches (:meth:`dump`, :meth:`load`) is that window and running totals, so it stays
    bounded however long a common phrasing keeps gathering members."""

    key: str
    brand_id: int | None
    first_at: datetime
    last_at: datetime
    centre: NDArray[np.uint32]
    members: int = 0
    """Members over the cluster's life (posts)."""
    accounts: dict[str, list[Any]] = field(default_factory=dict)
    """Author id → :meth:`Facts.dump` of the account's first member (its suspicion last),
    for the accounts of the window."""
    sims: list[float] = field(default_factory=list)
    """The window's members' similarity to the centre, sorted."""
    rare: list[int] = field(default_factory=list)
    """The window's members' rare shingles (:mod:`clameur.detection.campaign_idf`), sorted."""
    times: dict[str, int] = field(default_factory=dict)
    """Author id → event time (epoch seconds) of the account's first member."""
    sorted_times: list[int] = field(default_factory=list)
    """:attr:`times`' values, sorted (the burst is measured on them)."""
    order: list[str] = field(default_factory=list)
    """The accounts in the order of :attr:`sorted_times` (the oldest leave first)."""
    post_times: list[int] = field(default_factory=list)
    """The window's members' event times (epoch seconds), sorted; with their similarity
    (:attr:`post_sims`) and rare shingles (:attr:`post_rare`), in the same order: what
    leaves :attr:`sims` and :attr:`rare` when they leave the window (None: not counted)."""
    post_sims: list[float | None] = field(default_factory=list)
    post_rare: list[int | None] = field(default_factory=list)
    evicted: int = 0
    """Accounts that left the window (an account back after that counts again)."""
    alert_key: str | None = None
    row_id: int | None = None
    units: int = 0
    """Sum of the window's accounts' suspicion, in millionths."""
    suspects: int = 0
    """Accounts suspicious enough on their own (:func:`is_suspect`)."""
    evident: int = 0
    """Suspects whose profile shows it (:func:`shows_suspicion`), not only unknowns."""
    parent: Cluster | None = None
    """The cluster this one was merged into."""
    joined: list[Entry] = field(default_factory=list)
    """Members that joined during this batch (not yet written)."""
    absorbed: list[int] = field(default_factory=list)
    """Stored clusters merged into this one during this batch."""
    changed: bool = False
    # An update of the alert being gathered (see campaign._TenantRun._after_join).
    pending: list[Member] = field(default_factory=list)
    pending_drafts: list[Draft] = field(default_factory=list)
    retro: list[tuple[str, str]] = field(default_factory=list)
    """Members stored before the alert named them: their conversations are flagged when the
    update is sent (retro-flagging)."""
    pending_at: datetime | None = None
    pending_severity: str | None = None
    flushed_at: datetime | None = None
    """Event time of the alert's latest update (a stored cluster's: its latest member)."""

    def root(self) -> Cluster:
        c = self
        while c.parent is not None:
            c = c.parent
        return c

    def score(self) -> float:
        if not self.accounts:
            return 0.0
        mean = self.units / len(self.accounts) / 1_000_000
        return round(mean * phrasing_factor(self.sims), 4)

    @property
    def lifetime_accounts(self) -> int:
        """Accounts gathered over the cluster's life (one back after a window twice)."""
        return self.evicted + len(self.accounts)

    def view(self) -> ClusterView:
        return ClusterView(
            self.key,
            self.accounts.values(),
            self.sims,
            self.members,
            self.first_at,
            self.last_at,
            rare=self.rare,
            times=self.sorted_times,
            earlier_accounts=self.evicted,
        )

    def add_account(self, author_id: str, record: list[Any], at: int) -> None:
        if author_id not in self.accounts:
            self.accounts[author_id] = record
            self.units += record[-1]
            self.suspects += is_suspect(record[-1])
            self.evident += is_suspect(record[-1]) and shows_suspicion(record)
            self.times[author_id] = at
            i = bisect.bisect_right(self.sorted_times, at)
            self.sorted_times.insert(i, at)
            self.order.insert(i, author_id)

    def add_post(self, at: int, sim: float | None, rare: int | None) -> None:
        i = bisect.bisect_right(self.post_times, at)
        self.post_times.insert(i, at)
        self.post_sims.insert(i, sim)
        self.post_rare.insert(i, rare)
        if sim is not None:
            bisect.insort(self.sims, sim)
        if rare is not None:
            bisect.insort(self.rare, rare)

    def evict(self, cutoff: int) -> None:
        """Forget the accounts whose first member, and the members, before ``cutoff``
        (epoch seconds): run before every join and merge, so that what a decision sees
        depends on the members so far, not on when batches began."""
        k = bisect.bisect_left(self.sorted_times, cutoff)
        if k:
            for author_id in self.order[:k]:
                record = self.accounts.pop(author_id)
                del self.times[author_id]
                self.units -= record[-1]
                self.suspects -= is_suspect(record[-1])
                self.evident -= is_suspect(record[-1]) and shows_suspicion(record)
            del self.order[:k], self.sorted_times[:k]
            self.evicted += k
        k = bisect.bisect_left(self.post_times, cutoff)
        if k:
            for sim in self.post_sims[:k]:
                if sim is not None:
                    del self.sims[bisect.bisect_left(self.sims, sim)]
            for rare in self.post_rare[:k]:
                if rare is not None:
                    del self.rare[bisect.bisect_left(self.rare, rare)]
            del self.post_times[:k], self.post_sims[:k], self.post_rare[:k]

    def in_burst(self, at: int, seconds: int) -> int:
        """Accounts whose first member is in the ``seconds`` up to ``at``."""
        t = self.sorted_times
        return bisect.bisect_right(t, at) - bisect.bisect_left(t, at - seconds)

    def dump(self) -> dict[str, Any]:
        """The stored state: the window (accounts, their first members' times, members)
        and the running totals, so that loading replays nothing."""
        return {
            "accounts": self.accounts,
            "times": self.times,
            "post_times": self.post_times,
            "post_sims": self.post_sims,
            "post_rare": self.post_rare,
            "units": self.units,
            "suspects": self.suspects,
            "evident": self.evident,
            "evicted": self.evicted,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore :meth:`dump`'s state (or, once, a state stored before it was bounded:
        every account and member ever, members without their times, taken as the
        cluster's last; the next :meth:`evict` trims it)."""
        if "posts" in state:  # the first bounded format: (time, sim, rare) triples
            posts = state.pop("posts")
            state["post_times"] = [p[0] for p in posts]
            state["post_sims"] = [p[1] for p in posts]
            state["post_rare"] = [p[2] for p in posts]
        if "post_times" not in state:
            at = int(self.last_at.timestamp())
            times = state.get("times", {})
            for author_id, record in state.get("accounts", {}).items():
                self.add_account(author_id, record, times.get(author_id, at))
            for sim in state.get("sims", []):
                self.add_post(at, sim, None)
            for rare in state.get("rare", []):
                self.add_post(at, None, rare)
            return
        self.accounts, self.times = state["accounts"], state["times"]
        ordered = sorted(zip(self.times.values(), self.times.keys(), strict=True))
        self.sorted_times = [t for t, _ in ordered]
        self.order = [a for _, a in ordered]
        self.post_times = state["post_times"]
        self.post_sims, self.post_rare = state["post_sims"], state["post_rare"]
        self.sims = sorted(x for x in self.post_sims if x is not None)
        self.rare = sorted(x for x in self.post_rare if x is not None)
        self.units, self.suspects = state["units"], state["suspects"]
        self.evident, self.evicted = state["evident"], state["evicted"]


@dataclass(eq=False)
class Entry:
    """A mention in the window: stored, or from this batch (``draft``)."""

    key: int
    source: str
    external_id: str
    created_at: datetime
    author_id: int
    brand_id: int | None
    signature: NDArray[np.uint32]
    facts: Facts
    rare: int | None = None
    """Rare shingles of the text (None: stored before they were counted)."""
    handle: str | None = None
    """Known for the batch's mentions; read for stored ones only when they become evidence."""
    stored: bool = False
    indexed: bool = True
    """Has bands (stored ones found through their bands always do)."""
    draft: Draft | None = None
    cluster: Cluster | None = None
    similarity: float | None = None
    dirty: bool = False

    @property
    def order(self) -> tuple[datetime, str, str]:
        return self.created_at, self.source, self.external_id


def cluster_key(tenant_id: int, source: str, external_id: str) -> str:
    """A cluster's name: a digest of its founding mention, the same on every replay."""
    raw = f"{tenant_id}\x1f{source}\x1f{external_id}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()
