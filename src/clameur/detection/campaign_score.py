"""Suspicion of a campaign's accounts, the cluster's severity, and why, in words.

Each account is scored from inauthenticity signals known at post time (see
:func:`suspicion`); a cluster's score is the mean over its distinct accounts times a factor
for how identical the phrasing is (:func:`phrasing_factor`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from clameur.detection.rules import Rules

if TYPE_CHECKING:
    from clameur.mentions.draft import Draft

SIMILARITY: Final = 0.5
"""Estimated Jaccard similarity of two mentions' 4-gram sets needed to link them."""
BURST_HOURS: Final = 3
"""A campaign's accounts post within this many hours: ``campaign_min_authors`` of them
must have, ending at the mention that tips it (sameness spread over days is coincidence)."""
BURST_SHARE: Final = 0.5
"""…and they must be at least this share of the cluster's accounts (most of it)."""
BURST_QUANTILE: Final = 0.8
"""The burst reported: the shortest window holding this share of the accounts."""
TIGHT: Final = 0.65
"""Median similarity to the centre under which a cluster needs ``2 × campaign_min_authors``
accounts in its burst: a handful of loosely similar texts is what genuine customers write
in one outage (clusters of 2–7 at 0.5–0.6 measured); a small campaign is tighter."""
MIN_RARE: Final = 3
"""Median rare shingles (sampled, :mod:`clameur.detection.campaign_idf`) a cluster's
texts need: about 12 distinctive 4-grams, a clause of the campaign's own (common
phrasings of a tenant with some history have 0–2; campaigns measured 3–24, the demo's
template-made fake reviews 3–5)."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known of an account when it posted (unknown: None)."""

    age_days: float | None
    followers: int | None
    verified: bool
    first_post: bool
    """This is the author's first mention for the tenant."""
    rating: int | None

    def dump(self) -> list[Any]:
        """As stored in a cluster's state, with the account's suspicion (:func:`units`) last:
        loading a cluster then costs no computation."""
        return [
            self.age_days,
            self.followers,
            self.verified,
            self.first_post,
            self.rating,
            units(self),
        ]

    @classmethod
    def load(cls, data: Sequence[Any]) -> Facts:
        age, followers, verified, first, rating = data[:5]
        return cls(age, followers, bool(verified), bool(first), rating)


_UNKNOWN: Final = 0.4
"""Value of an unknown age or follower count: weak evidence either way. Review sites often
show neither: the accounts of a burst of near-identical one-star first reviews then score
0.57 each (the campaign alerts when the texts are close), near-identical first posts with
neither a profile nor a rating 0.45 (no alert)."""
SUSPECT: Final = 0.5
"""An account at least this suspicious counts as a suspect (see :func:`is_suspect`)."""
_WEIGHTS: Final = {"age": 3.0, "followers": 2.0, "first": 0.5, "rating": 1.5}


def _step(value: float, steps: Sequence[tuple[float, float]]) -> float:
    for limit, score in steps:
        if value < limit:
            return score
    return 0.0


def suspicion(f: Facts) -> float:
    """How much an account looks made for the occasion, 0–1 (a weighted mean of signals).

    Account age weighs most (sock puppets are created for a campaign), then the audience;
    a first post here is weak evidence on its own (most customers write once, and every
    author is new in a replayed file); an extreme rating counts on reviews. A verified
    account is never a suspect.
    """
    if f.verified:
        return 0.0
    age = _UNKNOWN if f.age_days is None else _step(f.age_days, ((7, 1.0), (30, 0.7), (90, 0.2)))
    audience = (
        _UNKNOWN if f.followers is None else _step(f.followers, ((10, 1.0), (50, 0.6), (200, 0.2)))
    )
    num = _WEIGHTS["age"] * age + _WEIGHTS["followers"] * audience
    num += _WEIGHTS["first"] * f.first_post
    den = _WEIGHTS["age"] + _WEIGHTS["followers"] + _WEIGHTS["first"]
    if f.rating is not None:
        num += _WEIGHTS["rating"] * {1: 1.0, 5: 1.0, 2: 0.3, 4: 0.3}.get(f.rating, 0.0)
        den += _WEIGHTS["rating"]
    return num / den


def units(f: Facts) -> int:
    """Suspicion in millionths: integer sums are exact in any order (JSONB reorders keys)."""
    return round(suspicion(f) * 1_000_000)


def is_suspect(suspicion_units: int) -> bool:
    """A campaign needs ``campaign_min_authors`` suspects, not only that many accounts: a
    cluster of genuine look-alike complaints where a few fresh accounts joined early would
    otherwise reach the mean score while it is small."""
    return suspicion_units >= SUSPECT * 1_000_000


def shows_suspicion(record: Sequence[Any]) -> bool:
    """The account's profile itself looks made for the occasion (known age under 30 days,
    or known audience under 50), as opposed to a profile that shows nothing (review sites)."""
    age, followers = record[0], record[1]
    return (age is not None and age < 30) or (followers is not None and followers < 50)


def median_of_sorted(values: Sequence[float]) -> float:
    n = len(values)
    if n == 0:
        return 1.0
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def phrasing_factor(sorted_sims: Sequence[float]) -> float:
    """0.8 for texts barely similar enough to link, up to 1.0 for identical ones (median
    similarity of the members to the founding text; ``sorted_sims`` in ascending order)."""
    closeness = (median_of_sorted(sorted_sims) - SIMILARITY) / (1.0 - SIMILARITY)
    return 0.8 + 0.2 * min(1.0, max(0.0, closeness))


def burst_seconds(sorted_times: Sequence[int], share: float = BURST_QUANTILE) -> int:
    """The shortest time holding ``share`` of the accounts' first posts."""
    n = len(sorted_times)
    if n < 2:
        return 0
    k = max(2, -(-int(share * n * 1000) // 1000))
    k = min(k, n)
    return min(sorted_times[i + k - 1] - sorted_times[i] for i in range(n - k + 1))


def median_rare(sorted_rare: Sequence[int]) -> int | None:
    """Median of the members' rare shingles (None when none was counted)."""
    if not sorted_rare:
        return None
    return sorted_rare[len(sorted_rare) // 2]


def needed_accounts(sorted_sims: Sequence[float], rules: Rules) -> int:
    """Accounts a cluster's burst needs: ``campaign_min_authors``, twice as many when the
    texts are only loosely similar (:data:`TIGHT`)."""
    n = rules.campaign_min_authors
    return n if median_of_sorted(sorted_sims) >= TIGHT else 2 * n


def coordinated(
    burst_accounts: int,
    accounts: int,
    sorted_rare: Sequence[int],
    sorted_sims: Sequence[float],
    rules: Rules,
) -> bool:
    """Textual coordination, before any account signal: :func:`needed_accounts` within
    :data:`BURST_HOURS`, most of the cluster's, writing a text of their own
    (:data:`MIN_RARE`)."""
    needed = needed_accounts(sorted_sims, rules)
    if burst_accounts < needed or burst_accounts < BURST_SHARE * accounts:
        return False
    rare = median_rare(sorted_rare)
    return rare is None or rare >= MIN_RARE


def severity(accounts: int, score: float, rules: Rules) -> str:
    """By size (multiples of ``campaign_min_authors``) and score: a large, clearly fake
    campaign is ``critical``; a small or doubtful one ``low`` (it waits for the digest)."""
    n = rules.campaign_min_authors
    if accounts >= 4 * n and score >= 0.75:
        return "critical"
    if accounts >= 2 * n and score >= 0.65:
        return "high"
    if accounts >= 2 * n or score >= rules.campaign_min_score + 0.15:
        return "medium"
    return "low"


def tally(accounts: Iterable[Facts]) -> dict[str, int]:
    """Counts of each signal over a cluster's accounts, for the alert's evidence."""
    t = dict.fromkeys(
        (
            "accounts",
            "suspects",
            "age_known",
            "under_7_days",
            "under_30_days",
            "followers_known",
            "under_20_followers",
            "first_posts",
            "rated",
            "one_star",
            "five_star",
            "verified",
        ),
        0,
    )
    for f in accounts:
        t["accounts"] += 1
        t["suspects"] += is_suspect(units(f))
        if f.age_days is not None:
            t["age_known"] += 1
            t["under_7_days"] += f.age_days < 7
            t["under_30_days"] += f.age_days < 30
        if f.followers is not None:
            t["followers_known"] += 1
            t["under_20_followers"] += f.followers < 20
        t["first_posts"] += f.first_post
        t["rated"] += f.rating is not None
        t["one_star"] += f.rating == 1
        t["five_star"] += f.rating == 5
        t["verified"] += f.verified
    return t


def reasons(t: dict[str, int]) -> list[str]:
    """The signals behind a score, in words ("9 of 11 accounts < 7 days old", …)."""
    n = t["accounts"]
    out = []
    if t["under_7_days"]:
        out.append(f"{t['under_7_days']} of {n} accounts < 7 days old")
    if t["under_30_days"] > t["under_7_days"]:
        out.append(f"{t['under_30_days']} < 30 days old")
    if t["under_20_followers"]:
        out.append(f"{t['under_20_followers']} with < 20 followers")
    if t["one_star"]:
        out.append(f"{t['one_star']} one-star reviews")
    if t["five_star"]:
        out.append(f"{t['five_star']} five-star reviews")
    if t["first_posts"]:
        out.append(f"{t['first_posts']} first posts here")
    unknown = n - min(t["age_known"], t["followers_known"])
    if unknown:
        out.append(f"{unknown} profiles without age or followers")
    return out


def facts_of(draft: Draft, author: Any) -> Facts:
    """The author's facts as of this mention: the record's own profile first (the stored
    ``author`` follows the latest mention, which would make replays depend on batch size)
    and only fills its gaps; ``first_post`` from the stored author's ``first_seen_at``."""
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


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What an explanation needs of a cluster."""

    key: str
    accounts: Iterable[Sequence[Any]]
    """:meth:`Facts.dump` of each account."""
    sorted_sims: Sequence[float]
    posts: int
    first_at: datetime
    last_at: datetime
    rare: Sequence[int] = ()
    """Members' rare shingles, sorted."""
    times: Sequence[int] = ()
    """Accounts' first posts (epoch seconds), sorted."""
    earlier_accounts: int = 0
    """Accounts whose first post left the window (``accounts`` are the window's): the
    evidence's ``accounts`` counts them, its ``signals`` do not."""


def _span(minutes: int) -> str:
    """``46 min``, ``3 h`` or ``2 h 05``."""
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if rest == 0 else f"{hours} h {rest:02d}"


def explain(c: ClusterView, score: float, rules: Rules) -> tuple[dict[str, Any], str]:
    """Evidence (signals with counts) and a one-line summary saying why."""
    t = tally(Facts.load(record) for record in c.accounts)
    sim = median_of_sorted(c.sorted_sims)
    minutes = int((c.last_at - c.first_at).total_seconds()) // 60
    burst = burst_seconds(c.times) // 60
    rare = median_rare(c.rare)
    share = round(BURST_QUANTILE * 100)
    why = [f"{share} % of the accounts posted within {_span(burst)}"]
    if rare is not None:
        why.append(f"texts of their own: median {rare} rare shingles in this archive")
    why += reasons(t)
    accounts = f"{t['accounts']} accounts ({t['suspects']} suspect)"
    if c.earlier_accounts:  # older than its window: the signals are the window's accounts'
        accounts = (
            f"{t['accounts'] + c.earlier_accounts} accounts ({t['accounts']} in the last "
            f"{rules.campaign_window_hours} h, {t['suspects']} suspect)"
        )
    summary = (
        f"Coordinated campaign: {accounts} posted "
        f"{c.posts} near-identical texts within {_span(minutes)} "
        f"(median similarity {sim:.2f}); " + ", ".join(why) + f". Score {score:.2f}."
    )
    evidence = {
        "cluster": c.key,
        "accounts": t["accounts"] + c.earlier_accounts,
        "posts": c.posts,
        "score": score,
        "median_similarity": round(sim, 2),
        "first_at": c.first_at.astimezone(UTC).isoformat(),
        "last_at": c.last_at.astimezone(UTC).isoformat(),
        "window_hours": rules.campaign_window_hours,
        "burst_minutes": burst,
        "burst_share": BURST_QUANTILE,
        "burst_limit_hours": BURST_HOURS,
        "rare_shingles": rare,
        "min_rare_shingles": MIN_RARE,
        "signals": t,
        "why": why,
    }
    return evidence, summary
