"""Liveness, readiness per dependency (real SQLite/PostgreSQL and Redis, and a Redis that is
down: a closed loopback port) and ``/metrics``: who may read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import enqueue
from clameur.db import session_scope
from clameur.tenancy.models import User
from clameur.web import create_app
from tests.conftest import Database, bearer, make_api_user, make_tenant, redis_or_skip
from tests.smtp import free_port
from tests.web.pages import BASE

TOKEN = "metrics-token-0123456789"


def client_for(url: str, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(database_url=url, **settings)), base_url=BASE)  # type: ignore[arg-type]


def closed_port() -> int:
    return free_port()  # bound then released: nothing listens there


def test_health_says_only_that_the_process_answers(tmp_path: Path) -> None:
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/none"
    client = client_for(unreachable)
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    ready = client.get("/api/v1/ready")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == {"ok": False, "detail": "unreachable"}
    assert "127.0.0.1" not in ready.text  # no host, no driver message


def test_ready_checks_each_dependency(db: Database) -> None:
    answer = client_for(db.url).get("/api/v1/ready")
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["status"] == "ready"
    assert set(document["checks"]) == {"database", "migrations", "outbox_relay"}  # no bus
    assert all(check["ok"] for check in document["checks"].values())
    worker = document["worker"]
    assert worker["running"] is False, "no worker loop runs in this process"
    # STATUS is the process's: loops other tests ran in this process may be listed
    assert all(set(loop) == {"last_run", "runs", "failing"} for loop in worker["loops"].values())


def test_ready_fails_on_a_database_not_migrated(tmp_path: Path) -> None:
    answer = client_for(f"sqlite:///{tmp_path / 'fresh.db'}").get("/api/v1/ready")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["migrations"]["ok"] is False
    assert "clameur init" in checks["migrations"]["detail"]


def test_ready_fails_when_no_relay_delivers(db: Database) -> None:
    now = datetime.now(UTC)
    with session_scope(db.factory) as session:
        enqueue(session, FrozenClock(now - timedelta(minutes=2)), "alert.email", {}, None)
    client = client_for(db.url, ready_relay_stale_seconds=300)
    assert client.get("/api/v1/ready").status_code == 200  # due for 2 minutes: fine
    with session_scope(db.factory) as session:
        enqueue(session, FrozenClock(now - timedelta(minutes=10)), "alert.email", {}, None)
    answer = client.get("/api/v1/ready")
    assert answer.status_code == 503
    relay = answer.json()["checks"]["outbox_relay"]
    assert relay["ok"] is False
    assert "waited 6" in relay["detail"]  # ~600 s


def test_ready_with_a_redis_bus_that_answers(db: Database) -> None:
    url = redis_or_skip()
    answer = client_for(db.url, bus_url=url).get("/api/v1/ready")
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"]["bus"] == {"ok": True, "detail": None}


def test_ready_names_a_redis_bus_that_is_down(db: Database) -> None:
    client = client_for(db.url, bus_url=f"redis://127.0.0.1:{closed_port()}/0")
    answer = client.get("/api/v1/ready")
    assert answer.status_code == 503
    document = answer.json()
    assert document["status"] == "unready"
    assert document["checks"]["bus"] == {"ok": False, "detail": "unreachable"}
    assert document["checks"]["database"]["ok"] is True


def _operator_token(db: Database, clock: FrozenClock) -> str:
    token = make_api_user(db, clock, "acme", "ops@bpo.example", "admin")
    with session_scope(db.factory) as session:
        session.execute(update(User).where(User.email == "ops@bpo.example").values(operator=True))
    return token


def test_metrics_are_for_an_operator_or_the_metrics_token(db: Database, clock: FrozenClock) -> None:
    make_tenant(db, clock, "acme", {"volta": ["volta"]})
    admin = make_api_user(db, clock, "acme", "admin@acme.example", "admin")
    operator = _operator_token(db, clock)
    client = client_for(db.url, metrics_token=TOKEN)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer("wrong")).status_code == 401
    refused = client.get("/metrics", headers=bearer(admin))  # a tenant's admin: every tenant's
    assert refused.status_code == 403
    assert refused.json()["action"] == "metrics.read"
    for token in (operator, TOKEN):
        answer = client.get("/metrics", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        assert "clameur_database_up 1.0" in answer.text
        assert "clameur_mentions_processed_total" in answer.text
        assert "clameur_loop_runs_total" in answer.text or "clameur_worker_running" in answer.text
        assert "clameur_bus_up" not in answer.text  # the in-memory bus: nothing to watch
    assert "/metrics" not in client.get("/api/v1/openapi.json").json()["paths"]


def test_without_a_metrics_token_only_an_operator_reads_them(
    db: Database, clock: FrozenClock
) -> None:
    make_tenant(db, clock, "acme", {"volta": ["volta"]})
    operator = _operator_token(db, clock)
    client = client_for(db.url)  # CLAMEUR_METRICS_TOKEN empty: no token matches it
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/metrics", headers=bearer(operator)).status_code == 200


def test_metrics_show_the_redis_bus_or_that_it_is_down(db: Database) -> None:
    url = redis_or_skip()
    up = client_for(db.url, bus_url=url, bus_prefix=f"t{free_port()}:", metrics_token=TOKEN)
    text = up.get("/metrics", headers=bearer(TOKEN)).text
    assert "clameur_bus_up 1.0" in text
    assert 'clameur_bus_backlog_entries{stream="ingest"} 0.0' in text
    assert 'clameur_bus_dead_letters_entries{stream="ingest"} 0.0' in text
    down = client_for(db.url, bus_url=f"redis://127.0.0.1:{closed_port()}/0", metrics_token=TOKEN)
    answer = down.get("/metrics", headers=bearer(TOKEN))
    assert answer.status_code == 200  # the scrape reports the outage
    assert "clameur_bus_up 0.0" in answer.text
    assert "clameur_database_up 1.0" in answer.text
