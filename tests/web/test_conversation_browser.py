"""The conversation page in Debian's Chromium (Playwright) against a real server: an agent
answers and sees the delivery state change live; a colleague's screen shows the presence
marker and the new reply without reloading; a viewer cannot reply; a supervisor approves a
waiting reply. French first, one scenario in English. No CSP violation, no script error,
no serious axe-core violation; screenshots for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care.canned import add_canned_reply
from clameur.care.channels import ChannelRegistry, RecordingChannel
from clameur.care.models import Reply
from clameur.care.replies import ApprovalPolicy, reply_handlers, set_approval_policy
from clameur.care.routing import assign
from clameur.clock import SystemClock
from clameur.config import Settings
from clameur.core.outbox import relay
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from tests.conftest import ON_POSTGRESQL, ON_SQLITE, Database
from tests.factories import acting
from tests.web.conftest import AXE, Server, running, screenshot
from tests.web.pages import PASSWORD, LoginPage
from tests.web.ui.conversation import (
    AGENT,
    COLLEAGUE,
    SUPERVISOR,
    VIEWER,
    ConversationPage,
    World,
    build_world,
)


@dataclass
class Site:
    server: Server
    world: World

    @property
    def url(self) -> str:
        return self.server.url

    def deliver(self) -> int:
        """The worker's outbox relay, once: queued replies are published (recorded)."""
        db = self.world.db
        registry = ChannelRegistry({}, RecordingChannel())
        handlers = reply_handlers(db.factory, Settings(), clock=SystemClock(), channels=registry)
        return relay(db.factory, SystemClock(), handlers)


@pytest.fixture
def site(db: Database, database_url: str, tmp_path: Path) -> Iterator[Site]:
    clock = SystemClock()
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=100), clock=clock)
    world = build_world(db, pipeline, clock, tmp_path)
    with running(database_url) as server:
        yield Site(server, world)


def axe_violations(page: Any) -> list[str]:
    """Serious and critical axe-core violations. (``tests.web.conftest.axe_violations``
    injects axe with an inline script tag, which the page's CSP refuses; evaluating the
    source through the debugger protocol is not subject to it.)"""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {v['nodes']}"
        for v in results
        if v["impact"] in ("serious", "critical")
    ]


def _person(people: Any, site: Site, email: str, locale: str = "fr-FR") -> Any:
    """Someone signed in, on the conversation page (the sign-in leads there)."""
    watched = people(locale)
    target = f"/c/{site.world.conversation_id}"
    LoginPage(watched.page, site.url).open(target).sign_in(email, PASSWORD)
    watched.page.wait_for_selector("#thread .thread")
    return watched


@ON_POSTGRESQL
def test_an_agent_answers_and_a_colleague_sees_it_live(site: Site, people: Any) -> None:
    zoe = _person(people, site, AGENT)
    marc = _person(people, site, COLLEAGUE)
    mine = ConversationPage(zoe.page, site.url)
    theirs = ConversationPage(marc.page, site.url)
    assert "Julie Tessier" in mine.title
    assert any("48213" in t for t in mine.message_texts())
    # each sees the other on the conversation (presence, live by SSE)
    theirs.presence.get_by_text("Zoé Martin").wait_for()
    mine.presence.get_by_text("Marc Petit").wait_for()
    assert axe_violations(zoe.page) == []
    marc.page.locator("#snooze-menu summary").click()  # the colleague is busy in the page:
    marc.page.fill("#note-text", "Vérifier le transporteur")  # a menu open, a note begun
    mine.write("Bonjour Julie, nous regardons votre commande 48213 tout de suite.")
    theirs.presence.get_by_text("écrit").wait_for()  # Zoé is typing
    mine.send()
    mine.reply("nous regardons votre commande").wait_for()
    assert mine.reply_state("nous regardons") == "envoi en cours"
    assert mine.reply_text.input_value() == "", "the box is empty again"
    # the colleague's thread shows the new reply without reloading, and keeps their work
    theirs.reply("nous regardons votre commande").wait_for()
    assert marc.page.input_value("#note-text") == "Vérifier le transporteur"
    assert marc.page.locator("#snooze-menu").get_attribute("open") is not None
    # the worker publishes it: both screens turn it "sent"
    assert site.deliver() == 1
    mine.reply("nous regardons").locator(".badge", has_text="envoyée").wait_for()
    theirs.reply("nous regardons").locator(".badge", has_text="envoyée").wait_for()
    with session_scope(site.world.db.factory) as session:
        sent = session.scalars(select(Reply)).all()
        assert [r.status for r in sent] == ["sent"]
    zoe.assert_clean()
    marc.assert_clean()
    # Playwright's screenshots disturb the next htmx swap (CSP reports): taken last
    screenshot(zoe.page, "conversation")


@ON_SQLITE
def test_a_supervisor_approves_a_waiting_reply_a_viewer_cannot_reply(
    site: Site, people: Any
) -> None:
    world = site.world
    with session_scope(world.db.factory) as session:
        boss = acting(session, world.users[SUPERVISOR], world.tenant_id)
        set_approval_policy(session, SystemClock(), boss, ApprovalPolicy(p1=True, all=True))
    viewer = _person(people, site, VIEWER)
    client = ConversationPage(viewer.page, site.url)
    assert not client.has_reply_box, "a viewer reads, the agents reply"
    viewer.page.get_by_text("Votre rôle permet de lire cette conversation").wait_for()
    assert viewer.page.locator("#assign-me, #resolve").count() == 0
    zoe = _person(people, site, AGENT)
    mine = ConversationPage(zoe.page, site.url)
    zoe.page.get_by_text("Ici, les réponses attendent la validation").wait_for()
    mine.write("Bonjour Julie, un geste commercial vous est proposé.")
    mine.send()
    mine.reply("geste commercial").locator(".badge", has_text="à valider").wait_for()
    mine.toast().get_by_text("attend la validation").wait_for()
    assert mine.reply("geste commercial").get_by_role("button").count() == 0, (
        "agents do not approve"
    )
    sam = _person(people, site, SUPERVISOR)
    boss_page = ConversationPage(sam.page, site.url)
    boss_page.reply("geste commercial").get_by_text("En attente de validation").wait_for()
    # the viewer's screen got the waiting reply live, with the approval buttons
    client.reply("geste commercial").get_by_role("button", name="Valider et envoyer").wait_for()
    assert axe_violations(viewer.page) == []
    boss_page.approve("geste commercial")
    for screen in (boss_page, mine, client):
        screen.reply("geste commercial").locator(".badge", has_text="envoi en cours").wait_for()
    with session_scope(world.db.factory) as session:
        (reply,) = session.scalars(select(Reply)).all()
        assert (reply.status, reply.approved_by) == ("queued", world.users[SUPERVISOR])
    for watched in (viewer, zoe, sam):
        watched.assert_clean()
    screenshot(viewer.page, "conversation-viewer")


@ON_POSTGRESQL
def test_two_agents_answer_at_once_the_second_sees_the_first_in_english(
    site: Site, people: Any
) -> None:
    zoe = _person(people, site, AGENT, "en-GB")
    marc = _person(people, site, COLLEAGUE, "en-GB")
    mine = ConversationPage(zoe.page, site.url)
    theirs = ConversationPage(marc.page, site.url)
    zoe.page.get_by_text("Reply to").first.wait_for()
    mine.write("Hello Julie, I am checking your order.")
    theirs.write("Hi Julie, your parcel leaves tomorrow.")
    theirs.send()
    theirs.reply("your parcel leaves tomorrow").wait_for()
    mine.send()
    mine.conflict.get_by_text("answered while you were writing").wait_for()
    assert "Marc Petit" in mine.conflict.inner_text()
    assert "your parcel leaves tomorrow" in mine.conflict.inner_text(), "the first reply shown"
    assert mine.reply_text.input_value() == "Hello Julie, I am checking your order.", "kept"
    mine.send_with_keyboard()  # read it; sends hers too
    mine.reply("I am checking your order").wait_for()
    assert mine.conflict.count() == 0
    with session_scope(site.world.db.factory) as session:
        texts = [r.text for r in session.scalars(select(Reply).order_by(Reply.id))]
    assert texts == [
        "Hi Julie, your parcel leaves tomorrow.",
        "Hello Julie, I am checking your order.",
    ]
    zoe.assert_clean()
    marc.assert_clean()


@ON_SQLITE
def test_open_from_the_inbox_with_the_keyboard_and_insert_a_shortcode(
    site: Site, people: Any
) -> None:
    world = site.world
    with session_scope(world.db.factory) as session:
        zoe_principal = acting(session, world.users[AGENT], world.tenant_id)
        assign(session, SystemClock(), zoe_principal, world.conversation_id, zoe_principal.user_id)
        add_canned_reply(
            session,
            SystemClock(),
            zoe_principal,
            name="Suivi de colis",
            text="Bonjour {name}, votre colis est en route.",
            lang="fr",
            shortcode="suivi",
            personal=True,
        )
    zoe = people("fr-FR")
    LoginPage(zoe.page, site.url).open().sign_in(AGENT, PASSWORD)
    zoe.page.wait_for_selector(f'a[href="/c/{world.conversation_id}"]')
    zoe.page.keyboard.press("j")
    with zoe.page.expect_navigation():
        zoe.page.keyboard.press("Enter")
    assert zoe.page.url.endswith(f"/c/{world.conversation_id}")
    mine = ConversationPage(zoe.page, site.url)
    zoe.page.wait_for_selector("#thread .thread")
    zoe.page.keyboard.press("r")
    assert zoe.page.evaluate("() => document.activeElement.id") == "reply-text"
    zoe.page.keyboard.type("/sui")
    zoe.page.locator("#shortcode-menu li", has_text="/suivi").wait_for()
    zoe.page.keyboard.press("Enter")
    zoe.page.wait_for_function(
        "() => document.getElementById('reply-text').value.includes('votre colis est en route')"
    )
    assert mine.reply_text.input_value() == "Bonjour Julie Tessier, votre colis est en route."
    zoe.page.keyboard.type(" Merci. /suivi")
    zoe.page.keyboard.type(" ")  # a known shortcode and a space: expanded at once
    zoe.page.wait_for_function(
        "() => document.getElementById('reply-text').value.split('colis est en route').length === 3"
    )
    mine.send_with_keyboard()
    mine.reply("Merci. Bonjour").wait_for()
    zoe.assert_clean()
