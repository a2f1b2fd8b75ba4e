"""The conversation page's actions over HTTP, each through its care service: status with a
reason, snooze (presets in the agent's time zone), assignment, notes, tags, back-office
handover with its required fields, moderation of a public post, canned replies (personal
and the team's, /shortcodes), suggestions; hostile text stays escaped and isolated."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from httpx import Response
from sqlalchemy import select

from clameur.care.models import CannedReply, ConversationEvent, Reply
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import InvalidInputError
from clameur.pipeline import Pipeline
from clameur.web import i18n
from clameur.web.pages.conversation_actions import snooze_until
from tests.conftest import Database
from tests.web.test_conversation_page import Screen, _conversation, _message, _replies, _trigger
from tests.web.test_pages_hostile import BIDI, MARK, PAYLOAD, RLO, _Isolation
from tests.web.ui.conversation import AGENT, COLLEAGUE, SUPERVISOR, World, build_world


@pytest.fixture
def world(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> World:
    return build_world(db, pipeline, clock, tmp_path)


def _events(world: World, kind: str) -> list[dict[str, object]]:
    with session_scope(world.db.factory) as session:
        rows = session.scalars(
            select(ConversationEvent)
            .where(
                ConversationEvent.conversation_id == world.conversation_id,
                ConversationEvent.kind == kind,
            )
            .order_by(ConversationEvent.id)
        ).all()
        return [dict(e.data or {}) for e in rows]


def test_resolve_with_a_reason_then_reopen(world: World, clock: FrozenClock) -> None:
    zoe = Screen(world, AGENT, clock)
    cid = world.conversation_id
    done = zoe.htmx(f"/c/{cid}/status", status="resolved", reason="Remboursement fait")
    assert done.status_code == 200
    assert _trigger(done)["toast"] == "Conversation résolue."
    assert _conversation(world).status == "resolved"
    assert _events(world, "status")[-1]["reason"] == "Remboursement fait"
    page = zoe.open()
    assert "Rouvrir" in page.text
    assert "Remboursement fait" in page.text, "the reason, in the timeline"
    assert zoe.htmx(f"/c/{cid}/status", status="open").status_code == 200
    assert _conversation(world).status == "open"
    unknown = zoe.htmx(f"/c/{cid}/status", status="lost")
    assert unknown.status_code == 422
    assert "Refusé" in _message(unknown)
    plain = zoe.form(f"/c/{cid}/status", status="waiting")
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/c/{cid}"
    assert _conversation(world).status == "waiting"


def test_snooze_until_tomorrow_morning_in_the_agents_zone(world: World, clock: FrozenClock) -> None:
    zoe = Screen(world, AGENT, clock)
    cid = world.conversation_id
    done = zoe.htmx(f"/c/{cid}/snooze", preset="tomorrow", reason="Colis en transit")
    assert done.status_code == 200, _message(done)
    snoozed = _conversation(world)
    assert snoozed.status == "pending"
    paris = ZoneInfo("Europe/Paris")
    assert snoozed.snoozed_until is not None
    assert snoozed.snoozed_until.astimezone(paris) == datetime(2030, 1, 2, 9, tzinfo=paris)
    page = zoe.open()
    assert "reportée jusqu&#39;au" in page.text or "reportée jusqu'au" in page.text
    assert "Colis en transit" in page.text
    past = zoe.htmx(f"/c/{cid}/snooze", preset="custom", until="2029-12-31T08:00")
    assert past.status_code == 422, "a time already gone"
    assert zoe.htmx(f"/c/{cid}/snooze", preset="custom", until="demain").status_code == 422


def test_snooze_presets() -> None:
    _ = i18n.gettext_for("en")
    now = datetime(2030, 1, 4, 22, 30, tzinfo=UTC)  # a Friday, 23:30 in Paris
    paris = ZoneInfo("Europe/Paris")
    assert snooze_until("1h", "", now, "Europe/Paris", _) == datetime(
        2030, 1, 4, 23, 30, tzinfo=UTC
    )
    assert snooze_until("4h", "", now, None, _) == datetime(2030, 1, 5, 2, 30, tzinfo=UTC)
    assert snooze_until("tomorrow", "", now, None, _) == datetime(2030, 1, 5, 9, tzinfo=paris)
    assert snooze_until("monday", "", now, None, _) == datetime(2030, 1, 7, 9, tzinfo=paris)
    tokyo = ZoneInfo("Asia/Tokyo")  # already Saturday 07:30 there
    assert snooze_until("tomorrow", "", now, "Asia/Tokyo", _) == datetime(
        2030, 1, 6, 9, tzinfo=tokyo
    )
    chosen = snooze_until("custom", "2030-01-10T14:15", now, "Europe/Paris", _)
    assert chosen == datetime(2030, 1, 10, 14, 15, tzinfo=paris)
    with pytest.raises(InvalidInputError):
        snooze_until("custom", "", now, None, _)


def test_assign_to_me_and_a_supervisor_assigns_to_a_colleague(
    world: World, clock: FrozenClock
) -> None:
    zoe, sup = Screen(world, AGENT, clock), Screen(world, SUPERVISOR, clock)
    cid = world.conversation_id
    mine = zoe.htmx(f"/c/{cid}/assign", to="me")
    assert _trigger(mine)["toast"] == "Attribuée à vous."
    assert _conversation(world).assignee_id == world.users[AGENT]
    assert 'id="assign-me"' not in zoe.open().text, "already mine"
    assert "Attribuer à…" not in zoe.open().text, "agents do not hand out work"
    page = sup.open()
    assert "Attribuer à…" in page.text
    assert f'value="{world.users[COLLEAGUE]}"' in page.text
    to_marc = sup.htmx(f"/c/{cid}/assign", to=str(world.users[COLLEAGUE]))
    assert to_marc.status_code == 200
    assert _conversation(world).assignee_id == world.users[COLLEAGUE]
    refused = zoe.htmx(f"/c/{cid}/assign", to="me")
    assert refused.status_code == 403, "taking a colleague's conversation is a supervisor's"
    assert sup.htmx(f"/c/{cid}/assign", to="none").status_code == 200
    assert _conversation(world).assignee_id is None
    assert zoe.htmx(f"/c/{cid}/assign", to="somebody").status_code == 422


def test_notes_and_tags(world: World, clock: FrozenClock) -> None:
    zoe = Screen(world, AGENT, clock)
    cid = world.conversation_id
    assert (
        zoe.htmx(f"/c/{cid}/notes", text="Client fidèle, @marc tu peux voir ?").status_code == 200
    )
    assert _events(world, "note")[-1]["mentions"] == [world.users[COLLEAGUE]]
    unknown = zoe.htmx(f"/c/{cid}/notes", text="@personne regarde")
    assert unknown.status_code == 422
    assert "personne" in _message(unknown)
    assert zoe.htmx(f"/c/{cid}/tags", add="remboursement, urgent").status_code == 200
    assert _conversation(world).tags == ["remboursement", "urgent"]
    assert zoe.htmx(f"/c/{cid}/tags", remove="urgent").status_code == 200
    assert _conversation(world).tags == ["remboursement"]
    assert zoe.htmx(f"/c/{cid}/tags", add="<b>").status_code == 422
    side = zoe.client.get(f"/c/{cid}/live").text
    assert "Client fidèle" in side
    assert "remboursement" in side


def test_escalation_asks_for_the_teams_fields_then_the_back_office_hands_back(
    world: World, clock: FrozenClock
) -> None:
    zoe, sup = Screen(world, AGENT, clock), Screen(world, SUPERVISOR, clock)
    cid = world.conversation_id
    missing = zoe.htmx(
        f"/c/{cid}/escalate",
        team_id=str(world.back_office_id),
        field_name="order_number",
        field_value="",
    )
    assert missing.status_code == 422
    assert "order_number" in _message(missing)
    done = zoe.htmx(
        f"/c/{cid}/escalate",
        team_id=str(world.back_office_id),
        field_name="order_number",
        field_value="48213",
        details="Colis perdu",
    )
    assert done.status_code == 200, _message(done)
    held = _conversation(world)
    assert (held.status, held.holder_team_id) == ("escalated", world.back_office_id)
    assert _events(world, "escalate")[-1]["fields"] == {
        "order_number": "48213",
        "details": "Colis perdu",
    }
    page = zoe.open().text
    assert "Tenue par" in page
    assert "Facturation" in page
    assert "Rendre" in page
    assert "Escalader vers" not in page
    refused = zoe.htmx(f"/c/{cid}/handback", note="Fait")
    assert refused.status_code == 403, "not in the back-office team"
    assert sup.htmx(f"/c/{cid}/handback", note="").status_code == 422
    assert sup.htmx(f"/c/{cid}/handback", note="Remboursé").status_code == 200
    assert _conversation(world).status == "open"


def test_moderation_hides_for_agents_deletes_for_supervisors(
    world: World, clock: FrozenClock
) -> None:
    zoe, sup = Screen(world, AGENT, clock), Screen(world, SUPERVISOR, clock)
    cid = world.conversation_id
    page = zoe.open().text
    mention_id = page.split('name="mention_id" value="', 1)[1].split('"', 1)[0]
    hidden = zoe.htmx(f"/c/{cid}/moderate", mention_id=mention_id, action="hide")
    assert hidden.status_code == 200
    assert "masquée" in str(_trigger(hidden)["toast"])
    assert zoe.htmx(f"/c/{cid}/moderate", mention_id=mention_id, action="delete").status_code == 403
    assert ">Supprimer<" in sup.open().text
    assert sup.htmx(f"/c/{cid}/moderate", mention_id=mention_id, action="delete").status_code == 200
    assert [e["action"] for e in _events(world, "moderation")] == ["hide", "delete"]
    assert "Masquée par" in zoe.open().text
    elsewhere = zoe.htmx(
        f"/c/{world.email_conversation_id}/moderate", mention_id=mention_id, action="hide"
    )
    assert elsewhere.status_code == 404, "a post of another conversation"


def test_canned_replies_personal_and_the_teams_by_shortcode(
    world: World, clock: FrozenClock
) -> None:
    zoe, marc, sup = (Screen(world, e, clock) for e in (AGENT, COLLEAGUE, SUPERVISOR))
    cid = world.conversation_id
    saved = zoe.htmx(
        f"/c/{cid}/canned",
        name="Suivi colis",
        shortcode="/suivi",
        text="Bonjour {name}, votre colis arrive.",
    )
    assert saved.status_code == 200, _message(saved)
    assert _trigger(saved)["canned-changed"] is True
    assert (
        zoe.htmx(f"/c/{cid}/canned", name="Doublon", shortcode="suivi", text="x").status_code == 409
    )
    team_refused = zoe.htmx(f"/c/{cid}/canned", name="Équipe", text="x", team="1")
    assert team_refused.status_code == 403, "the team's canned replies are a supervisor's"
    assert (
        sup.htmx(
            f"/c/{cid}/canned", name="Merci", shortcode="merci", text="Merci {name} !", team="1"
        ).status_code
        == 200
    )
    with session_scope(world.db.factory) as session:
        owners = {c.name: c.owner_id for c in session.scalars(select(CannedReply))}
    assert owners == {"Suivi colis": world.users[AGENT], "Merci": None}
    mine = zoe.open().text
    assert "/suivi" in mine
    assert "Bonjour Julie Tessier, votre colis arrive." in mine
    assert "/merci" in mine
    theirs = marc.open().text
    assert "/merci" in theirs
    assert "/suivi" not in theirs, "a colleague's own stay theirs"
    expanded = zoe.htmx(f"/c/{cid}/expand", text="/suivi puis /merci et /inconnu")
    assert expanded.json() == {
        "text": "Bonjour Julie Tessier, votre colis arrive. puis Merci Julie Tessier ! et /inconnu"
    }
    assert marc.htmx(f"/c/{cid}/expand", text="/suivi").json() == {"text": "/suivi"}
    sent = zoe.reply("/merci", seen_reply_id="")
    assert sent.status_code == 200
    assert [r.text for r in _replies(world)] == ["Merci Julie Tessier !"], "expanded on send too"


def test_suggestions_offer_canned_replies_filled_in(world: World, clock: FrozenClock) -> None:
    sup = Screen(world, SUPERVISOR, clock)
    cid = world.conversation_id
    sup.htmx(
        f"/c/{cid}/canned",
        name="Commande jamais arrivée",
        text="Bonjour {name}, nous relançons le transporteur pour votre commande.",
        team="1",
    )
    found = sup.client.get(f"/c/{cid}/suggestions")
    assert found.status_code == 200
    assert "Réponses suggérées" in found.text
    assert "Bonjour Julie Tessier, nous relançons" in found.text
    assert 'class="suggestion"' in found.text


def _check(answer: Response, where: str) -> int:
    """No injected element or handler; every piece of hostile text inside a ``<bdi>`` or
    ``dir="auto"`` (none in ``<title>`` or ``<option>`` with a bidi control). The page's
    own scripts and images come from /static only."""
    parser = _Isolation()
    parser.feed(answer.text)
    for tag, attrs in parser.tags:
        if tag in {"script", "img", "iframe", "svg", "object", "embed"}:
            assert str(attrs.get("src") or "").startswith("/static/"), f"{where}: <{tag} {attrs}>"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"{where}: an event handler attribute was injected: {handlers}"
    assert "<script>alert" not in answer.text
    for data, stack, isolated in parser.found:
        if stack and stack[-1] in {"title", "option"}:
            assert not BIDI & set(data), f"{where}: a bidi control in <{stack[-1]}>"
        else:
            assert isolated, f"{where}: untrusted text not isolated in {stack}: {data[:80]!r}"
    assert parser.found, f"{where}: the hostile text is not on the page"
    return len(parser.found)


def test_hostile_text_is_escaped_and_isolated(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    world = build_world(
        db,
        pipeline,
        clock,
        tmp_path,
        customer=f"acme ma commande 48213 n'est jamais arrivée {PAYLOAD}",
        author={"handle": f"{MARK}{RLO}<b>h", "name": PAYLOAD, "followers": 3},
        url="javascript:alert(1)",
    )
    zoe = Screen(world, AGENT, clock)
    cid = world.conversation_id
    zoe.htmx(f"/c/{cid}/notes", text=f"note {PAYLOAD}")
    zoe.htmx(f"/c/{cid}/status", status="pending", reason=f"raison {PAYLOAD}")
    zoe.htmx(f"/c/{cid}/canned", name=f"modèle {PAYLOAD}", text=f"texte {PAYLOAD}")
    page = zoe.open()
    assert page.status_code == 200
    found = _check(page, f"/c/{cid}")
    assert found >= 6, "name, handle, message, note, reason, canned reply"
    assert 'href="javascript:' not in page.text
    _check(zoe.client.get(f"/c/{cid}/live"), "live")
    refused = zoe.reply(f"réponse {PAYLOAD}", seen_reply_id="")
    assert refused.status_code == 200
    box = zoe.reply(f"encore {PAYLOAD}", seen_reply_id="")
    assert box.status_code == 409, "the first reply is newer than what this box saw"
    _check(box, "conflict")


def test_a_failed_reply_shows_its_error_in_the_thread(world: World, clock: FrozenClock) -> None:
    zoe = Screen(world, AGENT, clock)
    assert zoe.reply("Bonjour Julie", seen_reply_id="").status_code == 200
    with session_scope(world.db.factory) as session:
        reply = session.scalars(select(Reply)).one()
        reply.status, reply.error = "failed", "SMTP 550: mailbox unavailable"
    thread = zoe.client.get(f"/c/{world.conversation_id}/live").text
    assert "Non remise :" in thread
    assert "SMTP 550: mailbox unavailable" in thread
    assert 'data-status="failed"' in thread
