"""The share test of the spike detector: negativity shifts at constant volume.

The count tests of :mod:`clameur.detection.spikes` see a wave (more mentions, or more
negative mentions, than the hour expects). They cannot see a *shift*: the same number of
mentions an hour, but most of them complaints instead of a third. This module tests the
share of *firmly* negative mentions (negative tone and a complaint, or either read with
confidence: :func:`clameur.detection.spikes.is_firmly_negative`) over the last
``share_window_minutes`` (60), half and three times that
(:data:`clameur.detection.spikes_windows.SHARE_WINDOWS`) against the series' baseline share at that
hour:

- **Baseline share** ``p0``: the negative share of the same baseline slot the count test
  uses (same hour of the week / of the day / recent hours), shrunk towards the series'
  long-run share (decayed over ~100 hours) with ``_SHRINK`` pseudo-mentions — one hour
  slot seen a few times holds few mentions, and a share learned from 40 mentions is
  ±0.08 by chance alone. A closed hour's negative mentions are folded into the slots up
  to two standard deviations above ``p0`` (:meth:`ShareState.ceiling`): an hour that closes
  half-way through a shift must not raise the baseline the next minutes are tested against.
- **Over-dispersion** ``ρ``: real traffic's share varies from hour to hour more than
  coin flips do (a bad evening, a newsletter). Every closed hour adds its squared residual
  to decayed method-of-moments sums (winsorised at 3 standard deviations, so a shift does
  not teach that shifts are normal); ``ρ`` is the beta-binomial intra-class correlation,
  with a prior of ``share_prior_hours`` pseudo-hours (each worth the series' average
  hour) at ``ρ = 1 / (1 + share_concentration)``.
- **Test**: the window's negative count ``x`` of ``n`` is a shift when the beta-binomial
  upper tail ``P(X ≥ x | n, p0, ρ)`` is below ``share_alpha`` (5e-5; a tenth of it in the
  half hour), with ``x ≥ min_count`` and
  ``x / n ≥ p0 + share_margin`` (a small share change on a big brand is significant but
  not an incident). The threshold is cached per (n, p0, ρ), so the test is a comparison
  per mention.

Why this test and these defaults, and its false-alarm rate on quiet replays:
docs/detection.md ("Negativity shifts").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clameur.detection.rules import Rules

_SHRINK = 60.0
"""Pseudo-mentions of the long-run share added to a slot's share."""
_KEEP_LONG = 0.99
"""Decay per closed hour of the long-run share (memory of about 100 hours)."""
_KEEP_RHO = 0.995
"""Decay per closed hour of the over-dispersion sums (memory of about 200 hours)."""
_MIN_HOURS = 48
"""The share test waits for two days of history: it needs a baseline share to test against."""
_MIN_N = 10
"""… and at least this many mentions in the window."""
_CEILING_SD = 2.0
"""A closed hour's negative mentions are folded into the baseline's slots up to this many
standard deviations above its baseline share (:meth:`ShareState.ceiling`)."""


@lru_cache(maxsize=32768)
def share_threshold(n: int, p0: float, rho: float, alpha: float) -> int:
    """Smallest ``x`` with ``P(X ≥ x) < alpha`` for ``X`` beta-binomial(n, p0, ρ)
    (``n + 1`` when even ``n`` negative mentions out of ``n`` are not that rare).

    ``ρ = 1 / (a + b + 1)`` is the correlation between two mentions of the same hour:
    ``Var X = n p0 (1 − p0) (1 + (n − 1) ρ)``. Summed from the top, in logarithms.
    """
    p0 = min(max(p0, 1e-4), 1 - 1e-4)
    rho = min(max(rho, 1e-6), 0.5)
    c = 1 / rho - 1
    a, b = p0 * c, (1 - p0) * c
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) - math.lgamma(n + a + b)
    log_n = math.lgamma(n + 1)
    tail = 0.0
    for k in range(n, -1, -1):
        log_pmf = (
            log_n
            - math.lgamma(k + 1)
            - math.lgamma(n - k + 1)
            + math.lgamma(k + a)
            + math.lgamma(n - k + b)
            + log_norm
        )
        tail += math.exp(log_pmf)
        if tail >= alpha:
            return k + 1
    return 0


@dataclass
class ShareState:
    """What a series remembers for the share test (JSON list in the series' state)."""

    total: float = 0.0
    negative: float = 0.0
    """Decayed long-run counts (``_KEEP_LONG`` per closed hour)."""
    excess: float = 0.0
    scale: float = 0.0
    """Decayed method-of-moments sums of the over-dispersion: Σ (r² − n p q) and
    Σ n (n − 1) p q over closed hours, ``r`` the hour's residual ``x − n p``."""
    hours: float = 0.0
    """Decayed count of the hours in those sums."""

    @classmethod
    def load(cls, raw: list[float] | None) -> ShareState:
        # A state of another shape (4 values: written when the test counted every negative
        # mention, not the firm ones) starts afresh: its shares meant something else.
        if not raw or len(raw) != 5:
            return cls()
        return cls(*(float(v) for v in raw))

    def dump(self) -> list[float]:
        values = (self.total, self.negative, self.excess, self.scale, self.hours)
        return [round(v, 4) for v in values]

    def long_share(self) -> float | None:
        return self.negative / self.total if self.total >= 20 else None

    def baseline(self, slot_total: float, slot_negative: float) -> float | None:
        """The baseline share at an hour whose slot holds these (decayed) counts."""
        long = self.long_share()
        if long is None:
            return None
        return (slot_negative + _SHRINK * long) / (slot_total + _SHRINK)

    def rho(self, rules: Rules) -> float:
        prior_rho = 1 / (1 + rules.share_concentration)
        # The prior's pseudo-hours count as the series' own average hour (at least one of
        # 20 mentions): for a big brand as for a small one, a few days of history are a
        # noisy estimate of ρ (half the true value, on replays) and the prior holds it.
        per_hour = self.scale / self.hours if self.hours >= 1 else 0.0
        prior_scale = rules.share_prior_hours * max(20 * 19 * 0.25, per_hour)
        value = (self.excess + prior_rho * prior_scale) / (self.scale + prior_scale)
        return min(max(value, 1e-4), 0.5)

    def ceiling(self, n: float, p0: float | None, rules: Rules) -> float:
        """The most negative mentions an hour of ``n`` folds into the baseline's slots:
        ``_CEILING_SD`` standard deviations above the baseline share ``p0`` (of the variation
        the series has shown or of the prior's, whichever is wider)."""
        if p0 is None or n < 1:
            return n
        rho = max(self.rho(rules), 1 / (1 + rules.share_concentration))
        sd = math.sqrt(n * p0 * (1 - p0) * (1 + (n - 1) * rho))
        return n * p0 + _CEILING_SD * sd

    def fold(self, n: float, x: float, p0: float | None, rules: Rules) -> None:
        """Fold a closed hour holding ``n`` mentions, ``x`` negative; ``p0`` the baseline
        share the test used for it (None before there is one)."""
        if p0 is not None and n >= 2:
            pq = p0 * (1 - p0)
            # Winsorised at 3 standard deviations of the variation the series has shown or
            # of the prior's, whichever is wider: against the learned ρ alone, a low
            # estimate cut the ordinary hours that would have raised it, and stayed low
            # (half the generator's true ρ on replays, then false shifts).
            rho = max(self.rho(rules), 1 / (1 + rules.share_concentration))
            variance = n * pq * (1 + (n - 1) * rho)
            residual2 = min((x - n * p0) ** 2, 9 * variance)
            self.excess = self.excess * _KEEP_RHO + residual2 - n * pq
            self.scale = self.scale * _KEEP_RHO + n * (n - 1) * pq
            self.hours = self.hours * _KEEP_RHO + 1
        if p0 is not None and n > 0 and x / n > p0 + 3 * math.sqrt(p0 * (1 - p0) / n) + 0.2:
            x = n * (p0 + 0.2)  # winsorised: a shift must not become the norm
        self.total = self.total * _KEEP_LONG + n
        self.negative = self.negative * _KEEP_LONG + x


@dataclass(frozen=True, slots=True)
class ShareVerdict:
    share: float
    baseline_share: float
    window_total: int
    window_negative: int
    threshold: int
    rho: float
    window_minutes: int = 0


def judge_share(
    state: ShareState,
    closed_hours: int,
    slot_total: float,
    slot_negative: float,
    total: int,
    negative: int,
    rules: Rules,
    minutes: int = 0,
    alpha: float | None = None,
    least: int = 0,
) -> ShareVerdict | None:
    """Whether ``negative`` of the ``total`` mentions of a window of ``minutes`` (firmly
    negative ones) is a negativity shift. The same ``ρ`` serves every window length: the
    hours of one morning are alike (dividing it by the hours a window spans raised false
    shifts on quiet replays, on a morning of three high hours in a row)."""
    if closed_hours < _MIN_HOURS or total < max(_MIN_N, least) or negative < rules.min_count:
        return None
    p0 = state.baseline(slot_total, slot_negative)
    if p0 is None or negative / total < p0 + rules.share_margin:
        return None
    rho = state.rho(rules)
    alpha = rules.share_alpha if alpha is None else alpha
    x = share_threshold(total, round(p0, 2), _quantise(rho), alpha)
    if x == 0 or negative < x:
        return None
    return ShareVerdict(negative / total, p0, total, negative, x, rho, minutes)


def _quantise(rho: float) -> float:
    """ρ on a grid of 2 significant digits: the threshold cache stays small."""
    digits = 1 - math.floor(math.log10(rho))
    return round(rho, digits)
