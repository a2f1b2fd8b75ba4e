"""The chart of a spike against its baseline, drawn on the server as inline SVG.

A spike alert's evidence holds the peak window's count, what the baseline expected for a
window (``expected``, per ``window_minutes``) and which baseline that was (``baseline``:
same hour of the week, of the day, recent hours, cold start). The bars are the brand's
mentions per window (negative ones for a negative spike) from a few hours before the alert
to just after its latest update, counted in one statement; the dashed line is the expected
count per window. Geometry is computed here, so the template writes only presentation
attributes (``x``, ``y``, ``width``, ``height``): no script, no style attribute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlalchemy.orm import Session

from clameur.db.repository import TenantRepository
from clameur.detection.spikes import NEGATIVE_INTENTS
from clameur.mentions.models import Mention
from clameur.tenancy.models import MentionBrand
from clameur.tenancy.principal import Principal

SPIKE_KINDS = ("volume_spike", "negative_spike")
MAX_BINS = 48
BEFORE = timedelta(hours=3)
"""How much of the normal traffic before the alert the chart shows."""
AFTER_BINS = 2

WIDTH, HEIGHT = 640.0, 220.0
LEFT, RIGHT, TOP, BOTTOM = 44.0, 10.0, 12.0, 30.0


@dataclass(frozen=True, slots=True)
class Bar:
    start: datetime
    count: int
    x: float
    y: float
    width: float
    height: float
    peak: bool
    during: bool
    """Inside the alert's span (raised … last updated)."""


@dataclass(frozen=True, slots=True)
class Tick:
    value: float
    y: float


@dataclass(frozen=True, slots=True)
class TimeTick:
    at: datetime
    x: float


@dataclass(frozen=True, slots=True)
class SpikeChart:
    bars: list[Bar]
    bin_minutes: int
    expected: float
    """Mentions the baseline expects in one bin."""
    expected_y: float
    baseline: str | None
    negative: bool
    peak: int
    peak_at: datetime | None
    total: int
    y_ticks: list[Tick]
    x_ticks: list[TimeTick]
    trigger_x: float
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM

    @property
    def ratio(self) -> float | None:
        """The peak bin against the expected count (None when nothing was expected)."""
        return self.peak / self.expected if self.expected > 0 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _nice(value: float) -> int:
    """The round number (1, 2, 5 × 10ⁿ) at or above ``value``: the top of the scale."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def span(
    triggered_at: datetime, updated_at: datetime, window_minutes: int
) -> tuple[datetime, int, int]:
    """The chart's first bin start, bin width in minutes (a whole number of windows) and
    number of bins (at most :data:`MAX_BINS`)."""
    window = max(1, window_minutes)
    end = max(updated_at, triggered_at + timedelta(hours=1))
    minutes = (end - (triggered_at - BEFORE)).total_seconds() / 60
    width = window * max(1, math.ceil(minutes / window / (MAX_BINS - AFTER_BINS)))
    epoch = int(triggered_at.timestamp()) // 60
    first = (epoch - int(BEFORE.total_seconds()) // 60) // width * width
    start = datetime.fromtimestamp(first * 60, tz=triggered_at.tzinfo)
    bins = math.ceil((end - start).total_seconds() / 60 / width) + AFTER_BINS
    return start, width, min(MAX_BINS, max(1, bins))


def count_bins(
    session: Session,
    principal: Principal,
    brand_id: int | None,
    start: datetime,
    width_minutes: int,
    bins: int,
    *,
    negative: bool,
) -> list[int]:
    """The tenant's mentions (of ``brand_id`` when given; negative ones only when
    ``negative``) per bin, in one statement (a sum per bin, by event time)."""
    step = timedelta(minutes=width_minutes)
    edges = [start + step * i for i in range(bins + 1)]
    created = Mention.created_at
    sums = [
        func.sum(case((and_(created >= edges[i], created < edges[i + 1]), 1), else_=0))
        for i in range(bins)
    ]
    stmt = TenantRepository.of(session, principal, Mention).select(*sums)
    stmt = stmt.where(created >= edges[0], created < edges[-1])
    if brand_id is not None:
        stmt = stmt.join(
            MentionBrand,
            and_(MentionBrand.mention_id == Mention.id, MentionBrand.brand_id == brand_id),
        )
    if negative:
        stmt = stmt.where(
            or_(Mention.sentiment == "negative", Mention.intent.in_(sorted(NEGATIVE_INTENTS)))
        )
    row = session.execute(stmt).one()
    return [int(value or 0) for value in row]


def build(
    counts: list[int],
    start: datetime,
    width_minutes: int,
    *,
    expected_per_window: float,
    window_minutes: int,
    triggered_at: datetime,
    updated_at: datetime,
    baseline: str | None,
    negative: bool,
) -> SpikeChart:
    """The chart's geometry for ``counts`` per bin from ``start``."""
    n = max(1, len(counts))
    expected = expected_per_window * width_minutes / max(1, window_minutes)
    peak = max(counts, default=0)
    top = _nice(max(peak, expected * 1.25, 1))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    gap = min(2.0, slot * 0.2)
    step = timedelta(minutes=width_minutes)

    def y_of(value: float) -> float:
        return round(TOP + plot_h * (1 - min(value, top) / top), 2)

    bars = []
    peak_at = None
    for i, count in enumerate(counts):
        begins = start + step * i
        is_peak = count == peak and peak > 0 and peak_at is None
        if is_peak:
            peak_at = begins
        y = y_of(count)
        bars.append(
            Bar(
                start=begins,
                count=count,
                x=round(LEFT + slot * i + gap / 2, 2),
                y=y,
                width=round(max(slot - gap, 1.0), 2),
                height=round(HEIGHT - BOTTOM - y, 2),
                peak=is_peak,
                during=begins + step > triggered_at and begins <= updated_at,
            )
        )
    every = max(1, math.ceil(n / 6))
    x_ticks = [TimeTick(start + step * i, round(LEFT + slot * i, 2)) for i in range(0, n, every)]
    offset = (triggered_at - start).total_seconds() / 60 / width_minutes
    return SpikeChart(
        bars=bars,
        bin_minutes=width_minutes,
        expected=round(expected, 2),
        expected_y=y_of(expected),
        baseline=baseline,
        negative=negative,
        peak=peak,
        peak_at=peak_at,
        total=sum(counts),
        y_ticks=[Tick(v, y_of(v)) for v in (0, top / 2, top)],
        x_ticks=x_ticks,
        trigger_x=round(LEFT + slot * min(max(offset, 0), n), 2),
    )


def spike_chart(
    session: Session, principal: Principal, alert: dict[str, Any], brand_id: int | None
) -> SpikeChart | None:
    """The chart of a spike alert (an item of :mod:`clameur.detection.triage`), or None
    when it is not a spike or its evidence does not say what was expected."""
    if alert.get("kind") not in SPIKE_KINDS:
        return None
    evidence = alert.get("evidence") or {}
    expected = _number(evidence.get("expected"))
    window = _number(evidence.get("window_minutes"))
    triggered, updated = alert.get("triggered_at"), alert.get("updated_at")
    if expected is None or window is None or window < 1:
        return None
    if not isinstance(triggered, datetime) or not isinstance(updated, datetime):
        return None
    negative = alert["kind"] == "negative_spike"
    start, width, bins = span(triggered, updated, int(window))
    counts = count_bins(session, principal, brand_id, start, width, bins, negative=negative)
    baseline = evidence.get("baseline")
    return build(
        counts,
        start,
        width,
        expected_per_window=expected,
        window_minutes=int(window),
        triggered_at=triggered,
        updated_at=updated,
        baseline=baseline if isinstance(baseline, str) else None,
        negative=negative,
    )
