"""The approvals view over HTTP: each reply waiting for approval with its context (the
customer's message, the draft, its writer, why it waits); approve (supervisors, admins and
the client's viewers) and reject with a reason; agents see the list but no button (403);
incidents' holding answers waiting for a supervisor; CSRF; another client's reply (404)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clameur.care.incidents import set_holding_answer
from clameur.care.models import ConversationEvent, Incident, Reply
from clameur.clock import FrozenClock
from clameur.db import session_scope
from tests.conftest import Database
from tests.factories import acting
from tests.web.pages import csrf_of, signed_in
from tests.web.ui.alerts_world import Crisis, build_crisis

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def crisis(db: Database) -> Crisis:
    return build_crisis(db, NOW)


def client(db: Database, crisis: Crisis, role: str) -> TestClient:
    return signed_in(db, crisis.email(role), FrozenClock(NOW))


def reply_of(db: Database, reply_id: int) -> Reply:
    with session_scope(db.factory) as session:
        found = session.get(Reply, reply_id)
        assert found is not None
        return found


def test_each_waiting_reply_comes_with_its_context(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "supervisor").get("/approvals")
    assert page.status_code == 200
    html = unescape(page.text)
    assert f'id="approval-{crisis.reply_id}"' in page.text
    assert "Mon compteur affiche une erreur E42" in html, "the customer's message"
    assert "@marc_l" in html
    assert "Bonjour Marc, un technicien vous rappelle avant midi." in html, "the draft"
    assert "Rédigée par Amélie Agent" in html, "who wrote it"
    assert "un incident est en cours" in html, "why it waits"
    assert f'action="/approvals/{crisis.reply_id}/approve"' in page.text
    assert f'action="/approvals/{crisis.reply_id}/reject"' in page.text
    assert 'hx-trigger="sse:approvals delay:500ms"' in page.text
    assert "Bonjour, nous regardons." not in html, "not another client's reply"


def test_a_supervisor_approves_and_the_reply_leaves(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "supervisor")
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_of(page.get("/approvals").text)}
    answer = page.post(f"/approvals/{crisis.reply_id}/approve", headers=headers)
    assert answer.status_code == 200
    assert "<html" not in answer.text
    assert "Réponse validée" in json.loads(answer.headers["HX-Trigger"])["toast"]
    reply = reply_of(db, crisis.reply_id)
    assert (reply.status, reply.approved_by) == ("queued", crisis.users["supervisor"])
    after = unescape(page.get("/approvals").text)
    assert f'id="approval-{crisis.reply_id}"' not in after
    assert "Rien n'attend de validation." in after
    again = page.post(f"/approvals/{crisis.reply_id}/approve", headers=headers)
    assert again.status_code == 422, "approved once"


def test_the_clients_viewer_approves_too(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "viewer")
    token = csrf_of(page.get("/approvals").text)
    answer = page.post(
        f"/approvals/{crisis.reply_id}/approve", data={"csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/approvals"
    assert reply_of(db, crisis.reply_id).approved_by == crisis.users["viewer"]


def test_an_agent_sees_the_list_without_buttons_and_is_refused(
    db: Database, crisis: Crisis
) -> None:
    page = client(db, crisis, "agent")
    view = page.get("/approvals")
    assert view.status_code == 200
    assert f'id="approval-{crisis.reply_id}"' in view.text
    assert "/approve" not in view.text
    assert "/reject" not in view.text
    token = csrf_of(view.text)
    assert (
        page.post(f"/approvals/{crisis.reply_id}/approve", data={"csrf_token": token}).status_code
        == 403
    )
    refused = page.post(
        f"/approvals/{crisis.reply_id}/reject", data={"reason": "non", "csrf_token": token}
    )
    assert refused.status_code == 403
    assert reply_of(db, crisis.reply_id).status == "pending_approval"


def test_a_rejection_needs_its_reason(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "supervisor")
    token = csrf_of(page.get("/approvals").text)
    path = f"/approvals/{crisis.reply_id}/reject"
    plain = page.post(path, data={"reason": " ", "csrf_token": token})
    assert plain.status_code == 422
    assert 'class="error-summary"' in plain.text
    assert f'href="#reason-{crisis.reply_id}"' in plain.text
    assert "Dites pourquoi vous renvoyez cette réponse" in unescape(plain.text)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    inline = page.post(path, data={"reason": ""}, headers=headers)
    assert inline.status_code == 200
    assert "field-error" in inline.text
    assert "<html" not in inline.text
    assert reply_of(db, crisis.reply_id).status == "pending_approval"
    done = page.post(path, data={"reason": "Pas de promesse d'horaire"}, headers=headers)
    assert done.status_code == 200
    assert reply_of(db, crisis.reply_id).status == "rejected"
    with session_scope(db.factory) as session:
        event = session.scalars(
            select(ConversationEvent)
            .where(ConversationEvent.kind == "reply_rejected")
            .order_by(ConversationEvent.id.desc())
        ).first()
        assert event is not None
        assert event.data["reason"] == "Pas de promesse d'horaire"


def test_holding_answers_wait_here_for_supervisors(db: Database, crisis: Crisis) -> None:
    text = "Bonjour {name}, nous réparons la panne."
    with session_scope(db.factory) as session:
        agent = acting(session, crisis.users["agent"], crisis.tenant_id)
        set_holding_answer(session, FrozenClock(NOW), agent, crisis.incident_id, text)
    supervisor = client(db, crisis, "supervisor")
    page = supervisor.get("/approvals").text
    assert "Réponses d'attente des incidents" in unescape(page)
    assert "Bonjour {name}, nous réparons la panne." in unescape(page)
    assert "Réponses d'attente des incidents" not in unescape(
        client(db, crisis, "viewer").get("/approvals").text
    ), "a viewer does not approve holding answers"
    answer = supervisor.post(
        f"/incidents/{crisis.incident_id}/holding",
        data={
            "text": text,
            "decision": "approve",
            "next": "/approvals",
            "csrf_token": csrf_of(page),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/approvals"
    with session_scope(db.factory) as session:
        incident = session.get(Incident, crisis.incident_id)
        assert incident is not None
        assert incident.approved_by == crisis.users["supervisor"]
    assert "Réponses d'attente des incidents" not in unescape(supervisor.get("/approvals").text)


def test_csrf_and_another_clients_reply(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "supervisor")
    assert page.post(f"/approvals/{crisis.reply_id}/approve").status_code == 403
    assert (
        page.post(f"/approvals/{crisis.reply_id}/reject", data={"reason": "x"}).status_code == 403
    )
    token = csrf_of(page.get("/approvals").text)
    other = f"/approvals/{crisis.other_reply_id}"
    assert page.post(f"{other}/approve", data={"csrf_token": token}).status_code == 404
    assert (
        page.post(f"{other}/reject", data={"reason": "x", "csrf_token": token}).status_code == 404
    )
    assert reply_of(db, crisis.other_reply_id).status == "pending_approval"
    assert reply_of(db, crisis.reply_id).status == "pending_approval"
