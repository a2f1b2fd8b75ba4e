"""The conversation page over HTTP: what it shows each role, the reply box and its
collision rules (a colleague's reply sent meanwhile, a colleague holding the conversation),
approvals, CSRF, escaping, and another tenant's conversation (404)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from clameur.care.collision import set_reply_to_others
from clameur.care.models import Conversation, Reply
from clameur.care.replies import ApprovalPolicy, set_approval_policy
from clameur.care.routing import assign
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from tests.conftest import Database
from tests.factories import acting
from tests.web.pages import csrf_of, signed_in
from tests.web.ui.conversation import (
    AGENT,
    COLLEAGUE,
    OTHER_ADMIN,
    SUPERVISOR,
    VIEWER,
    World,
    build_world,
)


@pytest.fixture
def world(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> World:
    return build_world(db, pipeline, clock, tmp_path)


class Screen:
    """One person's browser on the conversation page: reads it, posts its forms as htmx
    would (``HX-Request`` and the CSRF header) or as a plain form (the CSRF field)."""

    def __init__(self, world: World, email: str, clock: FrozenClock) -> None:
        self.client: TestClient = signed_in(world.db, email, clock)
        self.world = world
        self.token = ""

    def open(self, conversation_id: int | None = None) -> Response:
        page = self.client.get(f"/c/{conversation_id or self.world.conversation_id}")
        if page.status_code == 200:
            self.token = csrf_of(page.text)
        return page

    def htmx(self, path: str, **data: str) -> Response:
        if not self.token:
            self.open()
        headers = {"HX-Request": "true", "X-CSRF-Token": self.token}
        return self.client.post(path, data=data, headers=headers)

    def form(self, path: str, **data: str) -> Response:
        if not self.token:
            self.open()
        return self.client.post(
            path, data={**data, "csrf_token": self.token}, follow_redirects=False
        )

    def reply(self, text: str, **data: str) -> Response:
        return self.htmx(f"/c/{self.world.conversation_id}/reply", text=text, **data)


def _replies(world: World) -> list[Reply]:
    with session_scope(world.db.factory) as session:
        rows = session.scalars(select(Reply).order_by(Reply.id)).all()
        session.expunge_all()
        return list(rows)


def _conversation(world: World, conversation_id: int | None = None) -> Conversation:
    with session_scope(world.db.factory) as session:
        found = session.get(Conversation, conversation_id or world.conversation_id)
        assert found is not None
        session.expunge(found)
        return found


def _trigger(answer: Response) -> dict[str, object]:
    value: dict[str, object] = json.loads(answer.headers["HX-Trigger"])
    return value


def _message(answer: Response) -> str:
    return unquote(answer.headers.get("X-Clameur-Message", ""))


def test_an_agent_sees_the_thread_its_context_and_the_reply_box(
    world: World, clock: FrozenClock
) -> None:
    page = Screen(world, AGENT, clock).open()
    assert page.status_code == 200, page.text
    html = page.text
    assert '<html lang="fr">' in html
    assert "jamais arrivée" in html, "the customer's message"
    assert "En réponse à cette publication" in html, "the parent post"
    assert "@bigvoice" in html
    assert "250\xa0k abonnés" in html, "its reach"
    assert 'href="https://x.example/bigvoice/status/post-1"' in html, "its link"
    assert f'href="/c/{world.email_conversation_id}"' in html, "the contact's e-mail"
    assert "toujours rien reçu" in html, "…with the text that opened it"
    assert "Actionnabilité" in html
    assert "actionnable" in html
    assert "vécu" in html
    assert "Première réponse" in html, "the SLA clocks"
    assert 'id="reply-form"' in html
    assert 'name="seen_reply_id" value=""' in html
    assert "Répondre à" in html
    assert "Réponse publique" in html
    assert "Message privé" in html
    assert "M'attribuer" in html
    assert "Résoudre" in html
    assert "Reporter" in html
    assert "Escalader vers" in html
    assert 'name="field_name" value="order_number"' in html
    assert 'hx-trigger="sse:conv-' in html, "live"
    assert 'sse-connect="/live"' in html
    assert f'hx-trigger="sse:presence-{world.conversation_id}"' in html
    assert ">Masquer<" in html, "agents hide public posts"
    assert ">Supprimer<" not in html, "deleting one is for supervisors"
    assert "/static/js/conversation.js" in html
    assert "/static/css/conversation.css" in html


def test_a_reply_goes_out_from_the_box(world: World, clock: FrozenClock) -> None:
    zoe = Screen(world, AGENT, clock)
    sent = zoe.reply("Bonjour Julie, nous regardons.", visibility="public", seen_reply_id="")
    assert sent.status_code == 200, sent.text
    trigger = _trigger(sent)
    assert trigger["conv-changed"] is True
    assert "publication en cours" in str(trigger["toast"])
    (reply,) = _replies(world)
    assert (reply.status, reply.visibility, reply.text) == (
        "queued",
        "public",
        "Bonjour Julie, nous regardons.",
    )
    assert f'name="seen_reply_id" value="{reply.id}"' in sent.text, "the new box has seen it"
    assert '<textarea id="reply-text"' in sent.text
    assert "nous regardons.</textarea>" not in sent.text
    live = zoe.client.get(f"/c/{world.conversation_id}/live")
    assert live.status_code == 200
    assert "nous regardons." in live.text
    assert "envoi en cours" in live.text
    assert live.text.count('hx-swap-oob="true"') == 2, "the header and the side pane"


def test_a_plain_form_reply_redirects_back_and_private_is_kept(
    world: World, clock: FrozenClock
) -> None:
    zoe = Screen(world, AGENT, clock)
    answer = zoe.form(
        f"/c/{world.conversation_id}/reply", text="Par message privé", visibility="private"
    )
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("#reply")
    assert [(r.visibility, r.status) for r in _replies(world)] == [("private", "queued")]


def test_an_empty_reply_is_refused_next_to_the_field(world: World, clock: FrozenClock) -> None:
    zoe = Screen(world, AGENT, clock)
    refused = zoe.reply("   ")
    assert refused.status_code == 422
    assert "Écrivez une réponse avant d&#39;envoyer." in refused.text
    assert 'class="field field-error"' in refused.text
    assert 'href="#reply-text"' in refused.text
    plain = zoe.form(f"/c/{world.conversation_id}/reply", text="")
    assert plain.status_code == 422
    assert "error-summary" in plain.text
    assert "<main" in plain.text
    assert _replies(world) == []


def test_a_reply_sent_meanwhile_refuses_the_second_and_shows_the_first(
    world: World, clock: FrozenClock
) -> None:
    zoe, marc = Screen(world, AGENT, clock), Screen(world, COLLEAGUE, clock)
    zoe.open(), marc.open()  # both boxes opened on a thread with no reply
    first = marc.reply("Marc : votre colis part demain.", seen_reply_id="")
    assert first.status_code == 200
    mine = "Zoé : je regarde votre commande."
    second = zoe.reply(mine, seen_reply_id="")
    assert second.status_code == 409
    assert "Marc Petit" in second.text
    assert "a répondu pendant que vous écriviez" in second.text
    assert "votre colis part demain" in second.text, "the first reply is shown"
    assert f"{mine}</textarea>" in second.text, "the agent's text is kept"
    (marcs,) = _replies(world)
    assert f'name="seen_reply_id" value="{marcs.id}"' in second.text
    again = zoe.reply(mine, seen_reply_id=str(marcs.id))  # read it, sends anyway
    assert again.status_code == 200
    assert [r.text for r in _replies(world)] == ["Marc : votre colis part demain.", mine]
    plain = zoe.form(
        f"/c/{world.conversation_id}/reply", text="Encore", seen_reply_id=str(marcs.id)
    )
    assert plain.status_code == 409
    assert "<main" in plain.text
    assert "Encore</textarea>" in plain.text


def test_a_colleague_holding_the_conversation_asks_for_confirmation(
    world: World, clock: FrozenClock
) -> None:
    with session_scope(world.db.factory) as session:
        marc = acting(session, world.users[COLLEAGUE], world.tenant_id)
        assign(session, clock, marc, world.conversation_id, marc.user_id)
    zoe = Screen(world, AGENT, clock)
    page = zoe.open()
    assert "Attribuée à" in page.text
    assert "Marc Petit" in page.text
    asked = zoe.reply("Je prends le relais", seen_reply_id="")
    assert asked.status_code == 409
    assert "Marc Petit" in asked.text
    assert "traite cette conversation — envoyer quand même ?" in asked.text
    assert 'name="confirm" value="1"' in asked.text
    assert "Je prends le relais</textarea>" in asked.text
    assert _replies(world) == []
    confirmed = zoe.reply("Je prends le relais", seen_reply_id="", confirm="1")
    assert confirmed.status_code == 200
    assert [r.author_id for r in _replies(world)] == [world.users[AGENT]]


def test_a_team_that_refuses_replies_to_others_refuses_them(
    world: World, clock: FrozenClock
) -> None:
    with session_scope(world.db.factory) as session:
        boss = acting(session, world.users[SUPERVISOR], world.tenant_id)
        set_reply_to_others(session, clock, boss, world.team_id, "refuse")
        marc = acting(session, world.users[COLLEAGUE], world.tenant_id)
        assign(session, clock, marc, world.conversation_id, marc.user_id)
    zoe = Screen(world, AGENT, clock)
    for confirm in ("", "1"):
        refused = zoe.reply("Je réponds quand même", seen_reply_id="", confirm=confirm)
        assert refused.status_code == 409
        assert "dans cette équipe, seule cette personne répond" in refused.text
        assert 'name="confirm"' not in refused.text
    assert _replies(world) == []


def test_a_viewer_reads_without_a_reply_box_and_is_refused(
    world: World, clock: FrozenClock
) -> None:
    viewer = Screen(world, VIEWER, clock)
    page = viewer.open()
    assert page.status_code == 200
    assert "jamais arrivée" in page.text
    assert 'id="reply-form"' not in page.text
    assert "Votre rôle permet de lire" in page.text
    for absent in ("M'attribuer", ">Masquer<", 'action="/c/', "Ajouter la note"):
        assert absent not in page.text, absent
    cid = world.conversation_id
    assert viewer.reply("Je ne devrais pas").status_code == 403
    assert "Votre rôle ne permet pas" in _message(viewer.reply("Non"))
    assert viewer.form(f"/c/{cid}/reply", text="Non").status_code == 403
    assert viewer.htmx(f"/c/{cid}/status", status="resolved").status_code == 403
    assert viewer.htmx(f"/c/{cid}/notes", text="note").status_code == 403
    assert viewer.htmx(f"/c/{cid}/assign", to="me").status_code == 403
    assert viewer.client.get(f"/c/{cid}/suggestions").status_code == 204
    assert _replies(world) == []
    assert _conversation(world).status == "open"


def test_waiting_replies_are_approved_by_a_viewer_and_rejected_by_a_supervisor(
    world: World, clock: FrozenClock
) -> None:
    with session_scope(world.db.factory) as session:
        boss = acting(session, world.users[SUPERVISOR], world.tenant_id)
        set_approval_policy(session, clock, boss, ApprovalPolicy(all=True))
    zoe = Screen(world, AGENT, clock)
    assert "toutes les réponses de ce client sont validées" in zoe.open().text
    waiting = zoe.reply("Première version", seen_reply_id="")
    assert waiting.status_code == 200
    assert "attend la validation" in str(_trigger(waiting)["toast"])
    (first,) = _replies(world)
    assert first.status == "pending_approval"
    assert "Valider et envoyer" not in zoe.open().text, "agents do not approve"
    viewer = Screen(world, VIEWER, clock)
    page = viewer.open()
    assert "Valider et envoyer" in page.text
    assert f"/replies/{first.id}/approve" in page.text
    cid = world.conversation_id
    approved = viewer.htmx(f"/c/{cid}/replies/{first.id}/approve")
    assert approved.status_code == 200, approved.text
    assert zoe.reply("Deuxième", seen_reply_id=str(first.id)).status_code == 200
    second = _replies(world)[1]
    sup = Screen(world, SUPERVISOR, clock)
    assert sup.htmx(f"/c/{cid}/replies/{second.id}/reject", reason="").status_code == 422
    rejected = sup.htmx(f"/c/{cid}/replies/{second.id}/reject", reason="Ton trop familier")
    assert rejected.status_code == 200
    one, two = _replies(world)
    assert (one.status, one.approved_by) == ("queued", world.users[VIEWER])
    assert two.status == "rejected"
    assert "Ton trop familier" in zoe.client.get(f"/c/{cid}/live").text
    again = viewer.htmx(f"/c/{cid}/replies/{first.id}/approve")
    assert again.status_code == 422, "no longer waiting"
    other = viewer.htmx(f"/c/{world.email_conversation_id}/replies/{first.id}/approve")
    assert other.status_code == 404, "a reply of another conversation"


def test_every_write_needs_the_csrf_token(world: World, clock: FrozenClock) -> None:
    zoe = Screen(world, AGENT, clock)
    zoe.open()
    cid = world.conversation_id
    plain = zoe.client.post(f"/c/{cid}/reply", data={"text": "Sans jeton"})
    assert plain.status_code == 403
    assert "Action refusée" in plain.text
    forged = zoe.client.post(
        f"/c/{cid}/reply",
        data={"text": "Jeton faux"},
        headers={"HX-Request": "true", "X-CSRF-Token": "forged"},
    )
    assert forged.status_code == 403
    assert "expiré" in _message(forged)
    for path in ("status", "notes", "assign", "snooze", "tags", "expand"):
        answer = zoe.client.post(f"/c/{cid}/{path}", data={"status": "resolved", "text": "x"})
        assert answer.status_code == 403, path
    assert _replies(world) == []
    assert _conversation(world).status == "open"


def test_another_tenants_conversation_is_not_found(world: World, clock: FrozenClock) -> None:
    zoe = Screen(world, AGENT, clock)
    zoe.open()
    theirs = world.other_conversation_id
    missing = zoe.client.get(f"/c/{theirs}")
    assert missing.status_code == 404
    assert "Conversation introuvable" in missing.text
    assert "bravo" not in missing.text.split("<main", 1)[1]
    assert zoe.client.get(f"/c/{theirs}/live").status_code == 404
    assert zoe.client.get(f"/c/{theirs}/suggestions").status_code == 404
    assert zoe.htmx(f"/c/{theirs}/reply", text="Intrus").status_code == 404
    assert zoe.htmx(f"/c/{theirs}/status", status="resolved").status_code == 404
    assert zoe.htmx(f"/c/{theirs}/notes", text="Intrus").status_code == 404
    assert zoe.client.get("/c/999999").status_code == 404
    admin = Screen(world, OTHER_ADMIN, clock)
    assert admin.client.get(f"/c/{world.conversation_id}").status_code == 404
    assert _replies(world) == []
    assert _conversation(world, theirs).status == "open"


def _statements(client: TestClient, path: str) -> int:
    from sqlalchemy import event

    engine = client.app.state.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_page_reads_a_bounded_number_of_statements(
    world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    """A long thread costs the statements of a short one: no query per message."""
    zoe = Screen(world, AGENT, clock)
    path = f"/c/{world.conversation_id}"
    assert zoe.reply("Réponse 0", seen_reply_id="").status_code == 200
    zoe.htmx(f"{path}/notes", text="Une note")
    before = _statements(zoe.client, path)
    for n in range(1, 7):
        seen = str(_replies(world)[-1].id)
        assert zoe.reply(f"Réponse {n}", seen_reply_id=seen).status_code == 200
        zoe.htmx(f"{path}/notes", text=f"Note {n}")
    zoe.htmx(f"{path}/tags", add="suivi")
    after = _statements(zoe.client, path)
    assert after == before, (before, after)
    assert after <= 40
    assert _statements(zoe.client, f"{path}/live") <= after
