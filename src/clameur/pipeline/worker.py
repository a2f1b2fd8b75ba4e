"""Background work: the loops that run beside the web server, or without it.

A :class:`Worker` runs named loops in threads, each on the wall clock of an injected
:class:`~clameur.clock.Clock`:

========== ======== ==================================================================
loop       every    does
========== ======== ==================================================================
relay      1 s      delivers the outbox (alert e-mails and webhooks, replies, SLA mail);
                    also woken at once by :meth:`Worker.wake` and after sweeps/digests
assign     5 s      gives queued conversations to online agents, every tenant
sla        30 s     records SLA warnings and breaches due now, every tenant
digests    60 s     sends the low-severity alert digests that are due
sources    5 s      polls the connectors (RSS…) that are due, every tenant, each at its
                    own interval (only when the worker is given a ``poller``)
ingest     at once  takes the next chunk of a queued import from the bus and runs it
                    through the pipeline (only with an ``ingest`` consumer: a Redis bus)
reclaim    ≤ 5 s    takes over chunks a dead worker left idle for ``bus_claim_idle_ms``
                    (and retries failed ones, dead-lettering them after the last try)
========== ======== ==================================================================

Any number of workers may run against one database (SQLite in WAL mode embedded, or
PostgreSQL scaled out): the relay shares events through leases, assignment and SLA sweeps
through row locks (``SKIP LOCKED`` on PostgreSQL; SQLite writers take turns), digests
through the tenant's digest row, connector polls through leases on their source rows.
``concurrency`` is the number of relay, source and ingest threads, the
loops whose work gains from running side by side (network calls; a chunk's reading half
while another waits for its turn). Each ingest thread is a consumer of its own on the bus
(``host:pid:thread``).

:meth:`Worker.stop` lets each loop finish the step it is in: a relay gives back the events
it claimed and has not tried yet (see :func:`clameur.core.outbox.relay`), then the
threads are joined. Each loop's last run, run count and last error are recorded in a
process-wide :class:`LoopStatus` (:data:`STATUS`), which the health endpoint reports.

Agent presence does not expire here: ``AgentState.presence_at`` is when the presence was
last *set*, not when the agent was last seen, so there is nothing to judge idleness on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clameur.clock import Clock
from clameur.core.outbox import Handler, relay
from clameur.db.engine import session_scope

if TYPE_CHECKING:
    from clameur.config import Settings
    from clameur.pipeline.queued import IngestConsumer
    from clameur.sources.schedule import Poller

log = logging.getLogger(__name__)

Stopping = Callable[[], bool]
"""Asked by a long step between units of work: True once the worker is stopping."""


# -- status ----------------------------------------------------------------------------


@dataclass(slots=True)
class LoopState:
    last_run: datetime | None = None
    runs: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "last_run": self.last_run.isoformat() if self.last_run else None,
            "runs": self.runs,
            "last_error": self.last_error,
        }


class LoopStatus:
    """What the loops of this process did (thread-safe): for health checks and logs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loops: dict[str, LoopState] = {}
        self._running = 0

    def started(self, names: list[str]) -> None:
        with self._lock:
            self._running += 1
            for name in names:
                self._loops.setdefault(name, LoopState())

    def stopped(self) -> None:
        with self._lock:
            self._running = max(0, self._running - 1)

    def record(self, name: str, at: datetime, error: str | None = None) -> None:
        """One run of ``name`` ended at ``at``; ``error`` if it failed (cleared otherwise)."""
        with self._lock:
            state = self._loops.setdefault(name, LoopState())
            state.last_run = at
            state.runs += 1
            state.last_error = error

    def snapshot(self) -> dict[str, Any]:
        """``{"running": bool, "loops": {name: {"last_run", "runs", "last_error"}}}``."""
        with self._lock:
            return {
                "running": self._running > 0,
                "loops": {name: state.as_dict() for name, state in sorted(self._loops.items())},
            }


STATUS = LoopStatus()
"""The registry of this process (what ``GET /api/v1/health`` shows)."""


# -- the steps -------------------------------------------------------------------------


def assign_all(factory: sessionmaker[Session], clock: Clock) -> int:
    """Give queued conversations to online agents, every tenant with queues."""
    from clameur.care import routing
    from clameur.care.models import Queue

    with session_scope(factory) as session:
        tenants = session.scalars(select(Queue.tenant_id).distinct()).all()
    given = 0
    for tenant_id in tenants:  # one transaction per tenant: a lock held briefly
        with session_scope(factory) as session:
            given += len(routing.assign_pending(session, clock, tenant_id))
    return given


def sweep_sla_all(factory: sessionmaker[Session], clock: Clock) -> int:
    """SLA warnings and breaches due now, every tenant; returns how many were raised."""
    from clameur.care import conversations, sla_sweep

    with session_scope(factory) as session:
        conversations.wake_snoozed(session, clock.now())  # snoozed ones whose time came
        tenants = sla_sweep.tenants_to_sweep(session, clock.now())
    raised = 0
    for tenant_id in tenants:
        with session_scope(factory) as session:
            raised += len(sla_sweep.sweep(session, clock, tenant_id))
    return raised


def send_digests_all(factory: sessionmaker[Session], clock: Clock) -> int:
    """The alert digests due now, every tenant; returns the outbox events enqueued."""
    from clameur.detection import notify

    with session_scope(factory) as session:
        return notify.send_digests(session, clock)


def relay_all(
    factory: sessionmaker[Session],
    clock: Clock,
    handlers: Mapping[str, Handler],
    stopping: Stopping = lambda: False,
) -> int:
    """Deliver what is due until a pass delivers nothing (or the worker stops)."""
    delivered = 0
    while not stopping():
        done = relay(factory, clock, handlers, stopping=stopping)
        if not done:
            break
        delivered += done
    return delivered


def poll_sources_all(poller: Poller, stopping: Stopping = lambda: False) -> int:
    """Poll every due source, a few at a time, until none is due (or the worker stops);
    returns how many polls were made. A source's failure is recorded on it, never raised."""
    polled = 0
    while not stopping():
        outcomes = poller.poll_due(limit=5, stopping=stopping)
        if not outcomes:
            break
        polled += len(outcomes)
    return polled


def source_poller(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Poller:
    """The poller of ``serve``/``worker``: its records go through a :class:`Pipeline` made
    on the first poll that brings any (no models are loaded while no source is due)."""
    from clameur.sources.schedule import Counts, Poller

    made: list[Any] = []
    lock = threading.Lock()

    def ingest(records: Any, tenant_id: int, then: Callable[[Session, Counts], None]) -> Counts:
        with lock:
            if not made:
                from clameur.pipeline.service import Pipeline

                made.append(Pipeline(factory=factory, settings=settings, clock=clock))
        counts: Counts = made[0].ingest_polled(records, tenant_id, then)
        return counts

    return Poller(factory=factory, settings=settings, clock=clock, ingest=ingest)


# -- the worker ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Loop:
    name: str
    interval: timedelta
    step: Callable[[Stopping], int]
    """Does one round of work; returns how much it did."""
    threads: int = 1


@dataclass
class Worker:
    """The background loops over one database. ``start`` runs them in threads;
    :meth:`run_due` runs, in the calling thread, every loop that is due (tests)."""

    factory: sessionmaker[Session]
    clock: Clock
    handlers: Mapping[str, Handler]
    concurrency: int = 1
    """Relay threads."""
    relay_interval: float = 1.0
    assign_interval: float | None = 5.0
    """Seconds between assignment rounds; None: no assignment (replays of old data)."""
    sla_interval: float | None = 30.0
    """Seconds between SLA sweeps; None: no sweeps (a replay would breach everything)."""
    digest_interval: float | None = 60.0
    poller: Poller | None = None
    """Polls the connectors (see :func:`source_poller`); None: no ``sources`` loop."""
    sources_interval: float = 5.0
    ingest: IngestConsumer | None = None
    """Consumes queued imports from the bus (``clameur worker`` on a Redis bus); None: no
    ``ingest`` and ``reclaim`` loops."""
    status: LoopStatus = field(default_factory=lambda: STATUS)
    max_wait: float = 1.0
    """Longest real sleep between looks at the clock (a clock may jump)."""
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _wakes: dict[str, threading.Event] = field(default_factory=dict, init=False)
    _next: dict[str, datetime] = field(default_factory=dict, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        self.loops: tuple[Loop, ...] = tuple(self._loops())
        self._wakes = {loop.name: threading.Event() for loop in self.loops}

    def _loops(self) -> list[Loop]:
        every = timedelta(seconds=self.relay_interval)
        loops = [Loop("relay", every, self._relay_step, threads=self.concurrency)]
        if self.assign_interval is not None:
            loops.append(Loop("assign", timedelta(seconds=self.assign_interval), self._assign_step))
        if self.sla_interval is not None:
            loops.append(Loop("sla", timedelta(seconds=self.sla_interval), self._sla_step))
        if self.digest_interval is not None:
            loops.append(
                Loop("digests", timedelta(seconds=self.digest_interval), self._digest_step)
            )
        if self.poller is not None:
            every = timedelta(seconds=self.sources_interval)
            loops.append(Loop("sources", every, self._sources_step, threads=self.concurrency))
        if self.ingest is not None:
            self.ingest.stopping = self.stopping
            idle = self.ingest.pipeline.settings.bus_claim_idle_ms / 1000
            loops.append(Loop("ingest", timedelta(0), self._ingest_step, threads=self.concurrency))
            every = timedelta(seconds=min(5.0, max(0.1, idle / 2)))
            loops.append(Loop("reclaim", every, self._reclaim_step))
        return loops

    def _ingest_step(self, _stopping: Stopping) -> int:
        assert self.ingest is not None
        done = self.ingest.read_once()
        if done:
            self.wake("relay")  # alerts the chunk raised
        return done

    def _reclaim_step(self, stopping: Stopping) -> int:
        assert self.ingest is not None
        taken = 0
        while not stopping() and self.ingest.reclaim_once():
            taken += 1
            self.wake("relay")
        return taken

    def _sources_step(self, stopping: Stopping) -> int:
        assert self.poller is not None
        polled = poll_sources_all(self.poller, stopping)
        if polled:
            self.wake("relay")  # alerts raised by what came in
        return polled

    def _assign_step(self, _stopping: Stopping) -> int:
        return assign_all(self.factory, self.clock)

    def _relay_step(self, stopping: Stopping) -> int:
        return relay_all(self.factory, self.clock, self.handlers, stopping)

    def _sla_step(self, _stopping: Stopping) -> int:
        raised = sweep_sla_all(self.factory, self.clock)
        if raised:
            self.wake("relay")  # breach e-mails wait in the outbox
        return raised

    def _digest_step(self, _stopping: Stopping) -> int:
        events = send_digests_all(self.factory, self.clock)
        if events:
            self.wake("relay")
        return events

    # -- control -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def wake(self, name: str = "relay") -> None:
        """Run loop ``name`` as soon as possible (e.g. after a batch enqueued events)."""
        if name in self._wakes:
            self._wakes[name].set()

    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_due(self) -> dict[str, int]:
        """Run once every loop due by the clock (each is due when first seen), in this
        thread; returns the work each did. Loops not due are left out."""
        done: dict[str, int] = {}
        for loop in self.loops:
            now = self.clock.now()
            woken = self._wakes[loop.name].is_set()
            if not woken and now < self._next.get(loop.name, now):
                continue
            self._wakes[loop.name].clear()
            result = self._run(loop)
            self._next[loop.name] = self.clock.now() + loop.interval
            if result is not None:
                done[loop.name] = result
        return done

    def start(self) -> Worker:
        if self._threads:
            raise RuntimeError("this worker is already started")
        self._stop.clear()
        self.status.started([loop.name for loop in self.loops])
        for loop in self.loops:
            for index in range(loop.threads):
                suffix = f"-{index + 1}" if loop.threads > 1 else ""
                # daemon: a stuck handler must not keep the process alive for ever
                thread = threading.Thread(
                    target=self._thread,
                    args=(loop,),
                    name=f"clameur-{loop.name}{suffix}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        names = ",".join(loop.name for loop in self.loops)
        log.info("worker started", extra={"loops": names, "concurrency": self.concurrency})
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the current steps; True when every thread ended within ``timeout``."""
        if not self._threads:
            return True
        self._stop.set()
        for wake in self._wakes.values():
            wake.set()
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        self._threads.clear()
        self.status.stopped()
        if stuck:
            log.error("worker threads did not stop in time", extra={"threads": ",".join(stuck)})
            return False
        log.info("worker stopped")
        return True

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- threads -------------------------------------------------------------------------
    def _thread(self, loop: Loop) -> None:
        wake = self._wakes[loop.name]
        next_at = self.clock.now()  # every loop runs once as soon as it starts
        while not self._stop.is_set():
            now = self.clock.now()
            if now < next_at and not wake.is_set():
                wake.wait(min(self.max_wait, (next_at - now).total_seconds()))
                continue
            wake.clear()
            self._run(loop)
            next_at = self.clock.now() + loop.interval

    def _run(self, loop: Loop) -> int | None:
        try:
            result = loop.step(self.stopping)
        except Exception as exc:  # a failing round must not end the loop: retried next time
            log.exception("background loop failed", extra={"loop": loop.name})
            self.status.record(loop.name, self.clock.now(), f"{type(exc).__name__}: {exc}"[:500])
            return None
        self.status.record(loop.name, self.clock.now())
        if result:
            log.debug("background loop did work", extra={"loop": loop.name, "count": result})
        return result
