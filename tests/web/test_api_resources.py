"""The REST v1 resources, one behaviour at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clameur.care.inbox import conversations_list
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from clameur.tenancy import get_tenant
from clameur.tenancy.audit import entries
from clameur.tenancy.models import ApiToken, Tenant
from clameur.web import create_app
from tests.conftest import ApiWorld, Database, bearer, make_api_user, make_api_world


@pytest.fixture
def world(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> ApiWorld:
    return make_api_world(db, pipeline, clock, tmp_path / "a.jsonl")


@pytest.fixture
def app_clock() -> FrozenClock:
    return FrozenClock(datetime(2030, 1, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def api(db: Database, world: ApiWorld, app_clock: FrozenClock) -> TestClient:
    app = create_app(Settings(database_url=db.url))
    app.state.clock = app_clock
    return TestClient(app, base_url="http://127.0.0.1")


def as_(world: ApiWorld, role: str) -> dict[str, str]:
    return bearer(world.tokens[role])


def audit_log(db: Database, action: str) -> list[dict[str, Any]]:
    with session_scope(db.factory) as session:
        return entries(session, get_tenant(session, "a").id, action=action)


def test_me(api: TestClient, world: ApiWorld) -> None:
    body = api.get("/api/v1/me", headers=as_(world, "agent")).json()
    assert body == {
        "user": {"email": "agent@a.example", "name": "agent"},
        "tenant": {"slug": "a", "name": "A"},
        "role": "agent",
        "operator": False,
        "via": "token",
    }


def test_conversation_list_is_the_cli_listing_in_keyset_pages(
    api: TestClient, world: ApiWorld, db: Database
) -> None:
    with session_scope(db.factory) as session:
        cli = conversations_list(session, get_tenant(session, "a").id)
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = api.get("/api/v1/conversations", params=params, headers=as_(world, "viewer"))
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 1
        seen += body["items"]
        if body["next"] is None:
            break
        params["cursor"] = body["next"]
    assert len(seen) == len(cli) == 2
    assert sorted(seen, key=lambda i: i["id"]) == cli
    whole = api.get("/api/v1/conversations", headers=as_(world, "viewer")).json()
    assert whole["items"] == seen
    assert whole["next"] is None

    bad = api.get("/api/v1/conversations", params={"cursor": "nope"}, headers=as_(world, "agent"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["cursor"]
    level = api.get("/api/v1/conversations", params={"priority": "P9"}, headers=as_(world, "agent"))
    assert level.status_code == 422
    assert (
        api.get(
            "/api/v1/conversations", params={"brand": "ghost"}, headers=as_(world, "agent")
        ).status_code
        == 404
    )


def test_agent_actions_and_the_filters_that_see_them(
    api: TestClient, world: ApiWorld, db: Database
) -> None:
    cid, agent = world.conversation_id, as_(world, "agent")
    url = f"/api/v1/conversations/{cid}"
    assigned = api.post(f"{url}/assign", json={"user": "me"}, headers=agent)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee"] == "agent@a.example"
    mine = api.get("/api/v1/conversations", params={"assignee": "me"}, headers=agent).json()
    assert [i["id"] for i in mine["items"]] == [cid]
    tagged = api.post(f"{url}/tags", json={"add": ["refund", "vip"]}, headers=agent).json()
    assert tagged["tags"] == ["refund", "vip"]
    api.post(f"{url}/tags", json={"remove": ["vip"]}, headers=agent)
    by_tag = api.get("/api/v1/conversations", params={"tag": "refund"}, headers=agent).json()
    assert [i["id"] for i in by_tag["items"]] == [cid]
    assert (
        api.get("/api/v1/conversations", params={"tag": "vip"}, headers=agent).json()["items"] == []
    )
    note = api.post(f"{url}/notes", json={"text": "checking with logistics"}, headers=agent)
    assert note.status_code == 201
    assert note.json()["kind"] == "note"
    assert note.json()["actor"] == "agent@a.example"
    status = api.post(f"{url}/status", json={"status": "pending"}, headers=agent)
    assert status.json()["status"] == "pending"
    pending = api.get("/api/v1/conversations", params={"status": "pending"}, headers=agent)
    assert [i["id"] for i in pending.json()["items"]] == [cid]
    wrong = api.post(f"{url}/status", json={"status": "frozen"}, headers=agent)
    assert wrong.status_code == 422
    nobody = api.post(f"{url}/assign", json={"user": "ghost@a.example"}, headers=agent)
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["loc"] == ["user"]
    released = api.post(f"{url}/assign", json={"user": None}, headers=agent).json()
    assert released["assignee"] is None

    detail = api.get(url, headers=as_(world, "viewer")).json()
    kinds = [e["kind"] for e in detail["timeline"]]
    for kind in ("assign", "tag", "note", "status"):
        assert kind in kinds
    assert detail["tags"] == ["refund"]
    assert detail["brand"] == "acme"
    # care actions through a token say so in the audit log
    (noted,) = audit_log(db, "conversation.note")
    assert noted["data"]["via"] == "token"
    assert noted["data"]["token"] == f"clm_{world.token_prefix}"


def test_replies_wait_for_approval_in_an_incident_then_go(
    api: TestClient, world: ApiWorld, db: Database
) -> None:
    cid, agent = world.conversation_id, as_(world, "agent")
    waiting = api.post(
        f"/api/v1/conversations/{cid}/replies", json={"text": "Nous regardons."}, headers=agent
    )
    assert waiting.status_code == 202, waiting.text
    message = waiting.json()
    assert (message["direction"], message["status"]) == ("out", "pending_approval")
    assert message["author"] == "agent@a.example"

    refused = api.post(f"/api/v1/replies/{message['id']}/approve", headers=agent)
    assert refused.status_code == 403
    approved = api.post(f"/api/v1/replies/{message['id']}/approve", headers=as_(world, "viewer"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "queued"
    again = api.post(f"/api/v1/replies/{message['id']}/approve", headers=as_(world, "viewer"))
    assert again.status_code == 422
    rejected = api.post(
        f"/api/v1/replies/{world.reply_id}/reject",
        json={"reason": "tone"},
        headers=as_(world, "supervisor"),
    )
    assert rejected.json()["status"] == "rejected"

    closed = api.post(
        f"/api/v1/incidents/{world.incident_id}/close", headers=as_(world, "supervisor")
    )
    assert closed.json()["status"] == "closed"
    with session_scope(db.factory) as session:
        tenant = session.get(Tenant, get_tenant(session, "a").id)
        assert tenant is not None
        tenant.settings = {"care": {"approval": {"p1": False, "incident": False}}}
    sent = api.post(
        f"/api/v1/conversations/{cid}/replies",
        json={"text": "C'est reparti.", "public": False},
        headers=agent,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "queued"
    empty = api.post(f"/api/v1/conversations/{cid}/replies", json={"text": " "}, headers=agent)
    assert empty.status_code == 422

    messages = api.get(f"/api/v1/conversations/{cid}", headers=agent).json()["messages"]
    assert [m["direction"] for m in messages] == ["in", "out", "out"]
    assert [m["status"] for m in messages[1:]] == ["queued", "queued"]
    assert messages[0]["author"] == "client1@example.org"
    stamps = [m["created_at"] for m in messages]
    assert stamps == sorted(stamps)


def test_alerts_acknowledge_and_resolve(api: TestClient, world: ApiWorld, db: Database) -> None:
    page = api.get("/api/v1/alerts", headers=as_(world, "viewer")).json()
    (alert,) = page["items"]
    assert alert["id"] == world.alert_id
    assert alert["evidence"]["mentions"] == ["a-1"]
    assert alert["evidence"]["peak"] == 9
    assert alert["acknowledged_at"] is None
    assert alert["status"] == "open"
    url = f"/api/v1/alerts/{world.alert_id}"
    assert api.post(f"{url}/acknowledge", headers=as_(world, "agent")).status_code == 403
    acked = api.post(f"{url}/acknowledge", headers=as_(world, "supervisor")).json()
    assert acked["acknowledged_by"] == "supervisor@a.example"
    assert acked["status"] == "open"
    assert "triage" not in acked["evidence"]
    resolved = api.post(
        f"{url}/resolve", json={"note": "carrier fixed"}, headers=as_(world, "supervisor")
    ).json()
    assert (resolved["status"], resolved["resolution_note"]) == ("resolved", "carrier fixed")
    assert resolved["acknowledged_at"] == acked["acknowledged_at"]
    open_ones = api.get("/api/v1/alerts", params={"status": "open"}, headers=as_(world, "viewer"))
    assert open_ones.json()["items"] == []
    bad = api.get("/api/v1/alerts", params={"severity": "huge"}, headers=as_(world, "viewer"))
    assert bad.status_code == 422
    (ack,) = audit_log(db, "alert.acknowledge")
    assert ack["actor"] == "supervisor@a.example"
    assert ack["data"]["via"] == "token"
    assert len(ack["data"]["token"]) == len("clm_") + 8


def test_incidents(api: TestClient, world: ApiWorld) -> None:
    body = api.get("/api/v1/incidents", headers=as_(world, "viewer")).json()
    (incident,) = body["items"]
    assert incident["conversations"] == 1
    assert incident["alert"] == world.alert_id
    assert (
        api.post(
            f"/api/v1/incidents/{world.incident_id}/close", headers=as_(world, "agent")
        ).status_code
        == 403
    )
    api.post(f"/api/v1/incidents/{world.incident_id}/close", headers=as_(world, "admin"))
    again = api.post(f"/api/v1/incidents/{world.incident_id}/close", headers=as_(world, "admin"))
    assert again.status_code == 422
    assert (
        api.get(
            "/api/v1/incidents", params={"status": "open"}, headers=as_(world, "viewer")
        ).json()["items"]
        == []
    )


def test_brands_crud_and_query_validation(api: TestClient, world: ApiWorld, db: Database) -> None:
    admin = as_(world, "admin")
    made = api.post(
        "/api/v1/brands",
        json={"slug": "volta", "name": "Volta", "queries": ["volta"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert api.post("/api/v1/brands", json={"slug": "volta"}, headers=admin).status_code == 409
    bad = api.post(
        "/api/v1/brands",
        json={"slug": "nova", "queries": ["nova", "nova (panne OR"]},
        headers=admin,
    )
    assert bad.status_code == 422
    (error,) = bad.json()["errors"]
    assert error["loc"] == ["body", "queries", 1]
    assert error["column"] == 15
    assert "query 2" in bad.json()["detail"]
    assert api.get("/api/v1/brands/nova", headers=admin).status_code == 404
    slug = api.post("/api/v1/brands", json={"slug": "Bad Slug"}, headers=admin)
    assert slug.status_code == 422

    patched = api.patch(
        "/api/v1/brands/volta", json={"queries": ["volta OR voltaic"]}, headers=admin
    ).json()
    assert patched["queries"] == ["volta OR voltaic"]
    assert patched["name"] == "Volta"
    unchanged = api.patch("/api/v1/brands/volta", json={"queries": ["("]}, headers=admin)
    assert unchanged.status_code == 422
    assert api.get("/api/v1/brands/volta", headers=admin).json()["queries"] == ["volta OR voltaic"]
    slugs = [
        b["slug"] for b in api.get("/api/v1/brands", headers=as_(world, "viewer")).json()["items"]
    ]
    assert slugs == ["acme", "volta"]
    assert api.delete("/api/v1/brands/volta", headers=as_(world, "supervisor")).status_code == 403
    assert api.delete("/api/v1/brands/volta", headers=admin).status_code == 204
    assert api.get("/api/v1/brands/volta", headers=admin).status_code == 404
    assert [e["action"] for e in audit_log(db, "brand.")] == [
        "brand.add",
        "brand.update",
        "brand.delete",
    ]


def test_alert_rules(api: TestClient, world: ApiWorld) -> None:
    sup = as_(world, "supervisor")
    tenant = api.put(
        "/api/v1/alert-rules", json={"settings": {"min_count": 12}}, headers=sup
    ).json()
    assert tenant["overrides"] == {"min_count": 12}
    brand = api.put(
        "/api/v1/brands/acme/alert-rules", json={"settings": {"quiet_hours": [22, 7]}}, headers=sup
    ).json()
    assert brand["effective"]["min_count"] == 12, "a brand inherits the tenant's rule"
    assert brand["effective"]["quiet_hours"] == [22, 7]
    shown = api.get("/api/v1/brands/acme/alert-rules", headers=sup).json()
    assert shown["overrides"] == {"quiet_hours": [22, 7]}
    replaced = api.put("/api/v1/alert-rules", json={"settings": {}}, headers=sup).json()
    assert replaced["overrides"] == {}
    assert replaced["effective"]["min_count"] == 8
    unknown = api.put("/api/v1/alert-rules", json={"settings": {"loudness": 3}}, headers=sup)
    assert unknown.status_code == 422
    assert "loudness" in unknown.json()["detail"]
    assert api.get("/api/v1/alert-rules", headers=as_(world, "agent")).status_code == 403


def test_users(api: TestClient, world: ApiWorld, db: Database) -> None:
    admin = as_(world, "admin")
    weak = api.post(
        "/api/v1/users",
        json={"email": "new@a.example", "role": "agent", "password": "password"},
        headers=admin,
    )
    assert weak.status_code == 422
    made = api.post(
        "/api/v1/users",
        json={
            "email": "New@A.example",
            "role": "agent",
            "name": "Nina",
            "password": "correct horse battery staple",
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert made.json() == {
        "email": "new@a.example",
        "name": "Nina",
        "role": "agent",
        "active": True,
    }
    twice = api.post(
        "/api/v1/users", json={"email": "new@a.example", "role": "agent"}, headers=admin
    )
    assert twice.status_code == 409
    role = api.post("/api/v1/users", json={"email": "x@a.example", "role": "boss"}, headers=admin)
    assert role.status_code == 422
    assert (
        api.patch("/api/v1/users/new@a.example", json={"role": "supervisor"}, headers=admin).json()[
            "role"
        ]
        == "supervisor"
    )
    emails = [u["email"] for u in api.get("/api/v1/users", headers=admin).json()["items"]]
    assert "new@a.example" in emails
    assert "admin@b.example" not in emails
    last = api.patch("/api/v1/users/admin@a.example", json={"role": "agent"}, headers=admin)
    assert last.status_code == 422, "the tenant keeps an admin"
    assert api.delete("/api/v1/users/new@a.example", headers=admin).status_code == 204
    assert api.get("/api/v1/users/new@a.example", headers=admin).status_code == 404
    assert [e["action"] for e in audit_log(db, "user.")] == [
        "user.grant",
        "user.grant",
        "user.revoke",
    ]


def test_tokens(api: TestClient, world: ApiWorld, db: Database, app_clock: FrozenClock) -> None:
    agent = as_(world, "agent")
    made = api.post("/api/v1/tokens", json={"name": "ci", "expires_days": 1}, headers=agent)
    assert made.status_code == 201, made.text
    new = made.json()
    assert new["token"].startswith(f"clm_{new['prefix']}_")
    assert new["user"] == "agent@a.example"
    assert new["last_used_at"] is None
    listed = api.get("/api/v1/tokens", headers=agent).json()["items"]
    assert {t["prefix"] for t in listed} == {world.token_prefix, new["prefix"]}
    assert all("token" not in t for t in listed), "the secret is shown once"
    everyone = api.get("/api/v1/tokens", headers=as_(world, "admin")).json()["items"]
    assert len(everyone) == 5

    assert api.get("/api/v1/me", headers=bearer(new["token"])).status_code == 200
    shown = api.get(f"/api/v1/tokens/{new['prefix']}", headers=agent).json()
    assert shown["last_used_at"] is not None, "use is recorded"
    admins_token = world.tokens["admin"].split("_")[1]
    assert api.delete(f"/api/v1/tokens/{admins_token}", headers=agent).status_code == 404

    app_clock.advance(timedelta(days=2))
    expired = api.get("/api/v1/me", headers=bearer(new["token"]))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert api.delete(f"/api/v1/tokens/{world.token_prefix}", headers=agent).status_code == 204
    revoked = api.get("/api/v1/me", headers=agent)
    assert revoked.status_code == 401
    assert revoked.headers["content-type"] == "application/problem+json"

    (created,) = [e for e in audit_log(db, "token.create") if e["data"]["name"] == "ci"]
    assert created["data"]["via"] == "token"
    assert created["data"]["token"] == f"clm_{world.token_prefix}"
    (gone,) = audit_log(db, "token.revoke")
    assert gone["data"]["via"] == "token"


def test_a_removed_member_s_token_stops_working(
    api: TestClient, world: ApiWorld, db: Database, clock: FrozenClock
) -> None:
    token = make_api_user(db, clock, "a", "temp@a.example", "agent")
    assert api.get("/api/v1/me", headers=bearer(token)).status_code == 200
    api.delete("/api/v1/users/temp@a.example", headers=as_(world, "admin"))
    assert api.get("/api/v1/me", headers=bearer(token)).status_code == 401
    with session_scope(db.factory) as session:
        assert session.query(ApiToken).count() == 6


def test_docs_are_served_offline(api: TestClient) -> None:
    page = api.get("/api/v1/docs")
    assert page.status_code == 200
    assert "<script>" not in page.text.replace("<script src=", ""), "no inline script"
    assert "http" not in page.text.split("<body>")[1], "no CDN"
    assert api.get("/api/v1/docs/static/swagger-ui-bundle.js").status_code == 200
    assert api.get("/api/v1/docs/static/index.html").status_code == 404
    init = api.get("/static/swagger-init.js")
    assert init.status_code == 200
    assert "SwaggerUIBundle" in init.text
    assert api.get("/api/v1/openapi.json").status_code == 200
