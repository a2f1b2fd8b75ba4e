"""How often one API principal may start an archive search: a token bucket per (tenant,
user), in the web process.

Each principal has ``burst`` searches at once, refilled at ``per_minute`` a minute; a search
without a token is refused with :class:`TooManyAttemptsError` (HTTP 429, ``Retry-After``).
Each web process keeps its own buckets: with N processes a principal gets up to N times the
rate (the deployment has no shared store for it yet; see docs/architecture.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from fastapi import Request

from clameur.config import Settings
from clameur.errors import TooManyAttemptsError
from clameur.tenancy.principal import Principal

MAX_PRINCIPALS: Final = 100_000
"""Buckets kept; the least recently used go first (a full bucket is the default anyway)."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class SearchRateLimiter:
    """Token buckets keyed by (tenant id, user id); thread-safe."""

    def __init__(
        self, per_minute: float, burst: int, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.now = now
        self._buckets: OrderedDict[tuple[int, int], _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, principal: Principal) -> None:
        """Spend one search of ``principal``'s bucket, or raise :class:`TooManyAttemptsError`."""
        if self.rate <= 0:
            return
        key = (principal.tenant_id, principal.user_id)
        with self._lock:
            now = self.now()
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            self._buckets[key] = bucket
            while len(self._buckets) > MAX_PRINCIPALS:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = math.ceil((1.0 - bucket.tokens) / self.rate)
        raise TooManyAttemptsError(
            f"too many searches: at most {self.rate * 60:g} a minute (bursts of {self.burst}); "
            f"try again in {wait} s",
            retry_after=wait,
        )


def limiter_of(request: Request) -> SearchRateLimiter:
    """The app's limiter, made from its settings on first use."""
    state = request.app.state
    limiter: SearchRateLimiter | None = getattr(state, "search_limiter", None)
    if limiter is None:
        settings: Settings = state.settings
        limiter = SearchRateLimiter(settings.search_rate_per_minute, settings.search_burst)
        state.search_limiter = limiter
    return limiter
