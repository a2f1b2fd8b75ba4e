"""Seeded sampling helpers for the demo generator: weighted choice and sorted uniforms."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """Weighted choice in O(log n) with a caller-supplied RNG."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        self.items: list[T] = []
        self.cum: list[float] = []
        acc = 0.0
        for item, weight in pairs:
            acc += weight
            self.items.append(item)
            self.cum.append(acc)
        self.total = acc

    def pick(self, rng: random.Random) -> T:
        index = bisect.bisect_right(self.cum, rng.random() * self.total)
        return self.items[min(index, len(self.items) - 1)]


def sorted_uniforms(rng: random.Random, n: int) -> Iterator[float]:
    """n sorted uniforms in [0, 1), one at a time (successive minima), O(1) memory."""
    x = 0.0
    for k in range(n, 0, -1):
        x += (1.0 - x) * (1.0 - rng.random() ** (1.0 / k))
        yield min(x, 0.999999)


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split total into integer parts proportional to weights (largest remainder)."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts
