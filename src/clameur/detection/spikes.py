"""Volume and negativity spikes per brand and per brand × source, in event time.

Each series (tenant × brand × source, plus the brand's every-source series) counts its
mentions in short bins (5 min) and tests the count of the last window (15 min) against
what its own history expects at that hour:

- **Baseline.** When an hour of event time closes, its count is folded into three
  exponentially weighted averages: the same hour of the week (168 slots, needs two weeks),
  the same hour of the day (24 slots, needs a day), and the overall hourly level. The
  expected rate of an hour is the most specific of them that has enough history, else a
  cold-start default. A closed hour is winsorised before it is folded in, so a spike does
  not teach the baseline that spikes are normal.
- **Test.** The window count ``x`` is a spike when the Poisson upper tail
  ``P(X ≥ x | λ)`` is below ``alpha``, with ``λ`` the expected count times an
  over-dispersion factor (real traffic varies more than a Poisson process), and ``x`` is at
  least ``min_count`` and ``min_ratio`` times the expected count. The threshold count is
  computed once per ``λ`` (cached), so the test is a comparison per mention. Why this test
  and these defaults: docs/detection.md (measured on generated replays).
- **Incident.** Every series of a brand feeds one incident per brand (``spike:<brand>``):
  a wave seen on Twitter and on every source together is one alert, updated with its
  count, peak, top terms and top authors while anomalous windows keep coming (cool-down).
  It is a ``negative_spike`` when negative mentions spike (or make up most of the spiking
  window), else a ``volume_spike``.

State (bins of the recent window, the hour being counted, the averages) is one JSON row per
series in ``detection_state``, read and written once per batch; each mention is evaluated
after the mentions before it in event time, so a replay gives the same alerts whatever the
batch size.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.detection.alerts import Member, raise_or_update
from clameur.detection.models import DetectionState
from clameur.detection.rules import RuleBook, Rules, severity_rank
from clameur.mentions.draft import Draft, StepContext
from clameur.tenancy.models import Brand

DETECTOR = "spike"
ALL_SOURCES = "*"
NO_BRAND = 0
_HOUR = 3600
_MAX_CLOSE = 24 * 7 * 4
"""Hours closed one by one after a gap; a longer silence resets the hourly averages' clock."""

# Decay of the averages' sums per hour folded in (memory of about 1 / (1 - keep) hours).
_KEEP_WEEK = 0.75
_KEEP_DAY = 0.75
_KEEP_LEVEL = 0.7
_MIN_RATE = 0.25
"""Expected mentions an hour never drops below this (a brand silent at night is not
expected to stay at exactly zero)."""

NEGATIVE_INTENTS = frozenset({"complaint", "churn_threat"})


def is_negative(draft: Draft) -> bool:
    a = draft.analysis
    if a is None:
        return False
    return a.sentiment == "negative" or a.intent in NEGATIVE_INTENTS


@lru_cache(maxsize=16384)
def threshold(mean: float, shape: float, alpha: float) -> int:
    """Smallest count ``x`` with ``P(X ≥ x) < alpha`` for a negative binomial ``X``.

    ``X`` has the given mean and gamma ``shape`` (variance ``mean + mean²/shape``): the
    Poisson law whose rate is itself uncertain — because the baseline was learned from few
    hours, and because real traffic varies from hour to hour more than chance alone.
    """
    mean = max(mean, 1e-9)
    p = shape / (shape + mean)
    pmf = p**shape  # P(X = 0)
    cdf = 0.0
    k = 0
    while True:
        cdf += pmf
        if 1.0 - cdf < alpha or pmf == 0.0 and k > mean:
            return k + 1
        pmf *= (k + shape) / (k + 1) * (1 - p)
        k += 1


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the baseline expects in one hour: decayed sums of counts over ``hours``."""

    total: float
    negative: float
    hours: float
    basis: str

    def window(self, fraction: float, negative: bool, dispersion: float) -> tuple[float, float]:
        """Mean and gamma shape of the count in ``fraction`` of an hour."""
        count = self.negative if negative else self.total
        rate = (count + _PRIOR_COUNT * (0.5 if negative else 1)) / (self.hours + _PRIOR_HOURS)
        rate = max(rate, _MIN_RATE / (2 if negative else 1))
        # Uncertainty of a rate learned from `count` events (gamma posterior), capped by the
        # traffic's own hour-to-hour variation.
        shape = min(count + _PRIOR_COUNT, dispersion)
        return rate * fraction, max(shape, 0.5)


_PRIOR_COUNT = 1.0
_PRIOR_HOURS = 0.25
"""A weak prior (one mention per quarter hour): it only matters while a slot has no data."""


@dataclass
class Series:
    """One series' state, as stored (JSON) and worked on in memory."""

    bins: dict[int, list[int]] = field(default_factory=dict)
    """Bin number (seconds since the epoch // bin seconds) → [total, negative]."""
    hour: int | None = None
    """The hour (since the epoch) being counted; earlier hours are closed."""
    hour_counts: list[int] = field(default_factory=lambda: [0, 0])
    week: dict[int, list[float]] = field(default_factory=dict)
    """Hour-of-week slot → decayed sums [mentions, negative mentions, hours]."""
    day: dict[int, list[float]] = field(default_factory=dict)
    level: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    closed: int = 0
    """Hours of history folded in."""

    @classmethod
    def load(cls, state: dict[str, Any]) -> Series:
        return cls(
            bins={int(k): list(v) for k, v in state.get("bins", {}).items()},
            hour=state.get("hour"),
            hour_counts=list(state.get("hour_counts", [0, 0])),
            week={int(k): list(v) for k, v in state.get("week", {}).items()},
            day={int(k): list(v) for k, v in state.get("day", {}).items()},
            level=list(state.get("level", [0.0, 0.0, 0.0])),
            closed=int(state.get("closed", 0)),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "bins": {str(k): v for k, v in self.bins.items()},
            "hour": self.hour,
            "hour_counts": self.hour_counts,
            "week": {str(k): [round(x, 4) for x in v] for k, v in self.week.items()},
            "day": {str(k): [round(x, 4) for x in v] for k, v in self.day.items()},
            "level": [round(x, 4) for x in self.level],
            "closed": self.closed,
        }

    # -- baseline ----------------------------------------------------------------------
    def expected(self, hour: int, rules: Rules) -> Expectation:
        """What ``hour`` should hold: the most specific average with enough history.

        A slot is pooled with its neighbours (half weight): the daily rhythm is smooth, and
        one hour seen once or twice is too noisy a baseline. The recent hours' level is a
        floor: a wave must stand out from what this hour usually holds *and* from what the
        last hours held (a busy evening after a busy afternoon is not news).
        """
        week = _pooled(self.week, hour % 168, 168)
        day = _pooled(self.day, hour % 24, 24)
        if week is not None and self.week.get(hour % 168, [0, 0, 0])[2] >= 1.5:
            slot, basis = week, "same hour of the week"
        elif day is not None and self.day.get(hour % 24, [0, 0, 0])[2] >= 0.99:
            slot, basis = day, "same hour of the day"
        elif self.level[2] >= 0.99:
            total, negative, hours = self.level
            return Expectation(total, negative, hours, "recent hours")
        else:
            cold = rules.cold_rate_per_hour
            return Expectation(cold * 0.25, cold * 0.125, 0.25, "cold start")
        level = self.level
        if level[2] >= 0.99 and level[0] / level[2] > slot[0] / slot[2]:
            return Expectation(
                level[0], max(level[1], slot[1] * level[2] / slot[2]), level[2], "recent hours"
            )
        return Expectation(slot[0], slot[1], slot[2], basis)

    def advance(self, hour: int, rules: Rules) -> None:
        """Close every hour before ``hour`` (the empty ones too: silence is data)."""
        if self.hour is None:
            self.hour = hour
            return
        if hour <= self.hour:
            return
        first = max(self.hour, hour - _MAX_CLOSE)
        counts = self.hour_counts if first == self.hour else [0, 0]
        for h in range(first, hour):
            self._fold(h, counts, rules)
            counts = [0, 0]
        self.hour, self.hour_counts = hour, [0, 0]

    def _fold(self, hour: int, counts: list[int], rules: Rules) -> None:
        total, neg = float(counts[0]), float(counts[1])
        e = self.expected(hour, rules)
        if e.basis != "cold start":  # winsorise: a spike must not become the norm
            rate = e.total / e.hours
            total = min(total, 3 * rate + 5)
            neg = min(neg, 3 * e.negative / e.hours + 5)
        _decay(self.week, hour % 168, total, neg, _KEEP_WEEK)
        _decay(self.day, hour % 24, total, neg, _KEEP_DAY)
        level = self.level
        level[0] = level[0] * _KEEP_LEVEL + total
        level[1] = level[1] * _KEEP_LEVEL + neg
        level[2] = level[2] * _KEEP_LEVEL + 1
        self.closed += 1

    # -- counting ----------------------------------------------------------------------
    def add(self, at: datetime, negative: bool, rules: Rules) -> tuple[int, int, int]:
        """Count one mention; returns (window total, window negative, its bin)."""
        seconds = int(at.timestamp())
        hour = seconds // _HOUR
        self.advance(hour, rules)
        if hour == self.hour:
            self.hour_counts[0] += 1
            self.hour_counts[1] += int(negative)
        width = rules.bin_minutes * 60
        b = seconds // width
        counts = self.bins.setdefault(b, [0, 0])
        counts[0] += 1
        counts[1] += int(negative)
        span = max(1, rules.window_minutes // rules.bin_minutes)
        total = neg = 0
        for k in range(b - span + 1, b + 1):
            c = self.bins.get(k)
            if c is not None:
                total += c[0]
                neg += c[1]
        horizon = b - span - 12
        for k in [k for k in self.bins if k < horizon]:
            del self.bins[k]
        return total, neg, b


def _pooled(slots: dict[int, list[float]], slot: int, size: int) -> list[float] | None:
    """A slot's sums plus half of each neighbour's (None if the slot itself is empty)."""
    centre = slots.get(slot)
    if centre is None:
        return None
    out = list(centre)
    for other in ((slot - 1) % size, (slot + 1) % size):
        near = slots.get(other)
        if near is not None:
            out = [a + 0.5 * b for a, b in zip(out, near, strict=True)]
    return out


def _decay(slots: dict[int, list[float]], slot: int, total: float, neg: float, keep: float) -> None:
    current = slots.get(slot)
    if current is None:
        slots[slot] = [total, neg, 1.0]
        return
    current[0] = current[0] * keep + total
    current[1] = current[1] * keep + neg
    current[2] = current[2] * keep + 1


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: str
    severity: str
    count: int
    negative: int
    expected: float
    expected_negative: float
    basis: str


def judge(series: Series, at: datetime, total: int, neg: int, rules: Rules) -> Verdict | None:
    """Whether the window ending with this mention is a spike, and of which kind."""
    e = series.expected(int(at.timestamp()) // _HOUR, rules)
    fraction = rules.window_minutes / 60
    mean, shape = e.window(fraction, False, rules.dispersion)
    mean_neg, shape_neg = e.window(fraction, True, rules.dispersion)
    learning = series.closed < 24  # stricter while the series has less than a day of history
    ratio = rules.min_ratio * (3 if learning else 1)
    least = math.ceil(rules.min_count * (2 if learning else 1))
    volume = total >= max(
        least,
        math.ceil(ratio * mean),
        threshold(round(mean, 3), round(shape, 2), rules.alpha),
    )
    negative = neg >= max(
        least,
        math.ceil(ratio * mean_neg),
        threshold(round(mean_neg, 3), round(shape_neg, 2), rules.alpha),
    )
    if not (volume or negative):
        return None
    kind = (
        "negative_spike"
        if negative or (total and neg / total >= rules.negative_share)
        else "volume_spike"
    )
    excess = max(total / max(mean, 1e-9), neg / max(mean_neg, 1e-9) if negative else 0.0)
    peak = neg if kind == "negative_spike" else total
    if excess >= 30 and peak >= 100:
        severity = "critical"
    elif excess >= 10 and peak >= 30:
        severity = "high"
    else:
        severity = "medium"
    return Verdict(kind, severity, total, neg, mean, mean_neg, e.basis)


_STOP = frozenset(
    [
        "avec",
        "dans",
        "pour",
        "mais",
        "plus",
        "tout",
        "tous",
        "toute",
        "sont",
        "cette",
        "votre",
        "vous",
        "nous",
        "leur",
        "leurs",
        "elle",
        "ils",
        "être",
        "avoir",
        "fait",
        "faire",
        "comme",
        "aussi",
        "encore",
        "alors",
        "depuis",
        "chez",
        "très",
        "bien",
        "même",
        "that",
        "this",
        "with",
        "from",
        "have",
        "your",
        "just",
        "what",
        "when",
        "they",
        "them",
        "there",
        "their",
        "about",
        "would",
        "been",
        "were",
        "will",
        "than",
        "then",
        "into",
        "only",
        "also",
        "more",
        "some",
    ]
)


def terms_of(draft: Draft) -> list[str]:
    keys = draft.search_keys or frozenset()
    return sorted(k for k in keys if len(k) >= 4 and k.isalpha() and k not in _STOP)


@dataclass
class _Incident:
    brand_id: int
    verdict: Verdict
    first_at: datetime
    last_at: datetime
    members: list[Draft] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)
    peaks: dict[str, list[Any]] = field(default_factory=dict)
    """"total"/"negative" → [highest window count, its expectation, baseline], the first
    of equal peaks kept: the same whatever the batch size."""

    def peak(self, v: Verdict) -> None:
        for name, count, mean in (
            ("total", v.count, v.expected),
            ("negative", v.negative, v.expected_negative),
        ):
            if name not in self.peaks or count > self.peaks[name][0]:
                self.peaks[name] = [count, round(mean, 2), v.basis]


class SpikeDetector:
    """Volume and negative spikes; see the module docstring."""

    def detect(
        self, ctx: StepContext, drafts: list[Draft], rulebook_for: Callable[[int], RuleBook]
    ) -> None:
        by_tenant: dict[int, list[Draft]] = {}
        for draft in drafts:
            if draft.tenant_id is not None:
                by_tenant.setdefault(draft.tenant_id, []).append(draft)
        for tenant_id, items in by_tenant.items():
            self._tenant(ctx, tenant_id, items, rulebook_for(tenant_id))

    def _tenant(
        self, ctx: StepContext, tenant_id: int, drafts: list[Draft], book: RuleBook
    ) -> None:
        session = ctx.session
        brands = session.scalars(select(Brand.id).where(Brand.tenant_id == tenant_id)).all()
        # A tenant with one brand: its brandless mentions (replies that don't name it, lines
        # imported with --tenant) are about that brand too, and belong to its incidents.
        default = brands[0] if len(brands) == 1 else NO_BRAND
        rows = _load(session, tenant_id)
        series: dict[tuple[int, str], Series] = {k: Series.load(r.state) for k, r in rows.items()}
        incidents: dict[int, list[_Incident]] = {}
        for draft in drafts:
            at = draft.mention.created_at
            negative = is_negative(draft)
            for brand_id in draft.brand_ids or [default]:
                rules = book.for_brand(brand_id or None)
                if not ({"volume_spike", "negative_spike"} & set(rules.enabled)):
                    continue
                verdicts = []
                for source in (ALL_SOURCES, draft.mention.source):
                    s = series.get((brand_id, source))
                    if s is None:
                        s = series[(brand_id, source)] = Series()
                    total, neg, _ = s.add(at, negative, rules)
                    verdict = judge(s, at, total, neg, rules)
                    if verdict is not None:
                        verdicts.append(verdict)
                if verdicts:
                    _note(incidents, brand_id, draft, _strongest(verdicts), rules)
        _save(session, tenant_id, rows, series, drafts)
        for brand_id, runs in incidents.items():
            rules = book.for_brand(brand_id or None)
            for incident in runs:
                _raise(ctx, tenant_id, incident, rules)


def _strongest(verdicts: list[Verdict]) -> Verdict:
    return max(
        verdicts,
        key=lambda v: (v.kind == "negative_spike", severity_rank(v.severity), v.count),
    )


def _note(
    incidents: dict[int, list[_Incident]], brand_id: int, draft: Draft, v: Verdict, rules: Rules
) -> None:
    runs = incidents.setdefault(brand_id, [])
    at = draft.mention.created_at
    current = runs[-1] if runs else None
    if current is None or at - current.last_at > timedelta(minutes=rules.cooldown_minutes):
        current = _Incident(brand_id, v, at, at)
        runs.append(current)
    elif _strongest([current.verdict, v]) is v:
        current.verdict = v
    current.peak(v)
    current.last_at = at
    current.members.append(draft)
    current.sources[draft.mention.source] += 1


def _raise(ctx: StepContext, tenant_id: int, incident: _Incident, rules: Rules) -> None:
    from clameur.detection.models import Alert

    v = incident.verdict
    key = f"spike:{incident.brand_id}"
    terms: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    for draft in incident.members:
        terms.update(terms_of(draft))
        authors[draft.mention.author.handle] += 1
    existing = ctx.session.scalars(
        select(Alert)
        .where(Alert.tenant_id == tenant_id, Alert.key == key, Alert.status == "open")
        .order_by(Alert.id.desc())
        .limit(1)
    ).first()
    previous = existing.evidence if existing is not None else {}
    kind = v.kind
    if existing is not None and existing.kind == "negative_spike":
        kind = "negative_spike"  # an incident that turned negative stays negative
    peaks = {k: list(p) for k, p in previous.get("peaks", {}).items()}
    for name, peak in incident.peaks.items():
        if name not in peaks or peak[0] > peaks[name][0]:
            peaks[name] = peak
    merged_terms = Counter(previous.get("terms", {})) + terms
    merged_authors = Counter(previous.get("author_counts", {})) + authors
    top_terms = _top(merged_terms, 10)
    shown = peaks["negative" if kind == "negative_spike" else "total"]
    what = "negative mentions" if kind == "negative_spike" else "mentions"
    summary = (
        f"{shown[0]} {what} in {rules.window_minutes} min at the peak against {shown[1]:.1f} "
        f"expected ({shown[2]})" + (f"; top terms: {', '.join(top_terms[:5])}" if top_terms else "")
    )
    evidence = {
        "peak": shown[0],
        "expected": shown[1],
        "baseline": shown[2],
        "peaks": peaks,
        "window_minutes": rules.window_minutes,
        "sources": dict(Counter(previous.get("sources", {})) + incident.sources),
        "terms": dict((t, merged_terms[t]) for t in _top(merged_terms, 500)),
        "author_counts": dict((a, merged_authors[a]) for a in _top(merged_authors, 500)),
        "top_terms": top_terms,
        "top_authors": _top(merged_authors, 10),
    }
    alert = raise_or_update(
        ctx.session,
        ctx.clock,
        rules,
        tenant_id=tenant_id,
        brand_id=incident.brand_id or None,
        kind=kind,
        key=key,
        severity=v.severity,
        at=incident.first_at,
        summary=summary,
        evidence=evidence,
        members=[Member.of(d, "member") for d in incident.members],
    )
    alert.updated_at = max(alert.updated_at, incident.last_at)
    for draft in incident.members:
        if alert.id not in draft.alert_ids:
            draft.alert_ids.append(alert.id)


def _top(counts: Counter[str], n: int) -> list[str]:
    """The ``n`` most frequent keys, ties by name: the same whatever the batch size."""
    return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def _load(session: Session, tenant_id: int) -> dict[tuple[int, str], DetectionState]:
    stmt = select(DetectionState).where(
        DetectionState.tenant_id == tenant_id, DetectionState.detector == DETECTOR
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # workers sharing a tenant take turns
    return {(r.brand_id, r.source): r for r in session.scalars(stmt)}


def _save(
    session: Session,
    tenant_id: int,
    rows: dict[tuple[int, str], DetectionState],
    series: dict[tuple[int, str], Series],
    drafts: list[Draft],
) -> None:
    latest = max(d.mention.created_at for d in drafts)
    for key, s in series.items():
        row = rows.get(key)
        if row is None:
            session.add(
                DetectionState(
                    tenant_id=tenant_id,
                    detector=DETECTOR,
                    brand_id=key[0],
                    source=key[1],
                    state=s.dump(),
                    event_time=latest,
                )
            )
        else:
            row.state = s.dump()
            row.event_time = max(row.event_time, latest)
    session.flush()
