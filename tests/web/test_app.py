from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.pipeline import Pipeline
from clameur.web import create_app
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl
from tests.web.pages import BASE, make_user, signed_in


def _client(db: Database) -> TestClient:
    return TestClient(create_app(Settings(database_url=db.url)), base_url=BASE)


def test_openapi_and_health(db: Database) -> None:
    client = _client(db)
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/health" in spec.json()["paths"]
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    ready = client.get("/api/v1/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["migrations"] == {"ok": True, "detail": None}


def test_the_page_lists_the_latest_mentions_escaped(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    make_tenant(db, clock, "other", {"o": ["other"]})
    hostile = '<script>alert("x")</script> acme <img src=x onerror=alert(1)>'
    lines = [
        record("1", "acme older", created_at="2026-11-16T08:00:00Z"),
        record(
            "2",
            hostile,
            created_at="2026-11-16T09:00:00Z",
            url="javascript:alert(1)",
            author={"handle": "<b>h</b>"},
        ),
        record("3", "other tenant secret", created_at="2026-11-16T10:00:00Z"),
    ]
    pipeline.import_file(write_jsonl(tmp_path / "f.jsonl", lines))
    make_user(db, clock, "agent@acme.example", {"acme": "agent"})
    client = signed_in(db, "agent@acme.example")

    home = client.get("/dashboard")
    assert "Acme" in home.text
    page = client.get("/t/acme")
    assert page.status_code == 200
    body = page.text
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body
    assert "<b>h</b>" not in body
    assert "javascript:" not in body, "only http(s) links are rendered"
    assert "other tenant secret" not in body
    assert body.index('data-external-id="2"') < body.index('data-external-id="1"'), "newest first"
    assert client.get("/t/ghost").status_code == 404


def test_the_page_shows_the_tenants_alerts_escaped(db: Database, clock: FrozenClock) -> None:
    from datetime import UTC, datetime

    from clameur.db import session_scope
    from clameur.detection.models import Alert

    acme = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    other = make_tenant(db, clock, "other", {"o": ["other"]})
    at = datetime(2026, 11, 16, 9, tzinfo=UTC)
    with session_scope(db.factory) as session:
        for tenant, summary in (
            (acme, "<script>x</script> 47 negative mentions"),
            (other, "the other tenant's alert"),
        ):
            session.add(
                Alert(
                    tenant_id=tenant.id,
                    kind="negative_spike",
                    severity="high",
                    key="spike:0",
                    triggered_at=at,
                    updated_at=at,
                    status="open",
                    summary=summary,
                    count=47,
                    evidence={},
                )
            )
    make_user(db, clock, "viewer@acme.example", {"acme": "viewer"})
    body = signed_in(db, "viewer@acme.example").get("/t/acme").text
    assert 'data-kind="negative_spike"' in body
    assert "Pic négatif" in body, "the kind, in French"
    assert "&lt;script&gt;x&lt;/script&gt; 47 negative mentions" in body
    assert "<script>x" not in body
    assert "the other tenant" not in body
