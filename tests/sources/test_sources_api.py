"""``/api/v1/sources``: admins only, secrets never returned, another tenant's sources not
found, adding and disabling audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from clameur.sources import registry
from clameur.tenancy.audit import entries
from clameur.tenancy.service import get_tenant
from clameur.web import create_app
from tests.conftest import ApiWorld, Database, bearer, make_api_world


@pytest.fixture
def world(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> ApiWorld:
    return make_api_world(db, pipeline, clock, tmp_path / "a.jsonl")


@pytest.fixture
def client(db: Database, world: ApiWorld) -> TestClient:
    return TestClient(create_app(Settings(database_url=db.url)), base_url="http://127.0.0.1")


def test_an_admin_adds_lists_and_disables_sources(
    db: Database, client: TestClient, world: ApiWorld
) -> None:
    admin = bearer(world.tokens["admin"])
    made = client.post(
        "/api/v1/sources",
        headers=admin,
        json={
            "kind": "rss",
            "url": "https://news.example/rss",
            "source": "news",
            "options": {"lang": "fr"},
            "interval_seconds": 300,
        },
    )
    assert made.status_code == 201, made.text
    feed = made.json()
    assert (feed["name"], feed["source"], feed["options"]["lang"]) == ("news.example", "news", "fr")
    assert feed["health"]["consecutive_failures"] == 0
    assert "generated_secrets" not in feed

    hook = client.post("/api/v1/sources", headers=admin, json={"kind": "webhook", "name": "crm"})
    assert hook.status_code == 201, hook.text
    secret = hook.json()["generated_secrets"]["secret"]
    assert hook.json()["secrets"] == {"secret": "set"}
    shown = client.get(f"/api/v1/sources/{hook.json()['id']}", headers=admin)
    assert shown.status_code == 200
    assert secret not in shown.text, "a secret is returned once, at creation"
    listed = client.get("/api/v1/sources", headers=admin)
    assert secret not in listed.text
    names = [s["name"] for s in listed.json()["items"]]
    assert names == ["blog.example", "news.example", "crm"]

    off = client.post(f"/api/v1/sources/{feed['id']}/disable", headers=admin)
    assert off.status_code == 200
    assert off.json()["enabled"] is False
    on = client.post(f"/api/v1/sources/{feed['id']}/enable", headers=admin)
    assert on.json()["enabled"] is True
    with session_scope(db.factory) as session:
        log = entries(session, get_tenant(session, "a").id)
    mine = [
        (e["action"], e["object_id"])
        for e in log
        if e["action"].startswith("source.") and e["actor"] == "admin@a.example"
    ]
    assert mine == [
        ("source.add", feed["id"]),
        ("source.add", hook.json()["id"]),
        ("source.disable", feed["id"]),
        ("source.enable", feed["id"]),
    ], log


def test_bad_sources_are_refused_clearly(
    client: TestClient, world: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(registry.FAKE_ENV)  # as on a server
    registry.reload()
    admin = bearer(world.tokens["admin"])
    unknown = client.post("/api/v1/sources", headers=admin, json={"kind": "gopher"})
    assert unknown.status_code == 422
    assert "rss" in unknown.json()["detail"]
    bad_option = client.post(
        "/api/v1/sources",
        headers=admin,
        json={"kind": "rss", "url": "https://x.example/f", "options": {"colour": "red"}},
    )
    assert bad_option.status_code == 422
    assert "colour" in bad_option.json()["detail"]
    twice = client.post(
        "/api/v1/sources",
        headers=admin,
        json={"kind": "rss", "url": "https://blog.example/other"},
    )
    assert twice.status_code == 201, "a taken default name gets a suffix"
    assert twice.json()["name"] == "blog.example-2"
    clash = client.post(
        "/api/v1/sources",
        headers=admin,
        json={"kind": "rss", "url": "https://y.example/f", "name": "blog.example"},
    )
    assert clash.status_code == 409
    fake = client.post("/api/v1/sources", headers=admin, json={"kind": "fake"})
    assert fake.status_code == 422, "the fake connector is never offered by the server"


def test_only_admins_and_only_their_tenant(client: TestClient, world: ApiWorld) -> None:
    for role in ("supervisor", "agent", "viewer"):
        refused = client.get("/api/v1/sources", headers=bearer(world.tokens[role]))
        assert refused.status_code == 403, role
    other = bearer(world.other_admin)
    assert client.get("/api/v1/sources", headers=other).json()["items"] == []
    theirs = client.get(f"/api/v1/sources/{world.source_id}", headers=other)
    assert theirs.status_code == 404
    assert (
        client.post(f"/api/v1/sources/{world.source_id}/disable", headers=other).status_code == 404
    )
