"""Coordinated campaigns: near-identical texts posted by many fresh, inauthentic accounts.

**Near-duplicates** (:mod:`clameur.detection.campaign_sketch`): a MinHash of the character
4-grams of the folded text, cut into LSH bands stored in ``campaign_bands`` (indexed by
tenant and band hash). Texts of fewer than six words are skipped: they carry too little to
tell a template from chance. A mention sharing a band with an *earlier* mention of the same
tenant, within the brand's ``campaign_window_hours``, links to it if the estimated Jaccard
similarity of their signatures is at least ``SIMILARITY`` (0.5).

**Clusters** are per tenant and built in event time by single linkage, held to a centre: a
mention joins the cluster of what it links to if it is also at least ``CENTRE`` similar to
the cluster's founding text (so a chain of genuine look-alikes cannot drag a campaign
away from its template); when it joins two clusters they merge (the older one stays, and
so does an alert either had). A cluster's brand is its founder's (or the first member's
that has one).

**Suspicion** (:mod:`clameur.detection.campaign_score`): each distinct account is scored
from what was known when it posted (young account, few followers, first post here,
one- or five-star rating); the cluster's score is their mean times a factor for how
identical the phrasing is. With at least ``campaign_min_authors`` suspect accounts (each
suspicious enough on its own) and a score of at least ``campaign_min_score``, the
cluster raises one ``campaign`` alert with every
member so far (stored ones as evidence); each later member updates it and is flagged
``"campaign"`` for care. Genuine customers writing about one outage in their own words do
not link (they share a few words, not most 4-grams); established accounts sharing one
headline link but score low.

**State** (signatures with the author's facts at post time, bands, clusters) lives in the
database and is pruned one window behind the batch's earliest event time; every mention is
decided after the earlier ones, so a replay gives the same alerts and members whatever the
batch size. Parameters and measurements: docs/detection.md.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import numpy as np
import orjson
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute

from clameur.db.bulk import insert_returning_ids, update_by_id
from clameur.detection.alerts import Member, raise_or_update
from clameur.detection.campaign_models import CampaignBand, CampaignCluster, CampaignSignature
from clameur.detection.campaign_score import (
    SIMILARITY,
    Facts,
    is_suspect,
    median_of_sorted,
    phrasing_factor,
    reasons,
    severity,
    tally,
)
from clameur.detection.campaign_sketch import (
    BANDS,
    NUM_PERM,
    band_hashes,
    candidate_pairs,
    minhash,
    shingle_text,
    similarity,
)
from clameur.detection.rules import RuleBook, Rules, severity_rank
from clameur.mentions.draft import Draft, StepContext
from clameur.mentions.models import Author

KIND: Final = "campaign"
CENTRE: Final = 0.3
"""Similarity to a cluster's founding text needed to join it (variants of one template
stay above it; a look-alike of a look-alike does not)."""
COPY: Final = 0.9
"""A mention at least this similar to an indexed one it links to is a copy: it joins the
cluster but gets no bands, since whatever would find it finds the original (a fifth of
the demo's mentions, and retweets; fewer rows on the hot path)."""
_CHUNK: Final = 500
"""Bounds the size of ``IN (…)`` lists."""

SIGNATURES = cast(Table, CampaignSignature.__table__)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)
BANDS_TABLE = cast(Table, CampaignBand.__table__)
CLUSTERS = cast(Table, CampaignCluster.__table__)


@dataclass(eq=False)
class _Cluster:
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
    alert_key: str | None = None
    row_id: int | None = None
    units: int = 0
    """Sum of the accounts' suspicion, in millionths."""
    suspects: int = 0
    """Accounts suspicious enough on their own (:func:`is_suspect`)."""
    parent: _Cluster | None = None
    """The cluster this one was merged into."""
    joined: list[_Entry] = field(default_factory=list)
    """Members that joined during this batch (not yet written)."""
    absorbed: list[int] = field(default_factory=list)
    """Stored clusters merged into this one during this batch."""
    changed: bool = False
    # An update of the alert being gathered (see _TenantRun._after_join).
    pending: list[Member] = field(default_factory=list)
    pending_drafts: list[Draft] = field(default_factory=list)
    pending_at: datetime | None = None
    pending_severity: str | None = None
    flushed_at: datetime | None = None
    """Event time of the alert's latest update (a stored cluster's: its latest member)."""

    def root(self) -> _Cluster:
        c = self
        while c.parent is not None:
            c = c.parent
        return c

    def score(self) -> float:
        if not self.accounts:
            return 0.0
        mean = self.units / len(self.accounts) / 1_000_000
        return round(mean * phrasing_factor(self.sims), 4)

    def add_account(self, author_id: str, record: list[Any]) -> None:
        if author_id not in self.accounts:
            self.accounts[author_id] = record
            self.units += record[-1]
            self.suspects += is_suspect(record[-1])


@dataclass(eq=False)
class _Entry:
    """A mention in the window: stored, or from this batch (``draft``)."""

    key: int
    source: str
    external_id: str
    created_at: datetime
    author_id: int
    brand_id: int | None
    signature: NDArray[np.uint32]
    facts: Facts
    handle: str | None = None
    """Known for the batch's mentions; read for stored ones only when they become evidence."""
    stored: bool = False
    indexed: bool = True
    """Has bands (stored ones found through their bands always do)."""
    draft: Draft | None = None
    cluster: _Cluster | None = None
    similarity: float | None = None
    dirty: bool = False

    @property
    def order(self) -> tuple[datetime, str, str]:
        return self.created_at, self.source, self.external_id


def mention_key(source: str, external_id: str) -> int:
    """A mention's 63-bit key (see :class:`CampaignSignature`): computed, never allocated."""
    raw = hashlib.blake2b(f"{source}\x1f{external_id}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big") >> 1


def cluster_key(tenant_id: int, source: str, external_id: str) -> str:
    """A cluster's name: a digest of its founding mention, the same on every replay."""
    raw = f"{tenant_id}\x1f{source}\x1f{external_id}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _us(at: datetime) -> int:
    return (at - _EPOCH) // _MICRO


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    return (items[i : i + size] for i in range(0, len(items), size))


class CampaignDetector:
    """Finds coordinated campaigns in each batch; all its state is in the database.

    The only thing kept between batches is when each tenant's state was last pruned: old
    rows are invisible to the decisions anyway (every lookup checks event times), so
    pruning is a matter of space, done by a scan every quarter of a window.
    """

    def __init__(self) -> None:
        self.pruned: dict[int, datetime] = {}

    def detect(
        self, ctx: StepContext, drafts: list[Draft], rulebook_for: Callable[[int], RuleBook]
    ) -> None:
        """``drafts`` in event-time order; mentions not stored yet, authors resolved."""
        by_tenant: dict[int, list[Draft]] = {}
        for draft in drafts:
            # an edit (``existing_id``) is not a new voice in a campaign
            if draft.tenant_id is None or draft.author_id is None or draft.existing_id:
                continue
            by_tenant.setdefault(draft.tenant_id, []).append(draft)
        for tenant_id, group in by_tenant.items():
            run = _TenantRun(ctx, tenant_id, rulebook_for(tenant_id))
            run.run(group, self.pruned)


class _TenantRun:
    """One tenant's part of one batch: load what the batch can link to, decide, write."""

    def __init__(self, ctx: StepContext, tenant_id: int, book: RuleBook) -> None:
        self.ctx, self.session, self.tenant_id, self.book = ctx, ctx.session, tenant_id, book
        self.clusters: dict[int, _Cluster] = {}
        self.new_clusters: list[_Cluster] = []
        self.rows: list[Any] = []
        """Stored mentions sharing a band with the batch, in processing order."""
        self.bands: NDArray[np.int64] = np.empty((0, BANDS), dtype=np.int64)
        """The batch's band hashes (one row per entry)."""
        self.stored: dict[int, _Entry] = {}
        """The rows that some mention of the batch links to, as entries (by row index)."""
        all_rules = [book.tenant, *book.brands.values()]
        self.max_window = timedelta(hours=max(r.campaign_window_hours for r in all_rules))

    def window(self, brand_id: int | None) -> timedelta:
        return timedelta(hours=self.book.for_brand(brand_id).campaign_window_hours)

    def run(self, drafts: list[Draft], pruned: dict[int, datetime]) -> None:
        entries = self._entries(drafts)
        if not entries:
            return
        since = min(e.created_at for e in entries) - self.max_window
        last = pruned.get(self.tenant_id)
        if last is None or since - last >= self.max_window / 4:
            self._prune(since)
            pruned[self.tenant_id] = since
        stored_signatures = self._load(entries, since)
        links = self._links(entries, stored_signatures)
        m = len(self.rows)
        self._load_clusters(
            {self.rows[i].cluster_id for linked in links for i, _ in linked if i < m}
            - {None}
        )  # fmt: skip
        for entry, linked in zip(entries, links, strict=True):
            found = [(entries[i - m] if i >= m else self._stored(i), e) for i, e in linked]
            found = [(c, e) for c, e in found if c.indexed]  # a copy is found as its original
            entry.indexed = not found or max(e for _, e in found) < COPY * NUM_PERM
            self._link(entry, [c for c, _ in found])
        for cluster in [*self.clusters.values(), *self.new_clusters]:
            self._flush(cluster)
        self._write(entries)

    # -- reading
    def _entries(self, drafts: list[Draft]) -> list[_Entry]:
        texts: list[str] = []
        kept: list[Draft] = []
        for draft in drafts:
            text = shingle_text(draft.mention.text)
            if text is not None:
                texts.append(text)
                kept.append(draft)
        if not kept:
            return []
        keys = [mention_key(*d.key) for d in kept]
        known = self._known_keys(keys)
        if known:
            texts = [t for k, t in zip(keys, texts, strict=True) if k not in known]
            kept = [d for k, d in zip(keys, kept, strict=True) if k not in known]
            keys = [k for k in keys if k not in known]
        authors = self._authors({cast(int, d.author_id) for d in kept})
        signatures = minhash(texts)
        self.bands = band_hashes(signatures)
        entries = []
        for key, draft, sig in zip(keys, kept, signatures, strict=True):
            m, author_id = draft.mention, cast(int, draft.author_id)
            entries.append(
                _Entry(
                    key, m.source, m.external_id, m.created_at, author_id,
                    draft.brand_ids[0] if draft.brand_ids else None, sig,
                    _facts(draft, authors.get(author_id)), handle=m.author.handle, draft=draft,
                )
            )  # fmt: skip
        return entries

    def _known_keys(self, keys: list[int]) -> set[int]:
        """Mentions already signed: only a mention removed and imported again is (dedupe
        sends known mentions as edits, which are skipped)."""
        s = CampaignSignature
        stmt = select(s.key).where(s.tenant_id == self.tenant_id, self._among(s.key, keys))
        return set(self.session.scalars(stmt))

    def _authors(self, ids: set[int]) -> dict[int, Any]:
        stmt = select(
            Author.id, Author.followers, Author.account_created_at, Author.first_seen_at
        ).where(self._among(Author.id, sorted(ids)))
        return {row.id: row for row in self.session.execute(stmt)}

    def _among(
        self, column: InstrumentedAttribute[int], values: Sequence[int]
    ) -> ColumnElement[bool]:
        """``column IN values`` with one parameter however many the values: a JSON array
        read by ``json_each`` on SQLite, an array on PostgreSQL. A batch looks up thousands
        of band hashes; chunks of ``IN (?, ?, …)`` cost more to build than to run."""
        if self.session.get_bind().dialect.name == "sqlite":
            listed = select(literal_column("value", BigInteger)).select_from(
                func.json_each(orjson.dumps(list(values)).decode())
            )
            return column.in_(listed.scalar_subquery())
        return column == any_(bindparam(None, list(values), type_=ARRAY(BigInteger)))

    def _prune(self, cutoff: datetime) -> None:
        """Forget what no mention of this batch (or, in order, later) can link to: bands and
        signatures older than the window, clusters quiet for longer than it. A cluster that
        keeps going keeps its tallies; its members older than a window are evidence only
        once attached to an alert (which happens within the window, see _all_members)."""
        t, s = self.tenant_id, self.session
        s.execute(
            delete(CampaignBand).where(
                CampaignBand.tenant_id == t, CampaignBand.at < _epoch(cutoff)
            )
        )
        s.execute(
            delete(CampaignSignature).where(
                CampaignSignature.tenant_id == t, CampaignSignature.at_us < _us(cutoff)
            )
        )
        s.execute(
            delete(CampaignCluster).where(
                CampaignCluster.tenant_id == t, CampaignCluster.last_at < cutoff
            )
        )

    def _load(self, entries: list[_Entry], since: datetime) -> NDArray[np.uint32]:
        """Stored mentions of the window sharing a band with the batch: their signatures
        (rows are kept in :attr:`rows`, turned into entries only if something links)."""
        b, s = CampaignBand, CampaignSignature
        hashes = np.unique(self.bands).tolist()
        stmt = select(b.signature_key).where(
            b.tenant_id == self.tenant_id, self._among(b.band_hash, hashes)
        )
        ids = sorted(set(self.session.scalars(stmt)))
        columns = (
            s.key, s.source, s.external_id, s.at_us, s.author_id, s.brand_id, s.cluster_id,
            s.similarity, s.signature, s.age_days, s.followers, s.verified, s.first_post,
            s.rating,
        )  # fmt: skip
        query = select(*columns).where(
            s.tenant_id == self.tenant_id, self._among(s.key, ids), s.at_us >= _us(since)
        )
        rows: list[Any] = list(self.session.execute(query)) if ids else []
        rows.sort(key=lambda r: (r.at_us, r.source, r.external_id))
        self.rows = rows
        signatures = np.frombuffer(b"".join(r.signature for r in rows), dtype="<u4")
        return signatures.reshape(len(rows), NUM_PERM).astype(np.uint32)

    def _links(
        self, entries: list[_Entry], stored_signatures: NDArray[np.uint32]
    ) -> list[list[tuple[int, int]]]:
        """For each mention of the batch, the earlier mentions of its window it
        near-duplicates, as (index, equal values of the signatures) with stored rows first,
        then the batch; computed for the whole batch at once: candidate pairs from shared
        bands, then event times, then the estimated similarity, all as array operations."""
        m = len(stored_signatures)
        signatures = np.concatenate([stored_signatures, np.stack([e.signature for e in entries])])
        times = np.array([r.at_us for r in self.rows] + [_us(e.created_at) for e in entries])
        windows = np.array(
            [self.window(e.brand_id) // _MICRO for e in entries], dtype=np.int64
        )  # fmt: skip
        bands = np.concatenate([band_hashes(stored_signatures), self.bands])
        first, second = candidate_pairs(bands, m)
        span = times[second] - times[first]
        keep = (span >= 0) & (span <= windows[second - m])
        first, second = first[keep], second[keep]
        equal = np.count_nonzero(signatures[first] == signatures[second], axis=1)
        keep = equal >= SIMILARITY * NUM_PERM
        links: list[list[tuple[int, int]]] = [[] for _ in entries]
        pairs = zip(first[keep].tolist(), second[keep].tolist(), equal[keep].tolist(), strict=True)
        for i, j, e in pairs:
            links[j - m].append((i, e))
        return links

    def _stored(self, i: int) -> _Entry:
        """Stored row ``i`` as an entry (once: joins and merges must see the same object)."""
        entry = self.stored.get(i)
        if entry is None:
            r = self.rows[i]
            signature = np.frombuffer(r.signature, dtype="<u4").astype(np.uint32)
            entry = self.stored[i] = _Entry(
                r.key, r.source, r.external_id, _at(r.at_us), r.author_id, r.brand_id, signature,
                Facts(r.age_days, r.followers, r.verified, r.first_post, r.rating),
                stored=True, similarity=r.similarity,
                cluster=self.clusters.get(r.cluster_id) if r.cluster_id is not None else None,
            )  # fmt: skip
        return entry

    def _load_clusters(self, ids: set[int | None]) -> None:
        c = CampaignCluster
        columns = (c.id, c.key, c.brand_id, c.first_at, c.last_at, c.centre, c.members,
                   c.alert_key, c.state)  # fmt: skip
        wanted = sorted(i for i in ids if i is not None)
        for chunk in _chunks(wanted):
            for row in self.session.execute(select(*columns).where(c.id.in_(chunk))):
                cluster = _Cluster(
                    row.key, row.brand_id, row.first_at, row.last_at,
                    np.frombuffer(row.centre, dtype="<u4").astype(np.uint32),
                    members=row.members, sims=sorted(row.state.get("sims", [])),
                    alert_key=row.alert_key, row_id=row.id,
                    flushed_at=row.last_at if row.alert_key else None,
                )  # fmt: skip
                for author_id, record in row.state.get("accounts", {}).items():
                    cluster.add_account(author_id, record)
                self.clusters[row.id] = cluster

    # -- deciding
    def _link(self, entry: _Entry, linked: list[_Entry]) -> None:
        """Join ``entry`` to the earlier mentions of its window it near-duplicates."""
        roots: dict[int, _Cluster] = {}
        for c in linked:
            if c.cluster is not None:
                root = c.cluster.root()
                if id(root) not in roots and similarity(entry.signature, root.centre) >= CENTRE:
                    roots[id(root)] = root
        singles = sorted((c for c in linked if c.cluster is None), key=lambda c: c.order)
        if not roots and not singles:
            return
        merged = False
        if roots:
            # the oldest cluster absorbs the others, in a fixed order (replays must agree)
            target, *others = sorted(roots.values(), key=lambda k: (k.first_at, k.key))
            for root in others:
                self._merge(target, root)
                merged = True
        else:
            target = self._found(singles.pop(0))
        newcomers = [c for c in singles if similarity(c.signature, target.centre) >= CENTRE]
        for single in newcomers:
            self._join(target, single)
        self._join(target, entry)
        self._after_join(target, entry, newcomers, merged)

    def _found(self, founder: _Entry) -> _Cluster:
        cluster = _Cluster(
            cluster_key(self.tenant_id, founder.source, founder.external_id),
            founder.brand_id, founder.created_at, founder.created_at, founder.signature,
        )  # fmt: skip
        self.new_clusters.append(cluster)
        self._join(cluster, founder, founding=True)
        return cluster

    def _join(self, cluster: _Cluster, entry: _Entry, *, founding: bool = False) -> None:
        entry.cluster = cluster
        entry.dirty = entry.stored
        if not founding:
            entry.similarity = similarity(entry.signature, cluster.centre)
            bisect.insort(cluster.sims, entry.similarity)
        cluster.members += 1
        cluster.first_at = min(cluster.first_at, entry.created_at)
        cluster.last_at = max(cluster.last_at, entry.created_at)
        cluster.add_account(str(entry.author_id), entry.facts.dump())
        if cluster.brand_id is None:
            cluster.brand_id = entry.brand_id
        cluster.joined.append(entry)
        cluster.changed = True

    def _merge(self, target: _Cluster, other: _Cluster) -> None:
        other.parent = target
        target.members += other.members
        target.first_at = min(target.first_at, other.first_at)
        target.last_at = max(target.last_at, other.last_at)
        target.sims = sorted(target.sims + other.sims)
        for author_id, record in other.accounts.items():
            target.add_account(author_id, record)
        target.joined.extend(other.joined)
        target.absorbed.extend([other.row_id] if other.row_id is not None else [])
        target.absorbed.extend(other.absorbed)
        if target.alert_key is None:  # one campaign, one alert: the older cluster's if any
            target.alert_key, target.flushed_at = other.alert_key, other.flushed_at
        target.pending.extend(other.pending)  # sent with the merge's update
        target.pending_drafts.extend(other.pending_drafts)
        if other.pending_at is not None:
            target.pending_at = max(target.pending_at or other.pending_at, other.pending_at)
            target.pending_severity = max(
                target.pending_severity or "low", other.pending_severity or "low",
                key=severity_rank,
            )  # fmt: skip
        other.pending, other.pending_drafts, other.pending_at = [], [], None
        target.brand_id = target.brand_id if target.brand_id is not None else other.brand_id
        target.changed = True

    def _after_join(
        self, cluster: _Cluster, entry: _Entry, newcomers: list[_Entry], merged: bool
    ) -> None:
        """Raise the campaign when the cluster tips; update it with every later member.

        Updates are gathered and sent to the alert together (at the end of the batch, or
        sooner so that no two updates are more than half a window apart: the alert's
        cool-down is the window). The result is the one per-member updates would give:
        the highest severity reached, the state after the last member, every member.
        """
        rules = self.book.for_brand(cluster.brand_id)
        if KIND not in rules.enabled:
            return
        if cluster.alert_key is None and cluster.suspects < rules.campaign_min_authors:
            return
        score = cluster.score()
        if cluster.alert_key is None and score < rules.campaign_min_score:
            return
        level = severity(len(cluster.accounts), score, rules)
        if cluster.alert_key is None or merged:
            tip = cluster.alert_key is None
            cluster.alert_key = cluster.alert_key or f"campaign:{cluster.key}"
            self._flush(cluster)
            cluster.pending = self._all_members(cluster, entry, tip=tip)
        else:
            half = self.window(cluster.brand_id) / 2
            if cluster.flushed_at is not None and entry.created_at - cluster.flushed_at > half:
                self._flush(cluster)
            cluster.pending.extend(self._members([entry, *newcomers]))
        cluster.pending_at = entry.created_at
        cluster.pending_severity = max(
            cluster.pending_severity or level, level, key=severity_rank
        )  # fmt: skip
        if entry.draft is not None:
            if KIND not in entry.draft.flags:
                entry.draft.flags.append(KIND)
            cluster.pending_drafts.append(entry.draft)
        if merged or cluster.flushed_at is None:
            self._flush(cluster)  # the tip, or a merge: at once

    def _flush(self, cluster: _Cluster) -> None:
        """Send the gathered update of ``cluster`` to its alert."""
        if cluster.pending_at is None or cluster.alert_key is None:
            return
        rules = self.book.for_brand(cluster.brand_id)
        score = cluster.score()
        evidence, summary = _explain(cluster, score, rules)
        alert = raise_or_update(
            self.session, self.ctx.clock, rules, tenant_id=self.tenant_id,
            brand_id=cluster.brand_id, kind=KIND, key=cluster.alert_key,
            severity=cluster.pending_severity or severity(len(cluster.accounts), score, rules),
            at=cluster.pending_at, summary=summary, evidence=evidence, members=cluster.pending,
            cooldown=timedelta(hours=rules.campaign_window_hours),
        )  # fmt: skip
        for draft in cluster.pending_drafts:
            if alert.id not in draft.alert_ids:
                draft.alert_ids.append(alert.id)
        cluster.flushed_at = cluster.pending_at
        cluster.pending, cluster.pending_drafts = [], []
        cluster.pending_at = cluster.pending_severity = None

    def _members(self, entries: list[_Entry], tip: _Entry | None = None) -> list[Member]:
        """Alert evidence for ``entries`` (handles of stored mentions read once, here)."""
        missing = sorted({e.author_id for e in entries if e.handle is None})
        handles: dict[int, str] = {}
        for chunk in _chunks(missing):
            rows = self.session.execute(
                select(Author.id, Author.handle).where(Author.id.in_(chunk))
            )
            handles.update((r.id, r.handle) for r in rows)
        out = []
        for e in entries:
            e.handle = e.handle if e.handle is not None else handles[e.author_id]
            role = "tip" if e is tip else "member"
            out.append(Member(e.source, e.external_id, e.handle, e.created_at, role))
        return out

    def _all_members(self, cluster: _Cluster, at: _Entry, *, tip: bool) -> list[Member]:
        """Every member of the window before ``at``: stored ones (of this cluster and those
        merged into it) and new. Older members may have been pruned or not, depending on
        when pruning last ran: they are left out so that every replay attaches the same."""
        since = at.created_at - self.window(cluster.brand_id)
        ids = [i for i in [cluster.row_id, *cluster.absorbed] if i is not None]
        found: dict[tuple[str, str], Member] = {}
        s = CampaignSignature
        for chunk in _chunks(ids):
            rows = self.session.execute(
                select(s.source, s.external_id, s.at_us, Author.handle)
                .join(Author, Author.id == s.author_id)
                .where(s.cluster_id.in_(chunk), s.at_us >= _us(since))
            )
            for r in rows:
                found[(r.source, r.external_id)] = Member(
                    r.source, r.external_id, r.handle, _at(r.at_us)
                )
        joined = [e for e in cluster.joined if e.created_at >= since]
        for m in self._members(joined, at if tip else None):
            found[(m.source, m.external_id)] = m
        return sorted(found.values(), key=lambda m: (m.created_at, m.source, m.external_id))

    # -- writing
    def _write(self, entries: list[_Entry]) -> None:
        """Clusters first (new ones need ids), then stored members' moves, then the batch."""
        live = [
            c for c in [*self.clusters.values(), *self.new_clusters]
            if c.parent is None and c.changed
        ]  # fmt: skip
        new = [c for c in live if c.row_id is None]
        ids = insert_returning_ids(
            self.session, CLUSTERS, [self._cluster_row(c) for c in new], ("tenant_id", "key")
        )
        for cluster, row_id in zip(new, ids, strict=True):
            cluster.row_id = row_id
        update_by_id(
            self.session, CLUSTERS,
            [{"id": c.row_id, **self._cluster_row(c)} for c in live if c not in new],
        )  # fmt: skip
        for cluster in live:
            if cluster.absorbed:
                s = CampaignSignature
                self.session.execute(
                    update(s)
                    .where(s.cluster_id.in_(cluster.absorbed))
                    .values(cluster_id=cluster.row_id)
                )
                self.session.execute(
                    delete(CampaignCluster).where(CampaignCluster.id.in_(cluster.absorbed))
                )
        moved = [
            {"k_tenant": self.tenant_id, "k_key": e.key, "v_cluster": _row_of(e),
             "v_similarity": e.similarity}
            for e in self.stored.values() if e.dirty
        ]  # fmt: skip
        if moved:
            t = SIGNATURES.c
            self.session.execute(
                update(SIGNATURES)
                .where(t.tenant_id == bindparam("k_tenant"), t.key == bindparam("k_key"))
                .values(cluster_id=bindparam("v_cluster"), similarity=bindparam("v_similarity")),
                moved,
            )
        self._insert_many(SIGNATURES, _SIGNATURE_COLUMNS, [self._signature_row(e) for e in entries])
        self._insert_many(BANDS_TABLE, _BAND_COLUMNS, self._band_rows(entries))

    def _band_rows(self, entries: list[_Entry]) -> list[tuple[int, ...]]:
        """The bands of the batch's indexed mentions, in key order (B-tree inserts then
        touch neighbouring pages), built as one array."""
        indexed = np.array([e.indexed for e in entries], dtype=bool)
        bands = self.bands[indexed]
        if not len(bands):
            return []
        per = bands.shape[1]
        keys = np.array([e.key for e in entries if e.indexed], dtype=np.int64)
        times = np.array([_epoch(e.created_at) for e in entries if e.indexed], dtype=np.int64)
        table = np.column_stack(
            [np.full(bands.size, self.tenant_id, dtype=np.int64), bands.ravel(),
             np.repeat(keys, per), np.repeat(times, per)]
        )  # fmt: skip
        order = np.lexsort((table[:, 2], table[:, 1]))
        return list(map(tuple, table[order].tolist()))

    def _insert_many(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Rows of plain values, on the import's hot path (ten bands and a signature a
        mention): on SQLite straight through the driver's ``executemany`` — SQLAlchemy's
        per-row parameter processing was most of the detector's time; on PostgreSQL, Core's
        batched multi-row ``VALUES`` is the fast path already."""
        if not rows:
            return
        connection = self.session.connection()
        if connection.dialect.name == "sqlite":
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - names are constants
            connection.exec_driver_sql(sql, rows)
            return
        self.session.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])

    def _cluster_row(self, c: _Cluster) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id, "key": c.key, "brand_id": c.brand_id,
            "first_at": c.first_at, "last_at": c.last_at,
            "centre": c.centre.astype("<u4").tobytes(), "members": c.members,
            "accounts": len(c.accounts), "score": c.score(), "alert_key": c.alert_key,
            "state": {
                "accounts": c.accounts,
                "sims": c.sims,
            },
        }  # fmt: skip

    def _signature_row(self, e: _Entry) -> tuple[Any, ...]:
        f = e.facts
        return (
            self.tenant_id, e.key, e.source, e.external_id, e.author_id, e.brand_id,
            _us(e.created_at), _row_of(e), e.similarity, e.signature.astype("<u4").tobytes(),
            f.age_days, f.followers, f.verified, f.first_post, f.rating,
        )  # fmt: skip


_BAND_COLUMNS: Final = ("tenant_id", "band_hash", "signature_key", "at")
_SIGNATURE_COLUMNS: Final = (
    "tenant_id", "key", "source", "external_id", "author_id", "brand_id", "at_us", "cluster_id",
    "similarity", "signature", "age_days", "followers", "verified", "first_post", "rating",
)  # fmt: skip


def _row_of(entry: _Entry) -> int | None:
    return entry.cluster.root().row_id if entry.cluster is not None else None


def _facts(draft: Draft, author: Any) -> Facts:
    """The author's facts as of this mention: the record's own profile first (the stored
    author follows the latest mention, which would make replays depend on batch size)."""
    m = draft.mention
    created = m.author.created_at or (author.account_created_at if author else None)
    age = None if created is None else max(0.0, (m.created_at - created).total_seconds() / 86400)
    followers = m.author.followers
    if followers is None and author is not None:
        followers = author.followers
    first = author is not None and author.first_seen_at == m.created_at
    return Facts(
        None if age is None else round(age, 3), followers, m.author.verified, first, m.rating
    )


def _explain(cluster: _Cluster, score: float, rules: Rules) -> tuple[dict[str, Any], str]:
    """Evidence (signals with counts) and a one-line summary saying why."""
    t = tally(Facts.load(record) for record in cluster.accounts.values())
    sim = median_of_sorted(cluster.sims)
    minutes = int((cluster.last_at - cluster.first_at).total_seconds()) // 60
    why = reasons(t)
    summary = (
        f"Coordinated campaign: {t['accounts']} accounts ({t['suspects']} suspect) posted "
        f"{cluster.members} near-identical texts within {minutes // 60} h {minutes % 60:02d} "
        f"(median similarity {sim:.2f}); " + ", ".join(why) + f". Score {score:.2f}."
    )
    evidence = {
        "cluster": cluster.key,
        "accounts": t["accounts"],
        "posts": cluster.members,
        "score": score,
        "median_similarity": round(sim, 2),
        "first_at": cluster.first_at.astimezone(UTC).isoformat(),
        "last_at": cluster.last_at.astimezone(UTC).isoformat(),
        "window_hours": rules.campaign_window_hours,
        "signals": t,
        "why": why,
    }
    return evidence, summary
