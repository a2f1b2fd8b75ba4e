"""The pipeline: the chain of steps, the bus, the outbox, and running batches."""

from clameur.pipeline.bus import Bus, InMemoryBus, Message, bus_for
from clameur.pipeline.chain import STEPS, RawRecord, process_batch
from clameur.pipeline.models import OutboxEvent
from clameur.pipeline.outbox import enqueue, relay
from clameur.pipeline.service import MENTIONS_STREAM, ImportResult, Pipeline

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
