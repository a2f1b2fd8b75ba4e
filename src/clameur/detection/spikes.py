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
- **Test.** The window count ``x`` is a spike when the negative binomial upper tail
  ``P(X ≥ x)`` is below ``alpha`` (a tenth of it on a brand's per-source series): a
  Poisson law whose rate is itself uncertain, by the traffic's hour-to-hour variation, the
  few hours the baseline was learned from and the counts behind it
  (:meth:`Expectation.window`); and ``x`` is at least ``min_count`` and ``min_ratio`` times
  the expected count. The threshold count is cached per (mean, shape), so the test is a
  comparison per mention. Why this test and these defaults: docs/detection.md (measured
  on generated replays).
- **Share test.** When the counts are ordinary, a firmly negative mention (negative tone
  and a complaint: :func:`is_firmly_negative`) also tests the firmly negative *share* of
  the brand's last 30, 60 and 180 minutes against the slot's baseline share (beta-binomial
  tail, over-dispersion learned per series:
  :mod:`clameur.detection.spikes_share`): a negativity shift at constant volume.
- **Incident.** Every series of a brand feeds one incident per brand (``spike:<brand>``):
  a wave seen on Twitter and on every source together is one alert, updated with its
  count, peak, top terms and top authors while anomalous windows keep coming (cool-down).
  It is a ``negative_spike`` when negative mentions spike (or make up most of the spiking
  window, or their share shifts), else a ``volume_spike``. Its ``triggered_at`` is the
  first anomalous mention's event time, its ``started_at`` the first mention of the window
  that test read (:mod:`clameur.detection.spikes_incident`).

State (bins of the recent window, the hour being counted, the averages) is one JSON row per
series in ``detection_state``, read and written once per batch; each mention is evaluated
after the mentions before it in event time, so a replay gives the same alerts whatever the
batch size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.detection.models import DetectionState
from clameur.detection.rules import RuleBook, Rules
from clameur.detection.spikes_incident import Incident, Verdict, note, raise_incident, strongest
from clameur.detection.spikes_share import ShareState, judge_share
from clameur.detection.spikes_windows import (
    SHARE_WINDOWS,
    Window,
    share_minutes,
    share_spans,
    walk,
)
from clameur.mentions.draft import Draft, StepContext
from clameur.tenancy.models import Brand

DETECTOR = "spike"
ALL_SOURCES = "*"
NO_BRAND = 0
_HOUR = 3600


SOURCE_ALPHA = 0.1
"""A source series' count tests use this fraction of ``alpha``."""
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
SURE = 0.9
"""A label read with at least this confidence counts alone as firm negativity."""


def is_negative(draft: Draft) -> bool:
    """Negative tone *or* a complaint: what the count tests count (a wave of either)."""
    a = draft.analysis
    if a is None:
        return False
    return a.sentiment == "negative" or a.intent in NEGATIVE_INTENTS


def is_firmly_negative(draft: Draft) -> bool:
    """Negative tone *and* a complaint (or a negative tone read with confidence ≥
    ``SURE``): what the share test counts.

    The share test compares proportions, so the models' false readings are its noise floor:
    a neutral question misread as negative by one model raises the ordinary share and
    shrinks a shift. Two readers that agree are wrong together far less often than either
    alone. A sure complaint alone does not count: the intent model's confidence is not
    calibrated, and on generated traffic it doubled the ordinary mentions counted
    (docs/detection.md, "Negativity shifts").
    """
    a = draft.analysis
    if a is None or a.sentiment != "negative":
        return False
    return a.intent in NEGATIVE_INTENTS or (a.sentiment_score or 0.0) >= SURE


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
    firm: float = 0.0
    """Decayed sum of firmly negative mentions (the share test's numerator)."""
    depth: float = 0.0
    """Hours of this very slot behind the estimate (its neighbours excluded)."""

    def window(self, fraction: float, negative: bool, dispersion: float) -> tuple[float, float]:
        """Mean and gamma shape of the count in ``fraction`` of an hour.

        The count varies by three causes whose relative variances add up: the traffic's
        own hour-to-hour variation (``1 / dispersion``), the same variation in the few
        hours the estimate was learned from (``1 / (dispersion × depth)``: a baseline
        learned from one quiet morning is itself a draw), and the Poisson uncertainty of a
        rate learned from ``count`` events. The shape is the inverse of their sum.
        """
        count = self.negative if negative else self.total
        rate = (count + _PRIOR_COUNT * (0.5 if negative else 1)) / (self.hours + _PRIOR_HOURS)
        rate = max(rate, _MIN_RATE / (2 if negative else 1))
        depth = max(self.depth, _PRIOR_HOURS)
        spread = 1 / dispersion + 1 / (dispersion * depth) + 1 / (count + _PRIOR_COUNT)
        return rate * fraction, max(1 / spread, 0.5)


_PRIOR_COUNT = 1.0
_PRIOR_HOURS = 0.25
"""A weak prior (one mention per quarter hour): it only matters while a slot has no data."""


@dataclass
class Series:
    """One series' state, as stored (JSON) and worked on in memory."""

    bins: dict[int, list[float]] = field(default_factory=dict)
    """Bin number (seconds since the epoch // bin seconds) → [total, negative, event time
    (epoch seconds) of the bin's first mention, firmly negative]."""
    hour: int | None = None
    """The hour (since the epoch) being counted; earlier hours are closed."""
    hour_counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    """[mentions, negative, firmly negative] of the hour being counted."""
    week: dict[int, list[float]] = field(default_factory=dict)
    """Hour-of-week slot → decayed sums [mentions, negative mentions, hours, firmly
    negative mentions]."""
    day: dict[int, list[float]] = field(default_factory=dict)
    level: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    closed: int = 0
    """Hours of history folded in."""
    share: ShareState = field(default_factory=ShareState)
    """The share test's long-run share and over-dispersion (:mod:`.spikes_share`)."""

    @classmethod
    def load(cls, state: dict[str, Any]) -> Series:
        # States written before the firm counter had one element fewer in each list: the
        # missing count starts at 0 (a baseline share of 0 until it is learned again, so
        # the share test waits for the long-run share, see ShareState.long_share).
        return cls(
            bins={int(k): _padded(v, 4) for k, v in state.get("bins", {}).items()},
            hour=state.get("hour"),
            hour_counts=[int(x) for x in _padded(state.get("hour_counts", []), 3)],
            week={int(k): _padded(v, 4) for k, v in state.get("week", {}).items()},
            day={int(k): _padded(v, 4) for k, v in state.get("day", {}).items()},
            level=_padded(state.get("level", []), 4),
            closed=int(state.get("closed", 0)),
            share=ShareState.load(state.get("share")),
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
            "share": self.share.dump(),
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
        week_depth = self.week.get(hour % 168, [0.0] * 4)[2]
        day_depth = self.day.get(hour % 24, [0.0] * 4)[2]
        level = self.level
        if week is not None and week_depth >= 1.5:
            slot, basis, depth = week, "same hour of the week", week_depth
        elif day is not None and day_depth >= 0.99:
            slot, basis, depth = day, "same hour of the day", day_depth
        elif level[2] >= 0.99:
            total, negative, hours, firm = level
            return Expectation(total, negative, hours, "recent hours", firm, hours)
        else:
            cold = rules.cold_rate_per_hour
            return Expectation(cold * 0.25, cold * 0.125, 0.25, "cold start")
        if level[2] >= 0.99 and level[0] / level[2] > slot[0] / slot[2]:
            scale = level[2] / slot[2]
            negative = max(level[1], slot[1] * scale)
            firm = max(level[3], slot[3] * scale)
            return Expectation(level[0], negative, level[2], "recent hours", firm, level[2])
        return Expectation(slot[0], slot[1], slot[2], basis, slot[3], depth)

    def advance(self, hour: int, rules: Rules) -> None:
        """Close every hour before ``hour`` (the empty ones too: silence is data)."""
        if self.hour is None:
            self.hour = hour
            return
        if hour <= self.hour:
            return
        first = max(self.hour, hour - _MAX_CLOSE)
        counts = self.hour_counts if first == self.hour else [0, 0, 0]
        for h in range(first, hour):
            self._fold(h, counts, rules)
            counts = [0, 0, 0]
        self.hour, self.hour_counts = hour, [0, 0, 0]

    def _fold(self, hour: int, counts: list[int], rules: Rules) -> None:
        total, neg, firm = (float(c) for c in counts)
        e = self.expected(hour, rules)
        p0 = self.share.baseline(e.total, e.firm)
        self.share.fold(total, firm, p0, rules)
        # A shift must not become the norm either: an hour that closes half-way through a
        # shift would raise the next hours' baseline share (most through the recent hours'
        # level) just as the share windows fill with it.
        firm = min(firm, self.share.ceiling(total, p0, rules))
        if e.basis != "cold start":  # winsorise: a spike must not become the norm
            total = min(total, 3 * e.total / e.hours + 5)
            neg = min(neg, 3 * e.negative / e.hours + 5)
            firm = min(firm, 3 * e.firm / e.hours + 5)
        sums = (total, neg, 1.0, firm)
        _decay(self.week, hour % 168, sums, _KEEP_WEEK)
        _decay(self.day, hour % 24, sums, _KEEP_DAY)
        self.level = [old * _KEEP_LEVEL + new for old, new in zip(self.level, sums, strict=True)]
        self.closed += 1

    # -- counting ----------------------------------------------------------------------
    def add(self, at: datetime, negative: bool, rules: Rules, firm: bool = False) -> Window:
        """Count one mention (``firm``: firmly negative, see :func:`is_firmly_negative`);
        returns the count test's and the share test's windows."""
        exact = at.timestamp()
        seconds = int(exact)
        hour = seconds // _HOUR
        self.advance(hour, rules)
        if hour == self.hour:
            self.hour_counts[0] += 1
            self.hour_counts[1] += int(negative)
            self.hour_counts[2] += int(firm)
        width = rules.bin_minutes * 60
        b = seconds // width
        counts = self.bins.setdefault(b, [0, 0, exact, 0])
        if counts[2] == 0:  # a bin stored before bins kept their first mention's time
            counts[2] = b * width
        counts[0] += 1
        counts[1] += int(negative)
        counts[2] = min(counts[2], exact)
        counts[3] += int(firm)
        span = max(1, rules.window_minutes // rules.bin_minutes)
        spans = share_spans(rules.share_window_minutes, rules.bin_minutes)
        longest = max(span, *spans)
        bins = self.bins
        if len(bins) > longest + 24:  # bins older than the longest window, now and then
            horizon = b - longest - 12
            for k in [k for k in bins if k < horizon]:
                del bins[k]
        (count,) = walk(bins, b, width, exact, (span,))
        return Window(count, bins, b, width, exact, spans)


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


def _decay(slots: dict[int, list[float]], slot: int, sums: tuple[float, ...], keep: float) -> None:
    current = slots.get(slot)
    slots[slot] = (
        list(sums)
        if current is None
        else [old * keep + new for old, new in zip(current, sums, strict=True)]
    )


def _padded(values: list[float], size: int) -> list[float]:
    """A stored list with the counters added since it was written (at 0)."""
    if len(values) >= size:
        return values
    return [float(v) for v in values] + [0.0] * (size - len(values))


def judge(
    series: Series,
    at: datetime,
    w: Window,
    rules: Rules,
    share: bool = True,
    alpha: float | None = None,
) -> Verdict | None:
    """Whether the windows ending with this mention are a spike, and of which kind
    (``share``: run the share test too when the counts are ordinary; ``alpha``: the count
    tests' tail probability, ``rules.alpha`` by default)."""
    alpha = rules.alpha if alpha is None else alpha
    total, neg = w.count.total, w.count.negative
    e = series.expected(int(at.timestamp()) // _HOUR, rules)
    fraction = rules.window_minutes / 60
    mean, shape = e.window(fraction, False, rules.dispersion)
    mean_neg, shape_neg = e.window(fraction, True, rules.dispersion)
    learning = series.closed < 24  # stricter while the series has less than a day of history
    ratio = rules.min_ratio * (4 if learning else 1)
    least = math.ceil(rules.min_count * (4 if learning else 1))
    if learning:
        # Without a day of history nothing knows that mornings ramp up: the rate of the
        # minutes just before the window is a floor too (a ramp grows by half in an hour, a
        # wave does not wait).
        mean, mean_neg = (
            max(m, before) for m, before in zip((mean, mean_neg), _before(w, rules), strict=True)
        )
    volume = total >= max(
        least,
        math.ceil(ratio * mean),
        threshold(round(mean, 3), round(shape, 2), alpha),
    )
    negative = neg >= max(
        least,
        math.ceil(ratio * mean_neg),
        threshold(round(mean_neg, 3), round(shape_neg, 2), alpha),
    )
    if not (volume or negative):
        if not share or "negative_spike" not in rules.enabled:
            return None
        shift, window = None, w.share
        minutes_of = share_minutes(rules.share_window_minutes, rules.bin_minutes)
        for window, minutes, look in zip(w.shares, minutes_of, SHARE_WINDOWS, strict=True):
            shift = judge_share(
                series.share,
                series.closed,
                e.total,
                e.firm,
                window.total,
                window.firm,
                rules,
                minutes,
                rules.share_alpha * look.alpha,
                look.least,
            )
            if shift is not None:
                break
        if shift is None:
            return None
        severity = "high" if shift.share >= 0.8 and shift.window_negative >= 30 else "medium"
        return Verdict(
            "negative_spike",
            severity,
            total,
            neg,
            mean,
            mean_neg,
            e.basis,
            test="share",
            started=window.first,
            share=shift,
        )
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
    return Verdict(kind, severity, total, neg, mean, mean_neg, e.basis, started=w.count.first)


def _before(w: Window, rules: Rules) -> tuple[float, float]:
    """Mentions and negative mentions the share window held *before* the count window,
    as a rate per count window."""
    gap = rules.share_window_minutes - rules.window_minutes
    if gap <= 0:
        return 0.0, 0.0
    scale = rules.window_minutes / gap
    return (
        (w.share.total - w.count.total) * scale,
        (w.share.negative - w.count.negative) * scale,
    )


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
        incidents: dict[int, list[Incident]] = {}
        for draft in drafts:
            at = draft.mention.created_at
            negative = is_negative(draft)
            firm = is_firmly_negative(draft)
            for brand_id in draft.brand_ids or [default]:
                rules = book.for_brand(brand_id or None)
                if not ({"volume_spike", "negative_spike"} & set(rules.enabled)):
                    continue
                verdicts = []
                for source in (ALL_SOURCES, draft.mention.source):
                    s = series.get((brand_id, source))
                    if s is None:
                        s = series[(brand_id, source)] = Series()
                    # The share test reads the brand's every-source series only (a shift is
                    # the brand's; six more series would be six more chances of a false
                    # alarm on a handful of mentions), at firmly negative mentions only: they are
                    # what raises a share, and what a shift's alert gathers.
                    window = s.add(at, negative, rules, firm)
                    brand_wide = source == ALL_SOURCES
                    # A brand's source series are more chances of a false alarm: their
                    # count tests take a tenth of the tail probability (Bonferroni-like).
                    alpha = rules.alpha if brand_wide else rules.alpha * SOURCE_ALPHA
                    verdict = judge(s, at, window, rules, share=firm and brand_wide, alpha=alpha)
                    if verdict is not None:
                        verdicts.append(verdict)
                if verdicts:
                    note(incidents, brand_id, draft, strongest(verdicts), rules)
        _save(session, tenant_id, rows, series, drafts)
        for brand_id, runs in incidents.items():
            rules = book.for_brand(brand_id or None)
            for incident in runs:
                raise_incident(ctx, tenant_id, incident, rules)


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
