"""Live processing in one process: bus → pipeline → outbox, with the background loops.

A consumer thread runs the pipeline on whatever the bus holds; as soon as a batch has
committed it wakes the relay of its :class:`~clameur.pipeline.worker.Worker`, which
delivers what the batch scheduled (alert e-mails and webhooks) — so an alert leaves within
about a second of its tipping mention instead of waiting for a polling interval. The
worker's other loops (assignment, SLA sweeps, digests) run on the clock; a replay turns the
wall-clock ones off (see the fields).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clameur.core.bus import Bus
from clameur.core.outbox import Handler
from clameur.pipeline.service import MENTIONS_STREAM, Pipeline
from clameur.pipeline.worker import STATUS, LoopStatus, Worker, assign_all, relay_all, sweep_sla_all

log = logging.getLogger(__name__)


@dataclass
class LiveRunner:
    pipeline: Pipeline
    bus: Bus
    handlers: Mapping[str, Handler]
    consumer: str = "embedded"
    relay_interval: float = 1.0
    digest_interval: float = 60.0
    dispatch: bool = True
    """Assign queued conversations to online agents after each batch (not during replays:
    agents' presence is now, the data's time is not)."""
    sla_interval: float | None = 30.0
    """Seconds between SLA sweeps (warnings, breaches) on the wall clock; None: no sweeps
    (a replay of old data would breach everything at once)."""
    on_batch: Callable[[int], None] | None = None
    """Called after each committed batch with the number of bus messages it held."""
    status: LoopStatus | None = None
    """Where the loops report (default: the process-wide registry)."""
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _work: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    worker: Worker = field(init=False)

    def __post_init__(self) -> None:
        self.worker = Worker(
            self.pipeline.factory,
            self.pipeline.clock,
            self.handlers,
            relay_interval=self.relay_interval,
            assign_interval=5.0 if self.dispatch else None,
            sla_interval=self.sla_interval,
            digest_interval=self.digest_interval,
            status=self.status or STATUS,
        )

    def submit(self, records: list[dict[str, Any]], tenant_id: int | None) -> str:
        """Queue records (import format) for live processing."""
        message_id = self.bus.publish(MENTIONS_STREAM, {"records": records, "tenant_id": tenant_id})
        self._work.set()
        return message_id

    def start(self) -> LiveRunner:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._consume_loop, name="clameur-consume", daemon=True
        )
        self._thread.start()
        self.worker.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._work.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.worker.stop(timeout)

    def __enter__(self) -> LiveRunner:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def drain(self) -> None:
        """Process and deliver everything queued so far, in the calling thread."""
        while self.pipeline.consume(self.bus, self.consumer):
            pass
        relay_all(self.pipeline.factory, self.pipeline.clock, self.handlers)

    # -- the consumer --------------------------------------------------------------------
    def _consume_loop(self) -> None:
        while not self._stop.is_set():
            self._work.wait(0.5)
            self._work.clear()
            try:
                while done := self.pipeline.consume(self.bus, self.consumer):
                    self.worker.wake("relay")
                    if self.on_batch is not None:
                        self.on_batch(done)
                    if self.dispatch:
                        self.assign()
            except Exception:  # a bad batch must not stop live processing
                log.exception("live batch failed; its message stays pending")

    def assign(self) -> int:
        """Give queued conversations to online agents, every tenant with queues."""
        return assign_all(self.pipeline.factory, self.pipeline.clock)

    def sweep_sla(self) -> int:
        """SLA warnings and breaches due now, every tenant; returns how many were raised."""
        raised = sweep_sla_all(self.pipeline.factory, self.pipeline.clock)
        if raised:
            self.worker.wake("relay")
        return raised
