"""The spike detector's windows: what a mention's arrival leaves in the count window and
the share windows, summed from the series' bins.

Split from :mod:`clameur.detection.spikes` (the series and the tests); the share test itself
is in :mod:`clameur.detection.spikes_share`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class ShareWindow(NamedTuple):
    """One window of the share test."""

    span: float
    """Its length, in ``share_window_minutes``."""
    alpha: float
    """Its fraction of ``share_alpha``."""
    least: int
    """The fewest mentions it tests."""


SHARE_WINDOWS = (ShareWindow(0.5, 0.1, 20), ShareWindow(1.0, 1.0, 10), ShareWindow(3.0, 1.0, 10))
"""The share test reads the last half hour, hour and three hours (by default): the half
hour catches a large shift soon after its onset, before the shift fills the hour, and the
three hours a smaller one, later. The half hour is a third look at the same mentions, so it
takes a tenth of the tail probability, and it waits for 20 mentions (a quieter brand's hour
window does its job): docs/detection.md, "Negativity shifts"."""


class Counts(NamedTuple):
    """One tested window's counts (this mention included)."""

    total: int
    negative: int
    first: float
    """Event time (epoch seconds) of the window's first mention."""
    firm: int
    """Firmly negative mentions (:func:`is_firmly_negative`)."""


class Window:
    """What a mention's arrival leaves in the tested windows. The share windows (half an
    hour, an hour and three) are summed only when a test reads them: most mentions need only
    the count window, and walking 36 bins for each made spike detection twice as costly."""

    __slots__ = ("_args", "_shares", "count")

    def __init__(
        self,
        count: Counts,
        bins: dict[int, list[float]],
        b: int,
        width: int,
        exact: float,
        spans: tuple[int, ...],
    ) -> None:
        self.count = count
        """The count tests' window (``window_minutes``)."""
        self._args = (bins, b, width, exact, spans)
        self._shares: list[Counts] | None = None

    @property
    def share(self) -> Counts:
        """The share test's window (``share_window_minutes``)."""
        return self.shares[1]

    @property
    def shares(self) -> list[Counts]:
        """The share test's windows, one per ``SHARE_WINDOWS``: a large shift is caught in
        the half hour, a smaller one later, not never."""
        if self._shares is None:
            self._shares = walk(*self._args)
        return self._shares


@lru_cache(maxsize=64)
def share_spans(share_minutes: int, bin_minutes: int) -> tuple[int, ...]:
    """The share windows (``SHARE_WINDOWS``) in bins, each at least one (cached: it is read
    at every mention)."""
    return tuple(max(1, round(look.span * share_minutes / bin_minutes)) for look in SHARE_WINDOWS)


@lru_cache(maxsize=64)
def share_minutes(share_minutes: int, bin_minutes: int) -> tuple[int, ...]:
    """… and in minutes."""
    return tuple(b * bin_minutes for b in share_spans(share_minutes, bin_minutes))


def walk(
    bins: dict[int, list[float]], b: int, width: int, exact: float, spans: tuple[int, ...]
) -> list[Counts]:
    """The counts of the windows of ``spans`` bins ending with bin ``b``, in one walk back
    from it (the windows share their newest bins; a bin's first mention is earlier than any
    newer bin's, so the oldest bin seen holds the window's first)."""
    found: list[Counts] = [Counts(0, 0, exact, 0)] * len(spans)
    total = negative = firm = 0.0
    first = exact
    get = bins.get
    k = b
    for span, i in sorted(zip(spans, range(len(spans)), strict=True)):
        stop = b - span
        while k > stop:
            c = get(k)
            if c is not None:
                total += c[0]
                negative += c[1]
                firm += c[3]
                at = c[2] or k * width
                if at < first:
                    first = at
            k -= 1
        found[i] = Counts(int(total), int(negative), first, int(firm))
    return found
