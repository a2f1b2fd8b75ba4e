"""Prometheus metrics: what an import counts, the deployment's gauges read at scrape time
(in a fixed number of statements), and the workers' metrics port with its bearer token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import event, select

from clameur.care.models import Conversation
from clameur.clock import FrozenClock
from clameur.core import enqueue, metrics
from clameur.core.models import OutboxEvent
from clameur.db import session_scope
from clameur.demo import replays
from clameur.pipeline import Pipeline
from clameur.pipeline.metrics import ClusterCollector, cluster_registry, serve_metrics
from tests.conftest import Database, make_tenant
from tests.factories import write_jsonl

AT = datetime(2030, 1, 1, 11, 0, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in registry.collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def care_lines(count: int) -> list[dict[str, Any]]:
    return [
        {
            "source": "email",
            "external_id": f"c-{n}",
            "text": f"volta : ma commande {n} n'est jamais arrivée, remboursez-moi",
            "created_at": (AT + timedelta(minutes=n)).isoformat(),
            "author": {"handle": f"client{n}@example.org"},
        }
        for n in range(count)
    ]


def test_an_import_counts_its_lines_steps_and_the_latency_of_its_alert(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"volta": ["volta"]})
    before = {
        "imported": sample("clameur_mentions_processed_total", outcome="imported"),
        "rejected": sample("clameur_mentions_processed_total", outcome="rejected"),
        "detect": sample("clameur_pipeline_step_seconds_count", step="detect"),
        "normalise": sample("clameur_pipeline_step_seconds_count", step="normalise"),
        "alerts": sample("clameur_alerts_raised_total", kind="influencer"),
        "latency": sample("clameur_alert_latency_seconds_count", kind="influencer"),
        "batches": sample("clameur_pipeline_batch_seconds_count", origin="import"),
    }
    path = write_jsonl(tmp_path / "in.jsonl", [replays.influencer_post(AT), {"text": "no id"}])
    result = pipeline.import_file(path, tenant="acme")
    assert (result.imported, result.rejected) == (1, 1)

    def delta(key: str, name: str, **labels: str) -> float:
        return sample(name, **labels) - before[key]

    assert delta("imported", "clameur_mentions_processed_total", outcome="imported") == 1
    assert delta("rejected", "clameur_mentions_processed_total", outcome="rejected") == 1
    assert delta("detect", "clameur_pipeline_step_seconds_count", step="detect") == 1
    assert delta("normalise", "clameur_pipeline_step_seconds_count", step="normalise") == 1
    assert delta("alerts", "clameur_alerts_raised_total", kind="influencer") == 1
    assert delta("latency", "clameur_alert_latency_seconds_count", kind="influencer") == 1
    assert delta("batches", "clameur_pipeline_batch_seconds_count", origin="import") == 1
    # the same file again: nothing new is raised, nothing more is observed
    pipeline.import_file(path, tenant="acme")
    assert delta("alerts", "clameur_alerts_raised_total", kind="influencer") == 1
    assert delta("latency", "clameur_alert_latency_seconds_count", kind="influencer") == 1


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine, "before_cursor_execute", count)


def _clock(state: str, *, warned: bool = False, breached: bool = False) -> dict[str, Any]:
    iso = AT.isoformat()
    return {
        "target": 3600,
        "state": state,
        "used": 0.0,
        "started_at": iso,
        "running_since": iso if state == "running" else None,
        "warned_at": iso if warned else None,
        "breached_at": iso if breached else None,
    }


def test_the_cluster_gauges_read_outbox_and_sla_in_four_statements(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path, statements: list[str]
) -> None:
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    pipeline.import_file(write_jsonl(tmp_path / "care.jsonl", care_lines(4)), tenant="acme")
    with session_scope(db.factory) as session:
        conversations = list(session.scalars(select(Conversation).order_by(Conversation.id)))
        assert len(conversations) == 4
        states = [
            {"first_response": _clock("running", warned=True)},  # at risk
            {"first_response": _clock("running", warned=True, breached=True)},  # breached
            {"resolution": _clock("stopped", warned=True, breached=True)},  # over: neither
            {"first_response": _clock("running")},  # fine
        ]
        for conversation, clocks in zip(conversations, states, strict=True):
            conversation.sla = {"clocks": clocks}
        session.execute(OutboxEvent.__table__.delete())
        for kind, status in [("alert.email", "pending"), ("alert.email", "pending")] + [
            ("alert.webhook", "dead"),
            ("alert.webhook", "sent"),
        ]:
            enqueue(session, clock, kind, {}, tenant.id).status = status
    clock.advance(timedelta(minutes=7))  # the pending events have been due for 7 minutes
    registry = cluster_registry(ClusterCollector(db.factory, clock=clock))
    statements.clear()
    figures = scrape(registry)
    assert len(statements) == 4, statements
    tid = str(tenant.id)
    assert figures[("clameur_database_up", ())] == 1
    assert figures[("clameur_outbox_events", (("kind", "alert.email"), ("status", "pending")))] == 2
    assert figures[("clameur_outbox_events", (("kind", "alert.webhook"), ("status", "dead")))] == 1
    assert not any("sent" in dict(labels).values() for _name, labels in figures)
    assert figures[("clameur_outbox_oldest_due_age_seconds", ())] == 420
    assert figures[("clameur_sla_conversations", (("state", "at_risk"), ("tenant_id", tid)))] == 1
    assert figures[("clameur_sla_conversations", (("state", "breached"), ("tenant_id", tid)))] == 1


def test_an_unreadable_database_is_a_gauge_at_zero_not_a_failed_scrape(tmp_path: Path) -> None:
    from clameur.db import create_engine_for, make_session_factory

    engine = create_engine_for(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables
    registry = cluster_registry(ClusterCollector(make_session_factory(engine)))
    assert scrape(registry) == {("clameur_database_up", ()): 0.0}
    engine.dispose()


def test_the_workers_metrics_port_needs_its_bearer_token() -> None:
    server = serve_metrics("127.0.0.1", 0, "s3cret-token")
    try:
        url = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{url}/metrics", timeout=5).status_code == 401
        wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=5)
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == "Bearer"
        right = httpx.get(
            f"{url}/metrics", headers={"Authorization": "Bearer s3cret-token"}, timeout=5
        )
        assert right.status_code == 200
        assert right.headers["content-type"].startswith("text/plain")
        assert "clameur_mentions_processed_total" in right.text
        assert "clameur_worker_running" in right.text
        assert "clameur_outbox_events" not in right.text  # the deployment's gauges: serve's
        assert httpx.get(f"{url}/other", timeout=5).status_code == 404
    finally:
        server.stop()
