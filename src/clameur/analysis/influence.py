"""Influence of an author and estimated reach of a mention.

* **Author score** (0 to about 10, one decimal of resolution is enough): the order of
  magnitude of the audience, ``log10(1 + followers)``, plus 1 for a verified account,
  minus 0.5 for an account younger than 30 days (fresh accounts are the stuff of
  campaigns, not of influence). No followers known (reviews, e-mail, forums): 0.
* **Influence of a mention** = the author's **percentile within the tenant**: the share
  of the tenant's authors (all sources) with a lower score, ties counted half (0–100).
  Each tenant keeps a histogram of its authors' scores (``influence_bins``: bins of 0.1),
  updated in the same transaction as the authors, so the percentile is exact to a bin,
  costs one small read per batch, and is the same on every replay of the same data.
* **Estimated reach** of a mention: the share of the author's followers a post usually
  reaches on that network, plus what its engagement adds (each share exposes it to the
  sharer's own audience, a typical 150 people; a reply or a like shows it to a few more).
  An estimate, documented as such: networks do not publish impressions to third parties.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

BIN_WIDTH: Final = 0.1
N_BINS: Final = 121  # scores 0 … 12
YOUNG_ACCOUNT: Final = timedelta(days=30)

ORGANIC_SHARE: Final[dict[str, float]] = {
    "twitter": 0.10,
    "facebook": 0.06,
    "instagram": 0.10,
    "mastodon": 0.20,
    "bluesky": 0.15,
    "reddit": 0.0,
    "forum": 0.0,
    "blog": 0.30,
    "news": 0.50,
    "review": 0.0,
    "email": 0.0,
    "web": 0.10,
    "other": 0.05,
}
"""Share of an author's followers a post typically reaches, per source (assumption)."""
BASE_AUDIENCE: Final[dict[str, int]] = {
    "reddit": 200,
    "forum": 100,
    "review": 150,
    "blog": 50,
    "news": 1_000,
    "web": 20,
    "email": 1,
}
"""Readers a post gets from the place itself, whoever the author (assumption)."""
PER_SHARE: Final = 150
PER_REPLY: Final = 10
PER_LIKE: Final = 3


def author_score(
    followers: int | None,
    verified: bool,
    account_created_at: datetime | None,
    at: datetime,
) -> float:
    score = math.log10(1 + max(0, followers or 0))
    if verified:
        score += 1.0
    if account_created_at is not None and at - account_created_at < YOUNG_ACCOUNT:
        score -= 0.5
    return round(max(0.0, min(score, (N_BINS - 1) * BIN_WIDTH)), 2)


def bin_of(score: float) -> int:
    return max(0, min(N_BINS - 1, int(score / BIN_WIDTH + 1e-9)))


def percentile(counts: Mapping[int, int], score: float) -> float:
    """Share (0–100) of the authors of the histogram below ``score``'s bin, ties half."""
    total = sum(counts.values())
    if total <= 0:
        return 50.0
    b = bin_of(score)
    below = sum(n for k, n in counts.items() if k < b)
    same = counts.get(b, 0)
    return round(100.0 * (below + 0.5 * same) / total, 1)


def reach(source: str, followers: int | None, metrics: Mapping[str, int] | None) -> int:
    metrics = metrics or {}
    audience = (followers or 0) * ORGANIC_SHARE.get(source, 0.05)
    audience += BASE_AUDIENCE.get(source, 0)
    audience += PER_SHARE * max(0, int(metrics.get("shares", 0) or 0))
    audience += PER_REPLY * max(0, int(metrics.get("replies", 0) or 0))
    audience += PER_LIKE * max(0, int(metrics.get("likes", 0) or 0))
    return int(round(audience))


def humanise(count: int) -> str:
    """452300 → ``452k``; 1250000 → ``1.2M``."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M".replace(".0M", "M")
    if count >= 10_000:
        return f"{count // 1_000}k"
    if count >= 1_000:
        return f"{count / 1_000:.1f}k".replace(".0k", "k")
    return str(count)


def add_to_histogram(
    counts: dict[int, int], removed: Sequence[float], added: Sequence[float]
) -> None:
    for score in removed:
        b = bin_of(score)
        counts[b] = counts.get(b, 0) - 1
    for score in added:
        b = bin_of(score)
        counts[b] = counts.get(b, 0) + 1
