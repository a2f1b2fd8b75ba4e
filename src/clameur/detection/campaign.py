"""Coordinated campaigns: near-identical texts posted by many fresh, inauthentic accounts.

**Near-duplicates** (:mod:`clameur.detection.campaign_sketch`): a MinHash of the character
4-grams of the folded text, cut into LSH bands stored in ``campaign_bands`` (indexed by
tenant and band hash). Texts of fewer than six words are skipped: they carry too little to
tell a template from chance. A mention sharing a band with an *earlier* mention of the same
tenant, within the brand's ``campaign_window_hours``, links to it if the estimated Jaccard
similarity of their signatures is at least ``SIMILARITY`` (0.5). A batch's candidate pairs
and similarities are computed at once, as array operations; decisions then follow the
mentions one by one, in event-time order.

**Clusters** are per tenant, built by single linkage held to a centre: a mention joins the
cluster of what it links to if it is also at least ``CENTRE`` similar to the cluster's
founding text (a chain of genuine look-alikes cannot drag a campaign away from its
template); when it joins two clusters they merge (the older one stays, and so does an
alert either had). A cluster's brand is its founder's (or the first member's that has
one). A copy (``COPY``) joins without bands of its own.

**Coordination first** (:func:`clameur.detection.campaign_score.coordinated`): a cluster
can alert only when ``campaign_min_authors`` of its accounts (twice as many for loosely
similar texts) posted within ``BURST_HOURS``, most of its accounts, and its texts are
distinctive in the tenant's archive (``MIN_RARE`` rare shingles,
:mod:`clameur.detection.campaign_idf`): common phrasings and sameness spread over days are
coincidence. **Suspicion** (:mod:`clameur.detection.campaign_score`) only then: each
distinct account is scored from what was known when it posted (young account, few
followers, first post here, one- or five-star rating); the cluster's score is their mean
times a factor for how identical the phrasing is. With at least ``campaign_min_authors``
suspects (accounts suspicious enough on their own) and a score of at least
``campaign_min_score``, the cluster raises one ``campaign`` alert with every member of the
window so far; each later member updates it (updates gathered per batch) and is flagged
``"campaign"`` for care. Members before the tip are flagged too: this batch's drafts like
the tip, stored ones' conversations through
:func:`clameur.care.campaigns.flag_earlier_members` (retro-flagging, same transaction).
Genuine customers writing about one outage in their own words do not link (they share a
few words, not most 4-grams), or link loosely and need twice the accounts; established
accounts sharing one headline link but score low.

**State** (:mod:`clameur.detection.campaign_store`: signatures with the author's facts at
post time, bands, clusters) lives in the database, pruned a window behind the batch's
earliest event time. A cluster decides on its last window only (the accounts and members
within the window of its newest member, :meth:`Cluster.evict` before every join), and
that is all it stores, with running totals: a common phrasing that gathers members for
weeks costs each batch what its last day does. Every mention is decided after the
earlier ones, from that state, so a replay gives the same alerts, members and flags
whatever the batch size. Parameters and measurements: docs/detection.md ("Coordinated
campaigns").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final, cast

import numpy as np
from numpy.typing import NDArray

from clameur.detection import campaign_store as store
from clameur.detection.alerts import Member, raise_or_update
from clameur.detection.campaign_idf import HORIZON_DAYS, batch_counts, day_of, rare_counts, sampled
from clameur.detection.campaign_score import (
    BURST_HOURS,
    SIMILARITY,
    Facts,
    coordinated,
    explain,
    facts_of,
    needed_accounts,
    severity,
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
from clameur.detection.campaign_state import Cluster, Entry, cluster_key
from clameur.detection.rules import RuleBook, Rules, severity_rank
from clameur.mentions.draft import Draft, RetroFlag, StepContext

KIND: Final = "campaign"
CENTRE: Final = 0.3
"""Similarity to a cluster's founding text needed to join it (variants of one template
stay above it; a look-alike of a look-alike does not)."""
COPY: Final = 0.9
"""A mention at least this similar to an indexed one it links to is a copy: it joins the
cluster but gets no bands, since whatever would find it finds the original (a fifth of
the demo's mentions, and retweets; fewer rows on the hot path)."""


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
        self.clusters: dict[int, Cluster] = {}
        self.new_clusters: list[Cluster] = []
        self.rows: list[Any] = []
        """Stored mentions sharing a band with the batch, in processing order."""
        self.bands: NDArray[np.int64] = np.empty((0, BANDS), dtype=np.int64)
        """The batch's band hashes (one row per entry)."""
        self.stored: dict[int, Entry] = {}
        """The rows that some mention of the batch links to, as entries (by row index)."""
        self.vocabulary: list[tuple[int, int, int]] = []
        """What the batch adds to the tenant's document frequencies."""
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
            store.prune(self.session, self.tenant_id, since)
            pruned[self.tenant_id] = since
        hashes = np.unique(self.bands).tolist()
        self.rows, stored_signatures = store.candidates(self.session, self.tenant_id, hashes, since)
        links = self._links(entries, stored_signatures)
        m = len(self.rows)
        self._load_clusters(
            {self.rows[i].cluster_id for linked in links for i, _ in linked if i < m} - {None}
        )
        for entry, linked in zip(entries, links, strict=True):
            found = [(entries[i - m] if i >= m else self._stored(i), e) for i, e in linked]
            found = [(c, e) for c, e in found if c.indexed]  # a copy is found as its original
            entry.indexed = not found or max(e for _, e in found) < COPY * NUM_PERM
            self._link(entry, [c for c, _ in found])
        for cluster in [*self.clusters.values(), *self.new_clusters]:
            self._flush(cluster)
        self._write(entries)

    # -- reading
    def _entries(self, drafts: list[Draft]) -> list[Entry]:
        texts: list[str] = []
        kept: list[Draft] = []
        for draft in drafts:
            text = shingle_text(draft.mention.text)
            if text is not None:
                texts.append(text)
                kept.append(draft)
        if not kept:
            return []
        keys = [store.mention_key(*d.key) for d in kept]
        known = store.known_keys(self.session, self.tenant_id, keys)
        if known:
            texts = [t for k, t in zip(keys, texts, strict=True) if k not in known]
            kept = [d for k, d in zip(keys, kept, strict=True) if k not in known]
            keys = [k for k in keys if k not in known]
        authors = store.authors(self.session, {cast(int, d.author_id) for d in kept})
        signatures = minhash(texts)
        self.bands = band_hashes(signatures)
        rare = self._rare(texts, [store.to_seconds(d.mention.created_at) for d in kept])
        entries = []
        for key, draft, sig, r in zip(keys, kept, signatures, rare, strict=True):
            m, author_id = draft.mention, cast(int, draft.author_id)
            entries.append(
                Entry(
                    key,
                    m.source,
                    m.external_id,
                    m.created_at,
                    author_id,
                    draft.brand_ids[0] if draft.brand_ids else None,
                    sig,
                    facts_of(draft, authors.get(author_id)),
                    rare=r,
                    handle=m.author.handle,
                    draft=draft,
                )
            )
        return entries

    def _rare(self, texts: list[str], seconds: list[int]) -> list[int]:
        """Rare shingles of each text before its day (and the batch's counts, kept for
        :meth:`_write`)."""
        sample = sampled(texts)
        days = [day_of(t) for t in seconds]
        wanted = np.unique(sample.shingle).tolist()
        self.vocabulary = batch_counts(sample, days)
        return rare_counts(
            sample,
            days,
            store.vocabulary_before(self.session, self.tenant_id, wanted, days, HORIZON_DAYS),
        )

    def _links(
        self, entries: list[Entry], stored_signatures: NDArray[np.uint32]
    ) -> list[list[tuple[int, int]]]:
        """For each mention of the batch, the earlier mentions of its window it
        near-duplicates, as (index, equal values of the signatures) with stored rows first,
        then the batch; computed for the whole batch at once: candidate pairs from shared
        bands, then event times, then the estimated similarity, all as array operations."""
        m = len(stored_signatures)
        signatures = np.concatenate([stored_signatures, np.stack([e.signature for e in entries])])
        times = np.array(
            [r.at_us for r in self.rows] + [store.to_us(e.created_at) for e in entries]
        )
        micro = timedelta(microseconds=1)
        windows = np.array([self.window(e.brand_id) // micro for e in entries], dtype=np.int64)
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

    def _stored(self, i: int) -> Entry:
        """Stored row ``i`` as an entry (once: joins and merges must see the same object)."""
        entry = self.stored.get(i)
        if entry is None:
            r = self.rows[i]
            signature = np.frombuffer(r.signature, dtype="<u4").astype(np.uint32)
            entry = self.stored[i] = Entry(
                r.key,
                r.source,
                r.external_id,
                store.from_us(r.at_us),
                r.author_id,
                r.brand_id,
                signature,
                Facts(r.age_days, r.followers, r.verified, r.first_post, r.rating),
                rare=r.rare,
                stored=True,
                similarity=r.similarity,
                cluster=self.clusters.get(r.cluster_id) if r.cluster_id is not None else None,
            )
        return entry

    def _load_clusters(self, ids: set[int | None]) -> None:
        for row in store.clusters(self.session, (i for i in ids if i is not None)):
            cluster = Cluster(
                row.key,
                row.brand_id,
                row.first_at,
                row.last_at,
                np.frombuffer(row.centre, dtype="<u4").astype(np.uint32),
                members=row.members,
                alert_key=row.alert_key,
                row_id=row.id,
                flushed_at=row.last_at if row.alert_key else None,
            )
            cluster.load(row.state)
            self.clusters[row.id] = cluster

    def _cutoff(self, cluster: Cluster) -> int:
        """Epoch seconds before which a cluster's accounts and members leave its window."""
        return store.to_seconds(cluster.last_at - self.window(cluster.brand_id))

    # -- deciding
    def _link(self, entry: Entry, linked: list[Entry]) -> None:
        """Join ``entry`` to the earlier mentions of its window it near-duplicates."""
        roots: dict[int, Cluster] = {}
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

    def _found(self, founder: Entry) -> Cluster:
        cluster = Cluster(
            cluster_key(self.tenant_id, founder.source, founder.external_id),
            founder.brand_id,
            founder.created_at,
            founder.created_at,
            founder.signature,
        )
        self.new_clusters.append(cluster)
        self._join(cluster, founder, founding=True)
        return cluster

    def _join(self, cluster: Cluster, entry: Entry, *, founding: bool = False) -> None:
        entry.cluster = cluster
        entry.dirty = entry.stored
        if not founding:
            entry.similarity = similarity(entry.signature, cluster.centre)
        cluster.members += 1
        cluster.first_at = min(cluster.first_at, entry.created_at)
        cluster.last_at = max(cluster.last_at, entry.created_at)
        if cluster.brand_id is None:
            cluster.brand_id = entry.brand_id
        cutoff = self._cutoff(cluster)
        cluster.evict(cutoff)  # first: an account back after a window enters again
        at = store.to_seconds(entry.created_at)
        if at >= cutoff:
            cluster.add_post(at, None if founding else entry.similarity, entry.rare)
            cluster.add_account(str(entry.author_id), entry.facts.dump(), at)
        cluster.joined.append(entry)
        cluster.changed = True

    def _merge(self, target: Cluster, other: Cluster) -> None:
        other.parent = target
        target.members += other.members
        target.first_at = min(target.first_at, other.first_at)
        target.last_at = max(target.last_at, other.last_at)
        target.brand_id = target.brand_id if target.brand_id is not None else other.brand_id
        cutoff = self._cutoff(target)
        target.evict(cutoff)
        other.evict(cutoff)
        target.evicted += other.evicted
        for at, sim, rare in zip(other.post_times, other.post_sims, other.post_rare, strict=True):
            target.add_post(at, sim, rare)
        for author_id, at in zip(other.order, other.sorted_times, strict=True):
            target.add_account(author_id, other.accounts[author_id], at)
        target.joined.extend(other.joined)
        target.absorbed.extend([other.row_id] if other.row_id is not None else [])
        target.absorbed.extend(other.absorbed)
        if target.alert_key is None:  # one campaign, one alert: the older cluster's if any
            target.alert_key, target.flushed_at = other.alert_key, other.flushed_at
        target.pending.extend(other.pending)  # sent with the merge's update
        target.pending_drafts.extend(other.pending_drafts)
        target.retro.extend(other.retro)
        other.retro = []
        if other.pending_at is not None:
            target.pending_at = max(target.pending_at or other.pending_at, other.pending_at)
            target.pending_severity = max(
                target.pending_severity or "low",
                other.pending_severity or "low",
                key=severity_rank,
            )
        other.pending, other.pending_drafts, other.pending_at = [], [], None
        target.changed = True

    def _after_join(
        self, cluster: Cluster, entry: Entry, newcomers: list[Entry], merged: bool
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
        if cluster.alert_key is None and not self._suspicious(cluster, rules):
            return
        if cluster.alert_key is None and not coordinated(
            cluster.in_burst(store.to_seconds(entry.created_at), BURST_HOURS * 3600),
            len(cluster.accounts),
            cluster.rare,
            cluster.sims,
            rules,
        ):
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
            for c in newcomers:  # earlier mentions this one pulled in: flagged as well
                if c.draft is not None:
                    if KIND not in c.draft.flags:
                        c.draft.flags.append(KIND)
                    cluster.pending_drafts.append(c.draft)
                elif c.stored:
                    cluster.retro.append((c.source, c.external_id))
        cluster.pending_at = entry.created_at
        cluster.pending_severity = max(cluster.pending_severity or level, level, key=severity_rank)
        if entry.draft is not None:
            if KIND not in entry.draft.flags:
                entry.draft.flags.append(KIND)
            cluster.pending_drafts.append(entry.draft)
        if merged or cluster.flushed_at is None:
            self._flush(cluster)  # the tip, or a merge: at once

    @staticmethod
    def _suspicious(cluster: Cluster, rules: Rules) -> bool:
        """Enough suspects: ``campaign_min_authors``; for loosely similar texts twice as
        many, whose profiles show it (a review site's blank profiles are no evidence
        there: genuine customers of an outage are a handful of blanks and new accounts)."""
        if cluster.suspects < rules.campaign_min_authors:
            return False
        needed = needed_accounts(cluster.sims, rules)
        return needed == rules.campaign_min_authors or cluster.evident >= needed

    def _flush(self, cluster: Cluster) -> None:
        """Send the gathered update of ``cluster`` to its alert."""
        if cluster.pending_at is None or cluster.alert_key is None:
            return
        rules = self.book.for_brand(cluster.brand_id)
        score = cluster.score()
        evidence, summary = explain(cluster.view(), score, rules)
        alert = raise_or_update(
            self.session,
            self.ctx.clock,
            rules,
            tenant_id=self.tenant_id,
            brand_id=cluster.brand_id,
            kind=KIND,
            key=cluster.alert_key,
            severity=cluster.pending_severity or severity(len(cluster.accounts), score, rules),
            at=cluster.pending_at,
            summary=summary,
            evidence=evidence,
            members=cluster.pending,
            cooldown=timedelta(hours=rules.campaign_window_hours),
            started_at=min((m.created_at for m in cluster.pending), default=cluster.pending_at),
        )
        for draft in cluster.pending_drafts:
            if alert.id not in draft.alert_ids:
                draft.alert_ids.append(alert.id)
        if cluster.retro:  # care flags their conversations in this batch's care step
            self.ctx.retro_flags.append(
                RetroFlag(self.tenant_id, alert.id, tuple(cluster.retro), cluster.pending_at)
            )
            cluster.retro = []
        cluster.flushed_at = cluster.pending_at
        cluster.pending, cluster.pending_drafts = [], []
        cluster.pending_at = cluster.pending_severity = None

    def _members(self, entries: list[Entry], tip: Entry | None = None) -> list[Member]:
        """Alert evidence for ``entries`` (handles of stored mentions read once, here)."""
        handles = store.handles(self.session, (e.author_id for e in entries if e.handle is None))
        out = []
        for e in entries:
            e.handle = e.handle if e.handle is not None else handles[e.author_id]
            role = "tip" if e is tip else "member"
            out.append(Member(e.source, e.external_id, e.handle, e.created_at, role))
        return out

    def _all_members(self, cluster: Cluster, at: Entry, *, tip: bool) -> list[Member]:
        """Every member of the window before ``at``: stored ones (of this cluster and those
        merged into it) and new. Older members may have been pruned or not, depending on
        when pruning last ran: they are left out so that every replay attaches the same."""
        since = at.created_at - self.window(cluster.brand_id)
        ids = [i for i in [cluster.row_id, *cluster.absorbed] if i is not None]
        found: dict[tuple[str, str], Member] = {}
        for r in store.member_rows(self.session, ids, since):
            found[(r.source, r.external_id)] = Member(
                r.source, r.external_id, r.handle, store.from_us(r.at_us)
            )
        joined = [e for e in cluster.joined if e.created_at >= since]
        for m in self._members(joined, at if tip else None):
            found[(m.source, m.external_id)] = m
        batch = {(e.source, e.external_id) for e in joined if e.draft is not None}
        for e in joined:  # this batch's earlier members: flagged like the tip
            if e.draft is not None and e is not at:
                if KIND not in e.draft.flags:
                    e.draft.flags.append(KIND)
                cluster.pending_drafts.append(e.draft)
        cluster.retro.extend(k for k in found if k not in batch)
        return sorted(found.values(), key=lambda m: (m.created_at, m.source, m.external_id))

    # -- writing
    def _write(self, entries: list[Entry]) -> None:
        """Clusters first (new ones need ids), then stored members' moves, then the batch."""
        live = [
            c
            for c in [*self.clusters.values(), *self.new_clusters]
            if c.parent is None and c.changed
        ]
        new = [c for c in live if c.row_id is None]
        ids = store.write_clusters(
            self.session,
            [self._cluster_row(c) for c in new],
            [{"id": c.row_id, **self._cluster_row(c)} for c in live if c not in new],
        )
        for cluster, row_id in zip(new, ids, strict=True):
            cluster.row_id = row_id
        for cluster in live:
            if cluster.absorbed and cluster.row_id is not None:
                store.absorb(self.session, cluster.row_id, cluster.absorbed)
        store.move_signatures(
            self.session,
            self.tenant_id,
            [(e.key, _row_of(e), e.similarity) for e in self.stored.values() if e.dirty],
        )
        store.add_vocabulary(self.session, self.tenant_id, self.vocabulary)
        store.insert_many(
            self.session,
            store.SIGNATURES,
            store.SIGNATURE_COLUMNS,
            [self._signature_row(e) for e in entries],
        )
        indexed = [e.indexed for e in entries]
        store.insert_many(
            self.session,
            store.BANDS,
            store.BAND_COLUMNS,
            store.band_rows(
                self.tenant_id,
                self.bands[np.array(indexed, dtype=bool)],
                [e.key for e in entries if e.indexed],
                [store.to_seconds(e.created_at) for e in entries if e.indexed],
            ),
        )

    def _cluster_row(self, c: Cluster) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "key": c.key,
            "brand_id": c.brand_id,
            "first_at": c.first_at,
            "last_at": c.last_at,
            "centre": c.centre.astype("<u4").tobytes(),
            "members": c.members,
            "accounts": c.lifetime_accounts,
            "score": c.score(),
            "alert_key": c.alert_key,
            "state": c.dump(),
        }

    def _signature_row(self, e: Entry) -> tuple[Any, ...]:
        f = e.facts
        return (
            self.tenant_id,
            e.key,
            e.source,
            e.external_id,
            e.author_id,
            e.brand_id,
            store.to_us(e.created_at),
            _row_of(e),
            e.similarity,
            e.signature.astype("<u4").tobytes(),
            f.age_days,
            f.followers,
            f.verified,
            f.first_post,
            f.rating,
            e.rare,
        )


def _row_of(entry: Entry) -> int | None:
    return entry.cluster.root().row_id if entry.cluster is not None else None
