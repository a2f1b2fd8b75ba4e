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

from clameur.care.channels import ChannelRegistry, RecordingChannel
from clameur.care.models import Reply
from clameur.care.replies import reply_handlers
from clameur.clock import SystemClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from clameur.pipeline.outbox import relay
from tests.conftest import Database
from tests.web.conftest import AXE, Server, running, screenshot
from tests.web.pages import PASSWORD, LoginPage
from tests.web.ui.conversation import (
    AGENT,
    COLLEAGUE,
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
    mine.write("Bonjour Julie, nous regardons votre commande 48213 tout de suite.")
    theirs.presence.get_by_text("écrit").wait_for()  # Zoé is typing
    mine.send()
    mine.reply("nous regardons votre commande").wait_for()
    assert mine.reply_state("nous regardons") == "envoi en cours"
    assert mine.reply_text.input_value() == "", "the box is empty again"
    # the colleague's thread shows the new reply without reloading
    theirs.reply("nous regardons votre commande").wait_for()
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
