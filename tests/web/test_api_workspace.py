"""The workspace's API v1 routes: snooze, status reasons, canned replies and /shortcodes,
the reply box's conflicts (409), alert mute, bulk progress, campaign review, the floor."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clameur.care.models import Conversation
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.detection.models import Alert, AlertMention
from clameur.pipeline import Pipeline
from clameur.tenancy import get_tenant
from clameur.tenancy.models import User
from clameur.web import create_app
from tests.conftest import ApiWorld, Database, bearer, make_api_world


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


def _second_conversation(db: Database) -> int:
    """Tenant a's second conversation: in no incident, so its replies need no approval."""
    with session_scope(db.factory) as session:
        tenant = get_tenant(session, "a")
        return (
            session.scalars(
                select(Conversation.id)
                .where(Conversation.tenant_id == tenant.id)
                .order_by(Conversation.id.desc())
            ).first()
            or 0
        )


def _campaign_alert(db: Database) -> int:
    """A campaign alert in tenant a whose member is the second conversation's mention."""
    with session_scope(db.factory) as session:
        tenant = get_tenant(session, "a")
        at = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
        alert = Alert(
            tenant_id=tenant.id,
            kind="campaign",
            severity="high",
            key="campaign:test",
            triggered_at=at,
            updated_at=at,
            status="open",
            summary="Coordinated campaign",
            count=1,
            evidence={"score": 0.8, "why": ["1 one-star reviews"], "signals": {"one_star": 1}},
        )
        session.add(alert)
        session.flush()
        session.add(
            AlertMention(
                tenant_id=tenant.id,
                alert_id=alert.id,
                source="email",
                external_id="a-2",
                author="client2@example.org",
                created_at=at,
                role="tip",
            )
        )
        return alert.id


def test_a_viewer_is_refused_every_agent_and_supervisor_action(
    api: TestClient, world: ApiWorld, db: Database
) -> None:
    alert_id = _campaign_alert(db)
    c, a = world.conversation_id, world.alert_id
    refused: list[tuple[str, str, dict[str, Any] | None, str]] = [
        ("POST", f"/api/v1/conversations/{c}/snooze", {"minutes": 60}, "conversations.act"),
        (
            "POST",
            f"/api/v1/conversations/{c}/status",
            {"status": "open", "reason": "x"},
            "conversations.act",
        ),
        ("GET", "/api/v1/canned-replies", None, "replies.write"),
        (
            "POST",
            "/api/v1/canned-replies",
            {"name": "n", "text": "t", "lang": "en", "personal": True},
            "replies.write",
        ),
        ("POST", f"/api/v1/conversations/{c}/expand", {"text": "/hi"}, "replies.write"),
        (
            "POST",
            f"/api/v1/conversations/{c}/reply-now",
            {"text": "Hi", "seen_reply_id": None},
            "replies.write",
        ),
        ("POST", f"/api/v1/alerts/{a}/mute", {"hours": 2}, "alerts.manage"),
        ("POST", f"/api/v1/alerts/{alert_id}/campaign/confirm", None, "campaigns.review"),
        ("POST", f"/api/v1/alerts/{alert_id}/campaign/reject", None, "campaigns.review"),
    ]
    for method, url, body, action in refused:
        response = api.request(method, url, json=body, headers=as_(world, "viewer"))
        assert response.status_code == 403, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["action"] == action
    for url in (
        f"/api/v1/incidents/{world.incident_id}/progress",
        f"/api/v1/alerts/{alert_id}/campaign",
        f"/api/v1/alerts/{alert_id}/campaign/report.csv",
        "/api/v1/floor",
    ):
        assert api.get(url, headers=as_(world, "viewer")).status_code == 200, url
    for url, body in (
        (f"/api/v1/alerts/{a}/mute", {"hours": 2}),
        (f"/api/v1/alerts/{alert_id}/campaign/confirm", None),
    ):
        agent = api.post(url, json=body, headers=as_(world, "agent"))
        assert agent.status_code == 403, url


def test_snooze_and_status_reasons(
    api: TestClient, world: ApiWorld, app_clock: FrozenClock
) -> None:
    url = f"/api/v1/conversations/{world.conversation_id}"
    snoozed = api.post(
        f"{url}/snooze", json={"minutes": 90, "reason": "courier"}, headers=as_(world, "agent")
    )
    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["status"] == "pending"
    until = api.post(
        f"{url}/snooze",
        json={"until": "2030-01-03T09:00:00+01:00"},
        headers=as_(world, "agent"),
    )
    assert until.status_code == 200
    for body in ({}, {"minutes": 5, "until": "2030-01-03T09:00:00+00:00"}):
        assert api.post(f"{url}/snooze", json=body, headers=as_(world, "agent")).status_code == 422
    naive = api.post(
        f"{url}/snooze", json={"until": "2030-01-03T09:00:00"}, headers=as_(world, "agent")
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["loc"] == ["until"]
    resolved = api.post(
        f"{url}/status",
        json={"status": "resolved", "reason": "refund sent"},
        headers=as_(world, "agent"),
    )
    assert resolved.json()["status"] == "resolved"
    timeline = api.get(url, headers=as_(world, "viewer")).json()["timeline"]
    kinds = [
        (e["kind"], e["data"].get("reason")) for e in timeline if e["kind"] in {"snooze", "status"}
    ]
    assert kinds == [("snooze", "courier"), ("snooze", None), ("status", "refund sent")]


def test_canned_replies_and_shortcodes(api: TestClient, world: ApiWorld, db: Database) -> None:
    mine = api.post(
        "/api/v1/canned-replies",
        json={
            "name": "Mine",
            "text": "Bye {name}!",
            "lang": "fr",
            "shortcode": "bye",
            "personal": True,
        },
        headers=as_(world, "agent"),
    )
    assert mine.status_code == 201, mine.text
    assert (mine.json()["personal"], mine.json()["variables"]) == (True, ["name"])
    team = {"name": "Team", "text": "Merci !", "lang": "fr", "shortcode": "merci", "brand": "acme"}
    refused = api.post("/api/v1/canned-replies", json=team, headers=as_(world, "agent"))
    assert refused.status_code == 403
    assert refused.json()["action"] == "canned.manage"
    made = api.post("/api/v1/canned-replies", json=team, headers=as_(world, "supervisor"))
    assert made.status_code == 201
    assert made.json()["brand"] == "acme"
    again = api.post("/api/v1/canned-replies", json=team, headers=as_(world, "supervisor"))
    assert again.status_code == 409
    listed = api.get("/api/v1/canned-replies", headers=as_(world, "agent")).json()
    assert [(c["name"], c["personal"]) for c in listed] == [("Mine", True), ("Team", False)]
    theirs = api.get("/api/v1/canned-replies", headers=as_(world, "supervisor")).json()
    assert [c["name"] for c in theirs] == ["Team"], "never a colleague's own"
    expanded = api.post(
        f"/api/v1/conversations/{world.conversation_id}/expand",
        json={"text": "/merci /bye /nope"},
        headers=as_(world, "agent"),
    )
    assert expanded.json() == {"text": "Merci ! Bye client1@example.org! /nope"}


def test_reply_now_conflicts_are_409_with_what_collided(
    api: TestClient, world: ApiWorld, db: Database
) -> None:
    conversation_id = _second_conversation(db)
    url = f"/api/v1/conversations/{conversation_id}/reply-now"
    waiting = api.post(
        f"/api/v1/conversations/{world.conversation_id}/reply-now",
        json={"text": "Nous regardons", "seen_reply_id": world.reply_id},
        headers=as_(world, "agent"),
    )
    assert waiting.status_code == 202, "while the brand has an open incident: approval first"
    api.post(f"/api/v1/incidents/{world.incident_id}/close", headers=as_(world, "admin"))
    first = api.post(
        url, json={"text": "Hello", "seen_reply_id": None}, headers=as_(world, "agent")
    )
    assert first.status_code == 201, first.text
    reply_id = first.json()["id"]
    late = api.post(
        url, json={"text": "Hi!", "seen_reply_id": None}, headers=as_(world, "supervisor")
    )
    assert late.status_code == 409
    assert late.headers["content-type"] == "application/problem+json"
    (conflict,) = late.json()["errors"]
    assert conflict["conflict"] == "newer_reply"
    assert (conflict["reply"]["id"], conflict["reply"]["text"]) == (reply_id, "Hello")
    assert conflict["reply"]["author"]["email"] == "agent@a.example"

    with session_scope(db.factory) as session:
        agent = session.scalars(select(User).where(User.email == "agent@a.example")).one()
        session.get_one(Conversation, conversation_id).assignee_id = agent.id
    body = {"text": "Hi!", "seen_reply_id": reply_id}
    asked = api.post(url, json=body, headers=as_(world, "supervisor"))
    assert asked.status_code == 409
    (conflict,) = asked.json()["errors"]
    assert conflict["conflict"] == "confirm"
    assert conflict["assignee"]["email"] == "agent@a.example"
    confirmed = api.post(
        url, json={**body, "confirm_other_assignee": True}, headers=as_(world, "supervisor")
    )
    assert confirmed.status_code == 201, confirmed.text

    missing = api.post(
        f"/api/v1/conversations/{world.conversation_id}/reply-now",
        json={"text": "x", "seen_reply_id": reply_id},
        headers=as_(world, "agent"),
    )
    assert missing.status_code == 404, "the seen reply is another conversation's"


def test_alert_mute(api: TestClient, world: ApiWorld) -> None:
    url = f"/api/v1/alerts/{world.alert_id}"
    muted = api.post(f"{url}/mute", json={"hours": 3}, headers=as_(world, "supervisor"))
    assert muted.status_code == 200, muted.text
    body = muted.json()
    assert body["muted"] is True
    assert body["muted_until"] == "2030-01-02T12:00:00Z"
    assert body["muted_by"] == "supervisor@a.example"
    assert body["incident_id"] == world.incident_id
    for hours in (0, 169):
        bad = api.post(f"{url}/mute", json={"hours": hours}, headers=as_(world, "supervisor"))
        assert bad.status_code == 422
    shown = api.get(url, headers=as_(world, "viewer")).json()
    assert (shown["muted"], shown["incident_id"]) == (True, world.incident_id)


def test_bulk_progress(api: TestClient, world: ApiWorld) -> None:
    progress = api.get(
        f"/api/v1/incidents/{world.incident_id}/progress", headers=as_(world, "viewer")
    )
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert (body["authors"], body["done"], body["totals"]["unanswered"]) == (1, 0, 1)
    assert body["rows"][0]["handle"] == "client1@example.org"


def test_campaign_review(api: TestClient, world: ApiWorld, db: Database) -> None:
    alert_id = _campaign_alert(db)
    conversation_id = _second_conversation(db)
    url = f"/api/v1/alerts/{alert_id}/campaign"
    view = api.get(url, headers=as_(world, "agent"))
    assert view.status_code == 200, view.text
    body = view.json()
    assert (body["total"], body["score"], body["reasons"]) == (1, 0.8, ["1 one-star reviews"])
    (member,) = body["members"]
    assert (member["external_id"], member["conversation_id"]) == ("a-2", conversation_id)
    assert body["alert"]["kind"] == "campaign"
    report = api.get(f"{url}/report.csv", headers=as_(world, "viewer"))
    assert report.headers["content-type"].startswith("text/csv")
    assert "attachment" in report.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(report.text)))
    assert rows[0][:3] == ["platform", "external_id", "url"]
    assert rows[1][:2] == ["email", "a-2"]
    confirmed = api.post(f"{url}/confirm", json={"note": "bots"}, headers=as_(world, "supervisor"))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["conversations"] == [conversation_id]
    again = api.post(f"{url}/reject", headers=as_(world, "supervisor"))
    assert again.status_code == 422
    shown = api.get(f"/api/v1/conversations/{conversation_id}", headers=as_(world, "viewer")).json()
    assert shown["status"] == "closed"
    assert "campaign_confirmed" in shown["flags"]
    spike = api.get(f"/api/v1/alerts/{world.alert_id}/campaign", headers=as_(world, "viewer"))
    assert spike.status_code == 422, "a spike is not a campaign"


def test_floor(api: TestClient, world: ApiWorld) -> None:
    shown = api.get("/api/v1/floor", headers=as_(world, "supervisor"))
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["open"], body["unassigned"], body["incidents_open"]) == (2, 2, 1)
    assert body["alerts_open"]["high"] == 1
    assert body["agents"] == []
    assert body["agents_online"] == 0
