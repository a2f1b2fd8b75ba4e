"""Replays for the spike detector's share test: traffic whose *mix* changes, not its volume.

:func:`mixed_traffic` is ordinary traffic (daily rhythm, quieter weekends, hour-to-hour
variation of the rate, as :func:`clameur.demo.replays.ordinary_traffic`) in which each
hour's share of complaints varies too — drawn from a beta law around ``base_share`` — and
in which *negativity shifts* can be planted: for a few hours the complaint share jumps
(e.g. from a third to 0.7) while the number of mentions an hour stays what it would have
been. Texts come from :mod:`clameur.demo.replays`' pools; which mentions the analyzer
reads as negative is the analyzer's business (it is noisy: the share the detector sees
moves less than the planted one).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clameur.demo import replays as base


@dataclass(frozen=True, slots=True)
class Shift:
    """A negativity shift: from ``onset``, for ``hours``, complaints are ``share`` of traffic."""

    onset: datetime
    hours: float = 4.0
    share: float = 0.7

    def covers(self, at: datetime) -> bool:
        return self.onset <= at < self.onset + timedelta(hours=self.hours)


def mixed_traffic(
    start: datetime,
    *,
    days: int = 14,
    peak_per_hour: float = 20.0,
    brand: str = "Volta",
    seed: int = 0,
    base_share: float = 1 / 3,
    share_concentration: float = 30.0,
    dispersion: float = 8.0,
    shifts: tuple[Shift, ...] = (),
    prefix: str = "m",
) -> list[dict[str, Any]]:
    """Days of traffic whose complaint share varies hour to hour (beta law of mean
    ``base_share`` and concentration ``share_concentration``: 30 gives a standard deviation
    of about 0.085 around a third), with ``shifts`` planted at constant volume."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    people = base.People(rng, prefix=f"{prefix}{seed}_")
    out: list[dict[str, Any]] = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    a, b = base_share * share_concentration, (1 - base_share) * share_concentration
    for h in range(days * 24):
        at = hour + timedelta(hours=h)
        weekday = base.WEEKEND if at.weekday() >= 5 else 1.0
        rate = peak_per_hour * base.DAY_PROFILE[at.hour] * weekday
        rate *= rng.gammavariate(dispersion, 1 / dispersion)
        share = rng.betavariate(a, b)
        for _ in range(base._poisson(rng, rate)):
            when = at + timedelta(seconds=rng.randrange(3600))
            shifted = next((s for s in shifts if s.covers(when)), None)
            complaint = rng.random() < (shifted.share if shifted else share)
            text = _text(rng, complaint, brand)
            source = base._pick_source(rng)
            rating = None
            if source == "review":
                rating = rng.choice([1, 1, 2]) if complaint else rng.choice([3, 4, 5])
            out.append(
                base._record(
                    source,
                    f"{prefix}{seed}-{len(out)}",
                    text,
                    when,
                    people.author(when),
                    rating=rating,
                )
            )
    out.sort(key=lambda r: r["created_at"])
    return out


def _text(rng: random.Random, complaint: bool, brand: str) -> str:
    if not complaint:
        pool = base._NEUTRAL if rng.random() < 0.7 else base._PRAISE
        return base._fill(rng, rng.choice(base._OPENERS) + rng.choice(pool), brand)
    if rng.random() < 0.5:
        return base._fill(rng, rng.choice(base._OPENERS) + rng.choice(base._GRUMBLE), brand)
    text = base._fill(
        rng,
        rng.choice(base._WAVE_START) + rng.choice(base._WAVE_CORE) + rng.choice(base._WAVE_END),
        brand,
    )
    return text[0].upper() + text[1:]


def shift_at(rng: random.Random, start: datetime, days: int) -> datetime:
    """A random onset in daytime (8:00–15:59) on a weekday of days 3 … ``days`` − 1 (the
    detector has a few days of history, and 4 hours of shift fit before the night)."""
    while True:
        day = rng.randrange(3, days)
        at = start + timedelta(days=day, hours=rng.randint(8, 15), minutes=rng.randrange(60))
        if at.weekday() < 5:
            return at
