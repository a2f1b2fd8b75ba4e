"""The process's Prometheus metrics (``prometheus-client``), in one registry.

Each process (``clameur serve``, each ``clameur worker``) counts what *it* did here; the
deployment-wide gauges (outbox, bus, SLA) are read from the database and Redis at scrape
time by :class:`clameur.pipeline.metrics.ClusterCollector`. docs/operations.md lists every
metric, what it means and suggested alert rules.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import (
    gc_collector as _gc,
)
from prometheus_client import (
    platform_collector as _platform,
)
from prometheus_client import (
    process_collector as _process,
)

REGISTRY: Final = CollectorRegistry(auto_describe=True)
"""This process's metrics (plus CPU, memory, file descriptors, garbage collection)."""
_process.ProcessCollector(registry=REGISTRY)
_platform.PlatformCollector(registry=REGISTRY)
_gc.GCCollector(registry=REGISTRY)

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

MENTIONS: Final = Counter(
    "clameur_mentions_processed",
    "Input lines the pipeline finished, by outcome (imported, updated, unchanged, unmatched, "
    "rejected); counted once their batch committed.",
    ["outcome"],
    registry=REGISTRY,
)
STEP_SECONDS: Final = Histogram(
    "clameur_pipeline_step_seconds",
    "Time of one step of the chain over one batch (normalise, dedupe, analyse, match, turn, "
    "lock, authors, prioritise, detect, care, store).",
    ["step"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
BATCH_SECONDS: Final = Histogram(
    "clameur_pipeline_batch_seconds",
    "Time of one batch's transaction, every step and the commit included, by origin "
    "(import, webhook, poll, batch).",
    ["origin"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
ALERTS: Final = Counter(
    "clameur_alerts_raised",
    "Alerts raised (new incidents, not updates), by kind; counted once committed.",
    ["kind"],
    registry=REGISTRY,
)
ALERT_LATENCY: Final = Histogram(
    "clameur_alert_latency_seconds",
    "Wall-clock seconds from the moment the mentions entered (webhook received, poll "
    "answered, import batch read or queued chunk published) to the commit of the batch "
    "that raised the alert (its notifications deliverable from then on). Not event time.",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
DELIVERIES: Final = Counter(
    "clameur_outbox_deliveries",
    "Outbox delivery attempts by this process's relay, by kind and result (sent, retry, "
    "dead, skipped).",
    ["kind", "result"],
    registry=REGISTRY,
)


def exposition(*registries: CollectorRegistry) -> bytes:
    """The Prometheus text format of this process's registry and of ``registries``."""
    return b"".join(generate_latest(r) for r in (REGISTRY, *registries))
