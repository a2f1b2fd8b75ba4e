"""The pipeline: the chain of steps, the bus, the outbox, and running batches.

The chain and the pipeline service are imported on first use (PEP 562): every capability
(care, detection) imports ``clameur.pipeline.outbox``, while the chain imports every
capability — loading the chain with the package would make that a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clameur.pipeline.bus import Bus, InMemoryBus, Message, bus_for
from clameur.pipeline.models import OutboxEvent
from clameur.pipeline.outbox import enqueue, relay

if TYPE_CHECKING:
    from clameur.pipeline.chain import STEPS, RawRecord, process_batch
    from clameur.pipeline.service import MENTIONS_STREAM, ImportResult, Pipeline

_LAZY = {
    "STEPS": "clameur.pipeline.chain",
    "RawRecord": "clameur.pipeline.chain",
    "process_batch": "clameur.pipeline.chain",
    "MENTIONS_STREAM": "clameur.pipeline.service",
    "ImportResult": "clameur.pipeline.service",
    "Pipeline": "clameur.pipeline.service",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clameur.pipeline' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "MENTIONS_STREAM",
    "STEPS",
    "Bus",
    "ImportResult",
    "InMemoryBus",
    "Message",
    "OutboxEvent",
    "Pipeline",
    "RawRecord",
    "bus_for",
    "enqueue",
    "process_batch",
    "relay",
]
