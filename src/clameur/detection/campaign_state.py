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
    key: str
    brand_id: int | None
    first_at: datetime
    last_at: datetime
    centre: NDArray[np.uint32]
    members: int = 0
    accounts: dict[str, list[Any]] = field(default_factory=dict)
    """Author id → :meth:`Facts.dump` of the account's first member (its suspicion last)."""
    sims: list[float] = field(default_factory=list)
    """Members' similarity to the centre, sorted."""
    rare: list[int] = field(default_factory=list)
    """Members' rare shingles (:mod:`clameur.detection.campaign_idf`), sorted."""
    times: dict[str, int] = field(default_factory=dict)
    """Author id → event time (epoch seconds) of the account's first member."""
    sorted_times: list[int] = field(default_factory=list)
    """:attr:`times`' values, sorted (the burst is measured on them)."""
    alert_key: str | None = None
    row_id: int | None = None
    units: int = 0
    """Sum of the accounts' suspicion, in millionths."""
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
        )

    def add_account(self, author_id: str, record: list[Any], at: int | None) -> None:
        if author_id not in self.accounts:
            self.accounts[author_id] = record
            self.units += record[-1]
            self.suspects += is_suspect(record[-1])
            self.evident += is_suspect(record[-1]) and shows_suspicion(record)
            if at is not None:
                self.times[author_id] = at
                bisect.insort(self.sorted_times, at)

    def in_burst(self, at: int, seconds: int) -> int:
        """Accounts whose first member is in the ``seconds`` up to ``at``."""
        t = self.sorted_times
        return bisect.bisect_right(t, at) - bisect.bisect_left(t, at - seconds)


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
