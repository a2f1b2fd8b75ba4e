"""What the pipeline and the deployment show to Prometheus.

- :func:`observed_batch` wraps one batch's transaction: after its commit, the lines by
  outcome, the batch's time, and the latency of the alerts it raised (see
  :mod:`clameur.core.metrics`), and one log line ``batch stored`` with the trace id.
- :class:`LoopCollector`: the background loops of this process (runs, last run, failing).
- :class:`ClusterCollector`: the deployment's gauges, read at scrape time — the outbox
  (backlog and dead events by kind, the oldest due event's age), the SLA clocks at risk and
  breached per tenant, and the bus streams (backlog, in progress, dead letters, the oldest
  entry's age). Four SQL statements and four Redis commands a scrape, whatever the size.
- :func:`serve_metrics`: the metrics port of ``clameur worker --metrics-port`` (bearer
  token required).
"""

from __future__ import annotations

import hmac
import logging
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from clameur.care.models import Conversation
from clameur.care.sla import CLOCKS, RUNNING_STATUSES
from clameur.clock import Clock, SystemClock
from clameur.core import metrics, trace
from clameur.core.bus import dead_stream
from clameur.core.models import OutboxEvent
from clameur.pipeline.worker import STATUS, LoopStatus
from clameur.tenancy.models import Tenant

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from clameur.config import Settings
    from clameur.core.bus_redis import RedisBus
    from clameur.mentions import BatchReport

log = logging.getLogger(__name__)

STREAMS = (("ingest", "workers"),)
"""The bus streams (and their consumer group) the cluster gauges watch."""


# -- one batch -------------------------------------------------------------------------


@dataclass(slots=True)
class BatchSeen:
    trace: trace.Trace
    report: BatchReport | None = None


@contextmanager
def observed_batch() -> Iterator[BatchSeen]:
    """Around one batch's transaction (``with observed_batch() as seen, session_scope(…)``):
    the current trace (a new ``batch`` one if none), and once the block ends without error
    — after the commit — the batch's metrics and its log line. Set ``seen.report``."""
    active = trace.current() or trace.start("batch")
    with trace.use(active):
        active.raised.clear()
        began_wall, began = time.time(), time.perf_counter()
        seen = BatchSeen(active)
        try:
            yield seen
        except BaseException:
            active.raised.clear()  # rolled back: its alerts were not raised
            raise
        seconds = time.perf_counter() - began
        metrics.BATCH_SECONDS.labels(active.origin).observe(seconds)
        counts = seen.report.counts() if seen.report is not None else {}
        for outcome, count in counts.items():
            if count:
                metrics.MENTIONS.labels(outcome).inc(count)
        received = active.received_at if active.received_at is not None else began_wall
        now = time.time()
        for kind in active.raised:
            metrics.ALERTS.labels(kind).inc()
            metrics.ALERT_LATENCY.labels(kind).observe(max(0.0, now - received))
        raised = len(active.raised)
        active.raised.clear()
        log.info(
            "batch stored",
            extra={
                trace.KEY: active.id,
                "origin": active.origin,
                **counts,
                "alerts": raised,
                "seconds": round(seconds, 3),
            },
        )


# -- this process's loops -------------------------------------------------------------


class LoopCollector(Collector):
    """The background loops of this process (:data:`clameur.pipeline.worker.STATUS`)."""

    def __init__(self, status: LoopStatus = STATUS) -> None:
        self.status = status

    def collect(self) -> Iterable[Metric]:
        snapshot = self.status.snapshot()
        running = GaugeMetricFamily(
            "clameur_worker_running", "1 when this process runs the background loops."
        )
        running.add_metric([], 1.0 if snapshot["running"] else 0.0)
        runs = CounterMetricFamily(
            "clameur_loop_runs", "Rounds of each background loop in this process.", labels=["loop"]
        )
        last = GaugeMetricFamily(
            "clameur_loop_last_run_timestamp_seconds",
            "When each loop last finished a round (Unix time).",
            labels=["loop"],
        )
        failing = GaugeMetricFamily(
            "clameur_loop_failing",
            "1 while the loop's last round failed (the error is in the logs).",
            labels=["loop"],
        )
        for name, state in snapshot["loops"].items():
            runs.add_metric([name], float(state["runs"]))
            if state["last_run"] is not None:
                last.add_metric([name], datetime.fromisoformat(state["last_run"]).timestamp())
            failing.add_metric([name], 1.0 if state["last_error"] else 0.0)
        yield from (running, runs, last, failing)


metrics.REGISTRY.register(LoopCollector())


# -- the deployment -------------------------------------------------------------------


def _clock_field(clock: str, key: str) -> Any:
    return Conversation.__table__.c.sla[("clocks", clock, key)].as_string()


def _sla_states() -> tuple[Any, Any]:
    """SQL: (some running clock breached, some running clock warned and not breached)."""
    breached = or_(
        *(
            and_(_clock_field(c, "state") == "running", _clock_field(c, "breached_at").is_not(None))
            for c in CLOCKS
        )
    )
    warned = or_(
        *(
            and_(
                _clock_field(c, "state") == "running",
                _clock_field(c, "warned_at").is_not(None),
                _clock_field(c, "breached_at").is_(None),
            )
            for c in CLOCKS
        )
    )
    return breached, warned


def cluster_figures(session: Session, now: datetime) -> dict[str, Any]:
    """The database's gauges, in four statements (the tenant list first, so the SLA count
    walks the open conversations through the tenant-and-status index)."""
    outbox = session.execute(
        select(OutboxEvent.kind, OutboxEvent.status, func.count())
        .where(OutboxEvent.status.in_(("pending", "dead")))
        .group_by(OutboxEvent.kind, OutboxEvent.status)
    ).all()
    oldest = session.scalar(
        select(func.min(OutboxEvent.available_at)).where(
            OutboxEvent.status == "pending", OutboxEvent.available_at <= now
        )
    )
    tenants = list(session.scalars(select(Tenant.id)))
    sla: list[Any] = []
    if tenants:
        breached, warned = _sla_states()
        sla = list(
            session.execute(
                select(
                    Conversation.tenant_id,
                    func.sum(case((breached, 1), else_=0)),
                    func.sum(case((and_(~breached, warned), 1), else_=0)),
                )
                .where(
                    Conversation.tenant_id.in_(tenants),
                    Conversation.status.in_(RUNNING_STATUSES),
                )
                .group_by(Conversation.tenant_id)
            ).all()
        )
    return {
        "outbox": [(str(kind), str(status), int(n)) for kind, status, n in outbox],
        "oldest_due_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        "sla": [(int(t), int(b or 0), int(w or 0)) for t, b, w in sla],
    }


def bus_figures(bus: RedisBus) -> list[tuple[str, int, int, int, float]]:
    """(stream, backlog, pending, dead letters, oldest entry's age in s) of each stream."""
    out = []
    for stream, group in STREAMS:
        key = f"{bus.prefix}{stream}"
        backlog = bus.backlog(stream)
        pending = bus.pending(stream, group)
        dead = bus.backlog(dead_stream(stream))
        first: Any = bus.client.xrange(key, count=1)
        age = 0.0
        if first:
            published_ms = int(str(first[0][0]).split("-", 1)[0])
            age = max(0.0, time.time() - published_ms / 1000)
        out.append((stream, backlog, pending, dead, age))
    return out


def probe_bus(settings: Settings) -> RedisBus | None:
    """A Redis client for scrapes and readiness that gives up within about a second (the
    workers' own clients retry for 30 s); None on the in-memory bus."""
    if settings.bus_url.startswith("memory://"):
        return None
    from clameur.core.bus_redis import RedisBus

    return RedisBus.from_url(settings.bus_url, prefix=settings.bus_prefix, reconnect_seconds=0.5)


class ClusterCollector(Collector):
    """The deployment's gauges, read from the database (and Redis) at each scrape."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        bus: RedisBus | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.factory = factory
        self.bus = bus
        self.clock = clock or SystemClock()

    def collect(self) -> Iterable[Metric]:
        yield from self._database()
        if self.bus is not None:
            yield from self._bus(self.bus)

    def _database(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("clameur_database_up", "1 when the scrape could read the database.")
        try:
            with self.factory() as session:
                figures = cluster_figures(session, self.clock.now())
        except Exception:  # a scrape reports the outage, it does not fail with it
            log.warning("metrics: the database could not be read", exc_info=True)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        events = GaugeMetricFamily(
            "clameur_outbox_events",
            "Outbox events waiting (pending) or given up on (dead), by kind.",
            labels=["kind", "status"],
        )
        for kind, status, count in figures["outbox"]:
            events.add_metric([kind, status], float(count))
        yield events
        yield GaugeMetricFamily(
            "clameur_outbox_oldest_due_age_seconds",
            "How long the oldest due pending outbox event has waited (0: none due).",
            value=figures["oldest_due_seconds"],
        )
        sla = GaugeMetricFamily(
            "clameur_sla_conversations",
            "Open conversations with a running SLA clock breached, or warned and not yet "
            "breached (at_risk), by tenant id.",
            labels=["tenant_id", "state"],
        )
        for tenant_id, breached, at_risk in figures["sla"]:
            sla.add_metric([str(tenant_id), "breached"], float(breached))
            sla.add_metric([str(tenant_id), "at_risk"], float(at_risk))
        yield sla

    def _bus(self, bus: RedisBus) -> Iterator[Metric]:
        up = GaugeMetricFamily("clameur_bus_up", "1 when the scrape could read the Redis bus.")
        try:
            figures = bus_figures(bus)
        except Exception:  # noqa: BLE001 - reported as clameur_bus_up 0
            log.warning("metrics: the bus could not be read", exc_info=True)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        names = (
            ("clameur_bus_backlog_entries", "Entries in the stream: queued or in progress."),
            ("clameur_bus_pending_entries", "Entries delivered to a worker, not acknowledged."),
            ("clameur_bus_dead_letters_entries", "Entries in the stream's dead letters."),
            (
                "clameur_bus_oldest_entry_age_seconds",
                "Age of the stream's oldest entry (queued or in progress; 0: empty): the stage "
                "lag.",
            ),
        )
        families = [GaugeMetricFamily(n, h, labels=["stream"]) for n, h in names]
        for stream, *values in figures:
            for family, value in zip(families, values, strict=True):
                family.add_metric([stream], float(value))
        yield from families


def cluster_registry(collector: ClusterCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


# -- the workers' metrics port --------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        log.debug("metrics request", extra={"line": format % args})


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


def metrics_app(
    token: str, render: Callable[[], bytes] = metrics.exposition
) -> Callable[[WSGIEnvironment, StartResponse], list[bytes]]:
    """A WSGI app answering ``GET /metrics`` to ``Authorization: Bearer <token>`` only."""
    expected = f"Bearer {token}".encode()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: GET /metrics\n"]
        given = str(environ.get("HTTP_AUTHORIZATION", "")).encode()
        if not hmac.compare_digest(given, expected):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
            )
            return [b"send Authorization: Bearer $CLAMEUR_METRICS_TOKEN\n"]
        start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE)])
        return [render()]

    return app


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def serve_metrics(host: str, port: int, token: str) -> MetricsServer:
    """Serve this process's metrics on ``host:port`` in a thread (port 0: any free one)."""
    server = make_server(
        host, port, metrics_app(token), server_class=_ThreadingServer, handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, name="clameur-metrics", daemon=True)
    thread.start()
    return MetricsServer(server, thread)
