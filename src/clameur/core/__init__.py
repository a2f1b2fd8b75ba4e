"""Core services every capability may use: the outbox (side effects after commit) and the
bus (streams between the pipeline's producers and its workers).

They depend only on ``db``, ``config``, ``errors`` and ``clock``, so ``care`` and
``detection`` enqueue events and declare handlers without importing ``pipeline``, which
imports them.
"""

from __future__ import annotations

from clameur.core.bus import Bus, InMemoryBus, Message, bus_for
from clameur.core.models import OutboxEvent
from clameur.core.outbox import enqueue, relay

__all__ = ["Bus", "InMemoryBus", "Message", "OutboxEvent", "bus_for", "enqueue", "relay"]
