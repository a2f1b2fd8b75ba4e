"""Priority: one score (0–100), a level P1–P4 and the reasons an agent reads.

The score is a sum of transparent points, so the reasons are exactly its largest parts
("influencer 452k followers · churn threat · negative"). Points (documented in
docs/models.md, "Priority"):

============================  ======================================================
what                          points
============================  ======================================================
base                          20
intent                        churn threat +25, complaint +15, request +12,
                              question +10, praise −5, spam −25, other 0
sentiment negative            +15 × confidence (positive −5 × confidence)
actionability                 actionable +12, attack −5 (moderate, don't queue)
toxicity ≥ 0.6                +5 ("toxic": moderation needed)
influence                     percentile ≥ 99 +25, ≥ 95 +18, ≥ 90 +12, ≥ 75 +5
reach                         ≥ 100k +25, ≥ 10k +12 (the larger of influence/reach
                              counts, not both)
verified author               +5
recency (age when analysed)   < 1 h +8, < 24 h +3, > 7 days −15
============================  ======================================================

Levels: P1 ≥ 75, P2 ≥ 55, P3 ≥ 35, else P4. Clamped to 0–100.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from clameur.analysis.influence import humanise

LEVELS: Final = (("P1", 75.0), ("P2", 55.0), ("P3", 35.0), ("P4", float("-inf")))
BASE: Final = 20.0
INTENT_POINTS: Final[dict[str, float]] = {
    "churn_threat": 25.0,
    "complaint": 15.0,
    "request": 12.0,
    "question": 10.0,
    "praise": -5.0,
    "spam": -25.0,
    "other": 0.0,
}
INTENT_REASON: Final[dict[str, str]] = {
    "churn_threat": "churn threat",
    "complaint": "complaint",
    "request": "request",
    "question": "question",
    "spam": "spam",
}
MAX_REASONS: Final = 4
INFLUENCER_FOLLOWERS: Final = 10_000
"""Below this, a top-percentile author is called "top N% audience", not "influencer"."""


@dataclass(frozen=True, slots=True)
class PriorityInput:
    intent: str | None
    sentiment: str | None
    sentiment_score: float | None
    toxicity: float | None
    actionability: str | None
    influence: float | None
    """The author's percentile within the tenant (0–100)."""
    followers: int | None
    verified: bool
    reach: int
    created_at: datetime
    analysed_at: datetime


def _level(score: float) -> str:
    for name, floor in LEVELS:
        if score >= floor:
            return name
    return "P4"  # pragma: no cover - the last floor is -inf


def prioritise(item: PriorityInput) -> tuple[float, str, tuple[str, ...]]:
    parts: list[tuple[float, str]] = []  # (points, reason or "")
    influence = item.influence or 0.0
    audience = 0.0
    audience_reason = ""
    if influence >= 99:
        audience = 25.0
    elif influence >= 95:
        audience = 18.0
    elif influence >= 90:
        audience = 12.0
    elif influence >= 75:
        audience = 5.0
    if audience >= 12:
        top = f"top {max(1, round(100 - influence))}% audience"
        if item.followers and item.followers >= INFLUENCER_FOLLOWERS:
            audience_reason = f"influencer {humanise(item.followers)} followers"
        elif item.followers:
            audience_reason = f"{top} ({humanise(item.followers)} followers)"
        else:
            audience_reason = top
    by_reach = 25.0 if item.reach >= 100_000 else 12.0 if item.reach >= 10_000 else 0.0
    if by_reach > audience:
        audience, audience_reason = by_reach, f"reach ~{humanise(item.reach)}"
    if audience:
        parts.append((audience, audience_reason))

    if item.intent is not None:
        points = INTENT_POINTS.get(item.intent, 0.0)
        if points:
            parts.append((points, INTENT_REASON.get(item.intent, "")))
    confidence = item.sentiment_score if item.sentiment_score is not None else 0.5
    if item.sentiment == "negative":
        parts.append((15.0 * confidence, "negative"))
    elif item.sentiment == "positive":
        parts.append((-5.0 * confidence, ""))
    if item.actionability == "actionable":
        parts.append((12.0, "first-hand fact"))
    elif item.actionability == "attack":
        parts.append((-5.0, "attack"))
    if (item.toxicity or 0.0) >= 0.6:
        parts.append((5.0, "toxic"))
    if item.verified:
        parts.append((5.0, "verified"))
    age = item.analysed_at - item.created_at
    if age < timedelta(hours=1):
        parts.append((8.0, ""))
    elif age < timedelta(hours=24):
        parts.append((3.0, ""))
    elif age > timedelta(days=7):
        parts.append((-15.0, f"old ({age.days} days)"))

    score = max(0.0, min(100.0, BASE + sum(p for p, _ in parts)))
    ranked = sorted((p for p in parts if p[1]), key=lambda p: -abs(p[0]))
    reasons = tuple(reason for _, reason in ranked[:MAX_REASONS])
    return round(score, 1), _level(score), reasons
