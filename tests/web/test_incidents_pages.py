"""Incidents and crisis mode over HTTP: the list, the crisis page (conversations grouped,
live; the holding answer proposed, approved; one reply per author with its progress and
per-author result), sending exactly once even when "send" is pressed twice (one after the
other, and at the same moment), who may do what (403, buttons absent), CSRF, another
client's incident (404)."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clameur.care.incidents import attach_conversations
from clameur.care.models import Conversation, Incident, Reply
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.mentions.models import Author, Mention
from tests.care.test_replies import deliver, recording_registry
from tests.conftest import Database
from tests.factories import acting
from tests.web.pages import csrf_of, signed_in
from tests.web.ui.alerts_world import WAVE, Crisis, build_crisis

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOLDING = "Bonjour {name}, nous savons que le courant est coupé : nos équipes réparent. — {agent}"


@pytest.fixture
def crisis(db: Database) -> Crisis:
    return build_crisis(db, NOW)


def client(db: Database, crisis: Crisis, role: str) -> TestClient:
    return signed_in(db, crisis.email(role), FrozenClock(NOW))


def htmx(page: TestClient, path: str) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": csrf_of(page.get(path).text)}


def incident_of(db: Database, incident_id: int) -> Incident:
    with session_scope(db.factory) as session:
        found = session.get(Incident, incident_id)
        assert found is not None
        return found


def replies(db: Database, incident_id: int) -> list[Reply]:
    with session_scope(db.factory) as session:
        return list(session.scalars(select(Reply).where(Reply.incident_id == incident_id)))


def authors_answered(db: Database, incident_id: int) -> list[int]:
    with session_scope(db.factory) as session:
        return list(
            session.scalars(
                select(Conversation.author_id)
                .join(Reply, Reply.conversation_id == Conversation.id)
                .where(Reply.incident_id == incident_id)
            )
        )


def approve(db: Database, crisis: Crisis, text: str = HOLDING) -> None:
    page = client(db, crisis, "supervisor")
    path = f"/incidents/{crisis.incident_id}"
    token = csrf_of(page.get(path).text)
    answer = page.post(
        f"{path}/holding", data={"text": text, "decision": "approve", "csrf_token": token}
    )
    assert answer.status_code == 200, answer.text


def test_the_list_shows_each_incident(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "viewer").get("/incidents")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "Panne générale : les clients de Volta sans courant" in text
    assert f'href="/incidents/{crisis.incident_id}"' in page.text
    assert f'href="/alerts/{crisis.spike_id}"' in page.text
    assert re.search(r'<td class="num">13</td>', page.text), "its conversations"
    assert "aucune pour l'instant" in text, "no holding answer yet"
    assert "Autre client" not in text
    assert str(crisis.other_incident_id) not in re.findall(r'data-id="(\d+)"', page.text)
    assert "Aucun incident ici." in unescape(
        client(db, crisis, "viewer").get("/incidents", params={"status": "closed"}).text
    )


def test_the_crisis_page_groups_conversations_and_waits_for_a_holding_answer(
    db: Database, crisis: Crisis
) -> None:
    agent = client(db, crisis, "agent")
    page = agent.get(f"/incidents/{crisis.incident_id}")
    assert page.status_code == 200
    html = unescape(page.text)
    assert "13 conversations" in html
    groups = re.findall(r'<details class="conv-group" open data-source="(\w+)">', page.text)
    assert groups == ["twitter"]
    assert len(re.findall(r'<li class="conv" data-id="(\d+)"', page.text)) == 13
    assert f'hx-trigger="sse:incident-{crisis.incident_id} delay:500ms"' in page.text
    assert '<progress id="bulk-progress" max="12" value="0">' in page.text, "12 authors"
    assert "Pas encore de réponse d'attente." in html
    assert 'value="propose"' in page.text, "an agent proposes"
    assert 'value="approve"' not in page.text, "only a supervisor approves"
    assert "/send" not in page.text, "nothing to send before an answer is approved"
    assert "/close" not in page.text
    supervisor = client(db, crisis, "supervisor").get(f"/incidents/{crisis.incident_id}").text
    assert 'value="approve"' in supervisor
    assert f'action="/incidents/{crisis.incident_id}/close"' in supervisor
    viewer = client(db, crisis, "viewer").get(f"/incidents/{crisis.incident_id}").text
    assert "<textarea" not in viewer
    assert "/send" not in viewer
    assert "l'équipe du centre de contact répond" in unescape(viewer)


def test_proposed_then_approved_then_sent_once_per_author(db: Database, crisis: Crisis) -> None:
    agent = client(db, crisis, "agent")
    path = f"/incidents/{crisis.incident_id}"
    headers = htmx(agent, path)
    proposed = agent.post(f"{path}/holding", data={"text": HOLDING}, headers=headers)
    assert proposed.status_code == 200
    assert "<html" not in proposed.text
    assert "En attente de la validation d'un superviseur." in unescape(proposed.text)
    assert "toast" in proposed.headers["HX-Trigger"]
    incident = incident_of(db, crisis.incident_id)
    assert incident.holding_answer == HOLDING
    assert incident.approved_by is None
    early = agent.post(f"{path}/send", headers=headers)
    assert early.status_code == 422, "not approved yet: nothing is sent"
    assert replies(db, crisis.incident_id) == []

    approve(db, crisis)
    incident = incident_of(db, crisis.incident_id)
    assert incident.approved_by == crisis.users["supervisor"]
    page = unescape(agent.get(path).text)
    assert "Validée par Sonia Superviseure" in page
    assert f'hx-post="{path}/send"' in page
    assert "12 auteurs sans réponse pour l'instant" in page

    sent = agent.post(f"{path}/send", headers=headers)
    assert sent.status_code == 200
    assert 'id="incident-progress"' in sent.text
    assert "<html" not in sent.text
    assert "12 réponses sont en route" in json.loads(sent.headers["HX-Trigger"])["toast"]
    answered = authors_answered(db, crisis.incident_id)
    assert len(answered) == WAVE == len(set(answered)), "one reply per author"
    assert all(r.status == "queued" for r in replies(db, crisis.incident_id))
    assert all(r.text.startswith("Bonjour Client ") for r in replies(db, crisis.incident_id))
    assert "every 2s" in sent.text, "the progress follows the sending"

    again = agent.post(f"{path}/send", headers=headers)
    assert again.status_code == 200
    message = json.loads(again.headers["HX-Trigger"])["toast"]
    assert "rien n'a été renvoyé" in message
    assert len(replies(db, crisis.incident_id)) == WAVE, "pressed twice: sent once"

    delivered = deliver(db, FrozenClock(NOW), recording_registry()[0])
    assert delivered == WAVE
    progress = agent.get(f"{path}/progress")
    assert '<progress id="bulk-progress" max="12" value="12">' in progress.text
    assert "every 2s" not in progress.text, "nothing in flight any more"
    assert progress.text.count('class="result result-sent"') == WAVE


def test_two_presses_at_the_same_moment_send_once(db: Database, crisis: Crisis) -> None:
    approve(db, crisis)
    path = f"/incidents/{crisis.incident_id}"
    pages = [client(db, crisis, "agent"), client(db, crisis, "supervisor")]
    headers = [htmx(page, path) for page in pages]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def press(n: int) -> None:
        barrier.wait()
        codes.append(pages[n].post(f"{path}/send", headers=headers[n]).status_code)

    threads = [threading.Thread(target=press, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert codes == [200, 200]
    answered = authors_answered(db, crisis.incident_id)
    assert len(answered) == WAVE == len(set(answered))


def test_the_holding_answer_is_checked_beside_its_field(db: Database, crisis: Crisis) -> None:
    agent = client(db, crisis, "agent")
    path = f"/incidents/{crisis.incident_id}"
    token = csrf_of(agent.get(path).text)
    empty = agent.post(f"{path}/holding", data={"text": "  ", "csrf_token": token})
    assert empty.status_code == 422
    assert 'class="field field-error"' in empty.text
    assert 'aria-invalid="true"' in empty.text
    assert "Rédigez une réponse d'attente de 1 à" in unescape(empty.text)
    unknown = agent.post(
        f"{path}/holding", data={"text": "Bonjour {name"}, headers=htmx(agent, path)
    )
    assert unknown.status_code == 200, "htmx swaps a 2xx only"
    assert "field-error" in unknown.text
    assert "Bonjour {name" in unknown.text, "the text is kept"
    assert "Les accolades" in unescape(unknown.text)
    assert incident_of(db, crisis.incident_id).holding_answer is None


def test_new_conversations_joining_the_incident_appear(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "agent")
    path = f"/incidents/{crisis.incident_id}/conversations"
    before = page.get(path)
    assert before.status_code == 200
    assert "<html" not in before.text
    with session_scope(db.factory) as session:
        author = Author(
            tenant_id=crisis.tenant_id,
            source="facebook",
            handle="nouvelle_cliente",
            first_seen_at=NOW,
            last_seen_at=NOW,
        )
        session.add(author)
        session.flush()
        conversation = Conversation(
            tenant_id=crisis.tenant_id,
            author_id=author.id,
            source="facebook",
            brand_id=crisis.brand_id,
            status="open",
            root_external_id="fb-1",
            opened_at=NOW,
            last_activity_at=NOW,
            mention_count=1,
            flags=[],
            tags=[],
            sla={},
        )
        session.add(conversation)
        session.flush()
        session.add(
            Mention(
                tenant_id=crisis.tenant_id,
                source="facebook",
                external_id="fb-1",
                author_id=author.id,
                text="Toujours pas de courant à Lyon",
                created_at=NOW,
                raw={},
                content_hash="x",
                ingested_at=NOW,
                conversation_id=conversation.id,
                metrics={},
                edit_history=[],
                toxicity_labels=[],
                priority_reasons=[],
            )
        )
        session.flush()
        actor = acting(session, crisis.users["agent"], crisis.tenant_id)
        attach_conversations(
            session, FrozenClock(NOW), actor, crisis.incident_id, [conversation.id]
        )
    after = page.get(path).text
    assert "@nouvelle_cliente" in after
    assert "Toujours pas de courant à Lyon" in after
    assert re.findall(r'data-source="(\w+)"', after) == ["twitter", "facebook"]
    assert "14 conversations" in after


def test_closing_is_for_supervisors(db: Database, crisis: Crisis) -> None:
    path = f"/incidents/{crisis.incident_id}"
    agent = client(db, crisis, "agent")
    token = csrf_of(agent.get(path).text)
    assert agent.post(f"{path}/close", data={"csrf_token": token}).status_code == 403
    supervisor = client(db, crisis, "supervisor")
    token = csrf_of(supervisor.get(path).text)
    assert supervisor.post(f"{path}/close").status_code == 403, "no token"
    closed = supervisor.post(f"{path}/close", data={"csrf_token": token}, follow_redirects=False)
    assert closed.status_code == 303
    assert incident_of(db, crisis.incident_id).status == "closed"
    page = unescape(supervisor.get(path).text)
    assert "L'incident est clos." in page
    assert "<textarea" not in page


def test_a_viewer_is_refused_every_action(db: Database, crisis: Crisis) -> None:
    path = f"/incidents/{crisis.incident_id}"
    viewer = client(db, crisis, "viewer")
    token = csrf_of(viewer.get(path).text)
    for action, data in (("holding", {"text": HOLDING}), ("send", {}), ("close", {})):
        answer = viewer.post(f"{path}/{action}", data={**data, "csrf_token": token})
        assert answer.status_code == 403, action
    refused = viewer.post(f"{path}/holding", data={"text": HOLDING}, headers=htmx(viewer, path))
    assert refused.status_code == 403
    assert refused.headers["X-Clameur-Message"]
    assert incident_of(db, crisis.incident_id).holding_answer is None


def test_every_action_needs_the_csrf_token(db: Database, crisis: Crisis) -> None:
    approve(db, crisis)
    path = f"/incidents/{crisis.incident_id}"
    supervisor = client(db, crisis, "supervisor")
    for action in ("holding", "send", "close"):
        assert supervisor.post(f"{path}/{action}", data={"text": "x"}).status_code == 403
    assert replies(db, crisis.incident_id) == []
    assert incident_of(db, crisis.incident_id).holding_answer == HOLDING


def test_another_clients_incident_is_not_found(db: Database, crisis: Crisis) -> None:
    supervisor = client(db, crisis, "supervisor")
    other = f"/incidents/{crisis.other_incident_id}"
    for suffix in ("", "/conversations", "/progress"):
        assert supervisor.get(other + suffix).status_code == 404, suffix
    token = csrf_of(supervisor.get("/incidents").text)
    for action in ("holding", "send", "close"):
        answer = supervisor.post(
            f"{other}/{action}", data={"text": HOLDING, "decision": "approve", "csrf_token": token}
        )
        assert answer.status_code == 404, action
    assert incident_of(db, crisis.other_incident_id).holding_answer is None
    with session_scope(db.factory) as session:
        count = session.scalar(
            select(func.count())
            .select_from(Reply)
            .where(Reply.incident_id == crisis.other_incident_id)
        )
    assert count == 0
