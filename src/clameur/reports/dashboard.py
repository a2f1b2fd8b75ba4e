"""The tenant dashboard's figures: what customers said and how fast they were answered,
over the last days — for the brand's own staff (client viewers) as much as supervisors.

Every figure reads a bounded window of event time through the tenant's indexes (mentions
by ``tenant_id, created_at``; conversations by their open, response and resolution times),
so the page costs the same with a thousand mentions or ten million. Days are the viewer's
days: the caller passes the zone, and each day is a half-open range ``[00:00, 24:00)`` in
it, counted by one grouped query per day.

- **volume per day** by sentiment (positive, neutral, negative, uncertain, not analysed;
  "uncertain" is what the analysis stores when its model was not confident enough or does
  not know the language — :mod:`clameur.analysis.calibration`);
- **last 24 hours** against the 24 before (the change in %), and the negative share: the
  mentions labelled negative over all mentions, so an uncertain (or not analysed) mention
  counts as not negative;
- **share of voice**: mentions per brand over the window (a mention of two brands counts
  for both);
- **intents**: the most frequent over the window;
- **first response**: median and 90th percentile of the time to first answer of the
  conversations opened in the window and answered (wall-clock seconds);
- **SLA compliance**: of the first-response clocks that stopped in the window, the share
  met (see :mod:`clameur.care.sla`);
- **resolved**: conversations resolved in the window.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.orm import Session

from clameur.analysis.calibration import UNCERTAIN
from clameur.care.models import Conversation
from clameur.db.repository import TenantRepository
from clameur.mentions.models import Mention
from clameur.tenancy.models import Brand, MentionBrand

SENTIMENTS = ("positive", "neutral", "negative", UNCERTAIN, None)
RESPONSE_SAMPLE = 20_000
"""At most this many answered conversations feed the response-time percentiles (the most
recent ones): enough for a stable median, bounded whatever the volume."""


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    counts: dict[str | None, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Dashboard:
    at: datetime
    days: list[Day]
    last_24h: int
    previous_24h: int
    negative_24h: int
    share_of_voice: list[tuple[str, int]]
    intents: list[tuple[str, int]]
    first_response_median: float | None
    first_response_p90: float | None
    answered: int
    sla_met: int
    sla_missed: int
    resolved: int
    opened: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def change_24h(self) -> float | None:
        """The change of volume against the previous 24 hours (0.25 = +25 %)."""
        if not self.previous_24h:
            return None
        return (self.last_24h - self.previous_24h) / self.previous_24h

    @property
    def negative_share_24h(self) -> float | None:
        return self.negative_24h / self.last_24h if self.last_24h else None

    @property
    def sla_compliance(self) -> float | None:
        done = self.sla_met + self.sla_missed
        return self.sla_met / done if done else None

    @property
    def busiest(self) -> int:
        return max((d.total for d in self.days), default=0)


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def dashboard(
    session: Session, tenant_id: int, now: datetime, zone: ZoneInfo, *, days: int = 7
) -> Dashboard:
    mentions = TenantRepository(session, tenant_id, Mention)
    local_today = now.astimezone(zone).date()
    first_day = local_today - timedelta(days=days - 1)
    per_day: list[Day] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        start = datetime.combine(day, datetime.min.time(), zone)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
        rows = session.execute(
            mentions.select(Mention.sentiment, func.count())
            .where(Mention.created_at >= start, Mention.created_at < end)
            .group_by(Mention.sentiment)
        ).all()
        counts = {s: 0 for s in SENTIMENTS}
        for sentiment, n in rows:
            key = sentiment if sentiment in counts else None
            counts[key] = counts.get(key, 0) + int(n)
        per_day.append(Day(day, counts))
    window_start = datetime.combine(first_day, datetime.min.time(), zone)

    def count_between(start: datetime, end: datetime, *conditions: Any) -> int:
        stmt = mentions.select(func.count()).where(
            Mention.created_at >= start, Mention.created_at < end, *conditions
        )
        return int(session.scalar(stmt) or 0)

    day_ago, two_days_ago = now - timedelta(hours=24), now - timedelta(hours=48)
    last_24h = count_between(day_ago, now)
    previous_24h = count_between(two_days_ago, day_ago)
    negative_24h = count_between(day_ago, now, Mention.sentiment == "negative")

    voice = session.execute(
        TenantRepository(session, tenant_id, MentionBrand)
        .select(Brand.name, func.count(), steer=False)
        .join(Mention, Mention.id == MentionBrand.mention_id)
        .join(Brand, Brand.id == MentionBrand.brand_id)
        .where(Mention.created_at >= window_start, Mention.created_at < now)
        .group_by(Brand.name)
        .order_by(func.count().desc())
    ).all()
    intents = session.execute(
        mentions.select(Mention.intent, func.count())
        .where(
            Mention.created_at >= window_start,
            Mention.created_at < now,
            Mention.intent.is_not(None),
            Mention.intent != "uncertain",  # not something customers want
        )
        .group_by(Mention.intent)
        .order_by(func.count().desc())
        .limit(6)
    ).all()

    conversations = TenantRepository(session, tenant_id, Conversation)
    opened = int(
        session.scalar(
            conversations.select(func.count()).where(
                Conversation.opened_at >= window_start, Conversation.opened_at < now
            )
        )
        or 0
    )
    answered_rows = session.execute(
        conversations.select(Conversation.opened_at, Conversation.first_response_at)
        .where(
            Conversation.first_response_at >= window_start,
            Conversation.first_response_at < now,
        )
        .order_by(Conversation.first_response_at.desc())
        .limit(RESPONSE_SAMPLE)
    ).all()
    waits = sorted(
        max(0.0, (answered - opened_at).total_seconds()) for opened_at, answered in answered_rows
    )
    resolved = int(
        session.scalar(
            conversations.select(func.count()).where(
                Conversation.resolved_at >= window_start, Conversation.resolved_at < now
            )
        )
        or 0
    )
    met = Counter(_first_response_met(session, tenant_id, window_start, now))
    return Dashboard(
        at=now,
        days=per_day,
        last_24h=last_24h,
        previous_24h=previous_24h,
        negative_24h=negative_24h,
        share_of_voice=[(str(name), int(n)) for name, n in voice],
        intents=[(str(intent), int(n)) for intent, n in intents],
        first_response_median=_percentile(waits, 0.5),
        first_response_p90=_percentile(waits, 0.9),
        answered=len(waits),
        sla_met=met[True],
        sla_missed=met[False],
        resolved=resolved,
        opened=opened,
    )


def _first_response_met(
    session: Session, tenant_id: int, start: datetime, end: datetime
) -> list[bool]:
    """Whether each first-response clock that stopped in the window was met (the clocks of
    conversations answered in the window: their first response stopped that clock)."""
    rows = session.execute(
        TenantRepository(session, tenant_id, Conversation)
        .select(Conversation.sla)
        .where(Conversation.first_response_at >= start, Conversation.first_response_at < end)
        .order_by(Conversation.first_response_at.desc())
        .limit(RESPONSE_SAMPLE)
    ).scalars()
    found = []
    for sla in rows:
        clock = ((sla or {}).get("clocks") or {}).get("first_response")
        if clock and clock.get("met") is not None:
            found.append(bool(clock["met"]))
    return found
