"""Live processing in one process (the embedded deployment): bus → pipeline → outbox.

A consumer thread runs the pipeline on whatever the bus holds; as soon as a batch has
committed it wakes the relay thread, which delivers what the batch scheduled (alert
e-mails and webhooks) — so an alert leaves within about a second of its tipping mention
instead of waiting for a polling interval. The relay also wakes on its own every
``relay_interval`` seconds for retries that have come due, and sends the low-severity
digests every ``digest_interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clameur.db.engine import session_scope
from clameur.pipeline.bus import Bus
from clameur.pipeline.outbox import Handler, relay
from clameur.pipeline.service import MENTIONS_STREAM, Pipeline

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
    _stop: threading.Event = field(default_factory=threading.Event)
    _work: threading.Event = field(default_factory=threading.Event)
    _deliver: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def submit(self, records: list[dict[str, Any]], tenant_id: int | None) -> str:
        """Queue records (import format) for live processing."""
        message_id = self.bus.publish(MENTIONS_STREAM, {"records": records, "tenant_id": tenant_id})
        self._work.set()
        return message_id

    def start(self) -> LiveRunner:
        for target, name in ((self._consume_loop, "consume"), (self._relay_loop, "relay")):
            thread = threading.Thread(target=target, name=f"clameur-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._work.set()
        self._deliver.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def __enter__(self) -> LiveRunner:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def drain(self) -> None:
        """Process and deliver everything queued so far, in the calling thread."""
        while self.pipeline.consume(self.bus, self.consumer):
            pass
        while self._relay_once():
            pass

    # -- threads -------------------------------------------------------------------------
    def _consume_loop(self) -> None:
        while not self._stop.is_set():
            self._work.wait(0.5)
            self._work.clear()
            try:
                while done := self.pipeline.consume(self.bus, self.consumer):
                    self._deliver.set()
                    if self.on_batch is not None:
                        self.on_batch(done)
                    if self.dispatch:
                        self.assign()
            except Exception:  # a bad batch must not stop live processing
                log.exception("live batch failed; its message stays pending")

    def _relay_loop(self) -> None:
        since_digest = since_sweep = 0.0
        while not self._stop.is_set():
            self._deliver.wait(self.relay_interval)
            self._deliver.clear()
            try:
                while self._relay_once():
                    pass
                since_digest += self.relay_interval
                since_sweep += self.relay_interval
                if since_digest >= self.digest_interval:
                    since_digest = 0.0
                    self._digests()
                if self.sla_interval is not None and since_sweep >= self.sla_interval:
                    since_sweep = 0.0
                    self.sweep_sla()
            except Exception:
                log.exception("outbox relay failed; retrying")

    def _relay_once(self) -> int:
        return relay(self.pipeline.factory, self.pipeline.clock, self.handlers)

    def assign(self) -> int:
        """Give queued conversations to online agents, every tenant with queues."""
        from sqlalchemy import select

        from clameur.care import routing
        from clameur.care.models import Queue

        with session_scope(self.pipeline.factory) as session:
            tenants = session.scalars(select(Queue.tenant_id).distinct()).all()
        given = 0
        for tenant_id in tenants:
            with session_scope(self.pipeline.factory) as session:
                given += len(routing.assign_pending(session, self.pipeline.clock, tenant_id))
        return given

    def sweep_sla(self) -> int:
        """SLA warnings and breaches due now, every tenant; returns how many were raised."""
        from clameur.care import sla_sweep

        clock = self.pipeline.clock
        raised = 0
        with session_scope(self.pipeline.factory) as session:
            tenants = sla_sweep.tenants_to_sweep(session, clock.now())
        for tenant_id in tenants:
            with session_scope(self.pipeline.factory) as session:
                raised += len(sla_sweep.sweep(session, clock, tenant_id))
        if raised:
            self._deliver.set()
        return raised

    def _digests(self) -> None:
        from clameur.detection import notify

        with session_scope(self.pipeline.factory) as session:
            notify.send_digests(session, self.pipeline.clock)
