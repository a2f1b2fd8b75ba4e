"""The analysis's "uncertain" label (#17) in Debian's Chromium (Playwright) against a real
server: a supervisor reading French sees an uncertain mention's tag as "incertain" with its
explanation on hover, in a muted colour of its own (neither neutral's nor "not analysed"'s),
its own segment and legend key in the chart, and the inbox filtered on it lists only that
conversation. No CSP violation, no script error; screenshots for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clameur.clock import SystemClock
from clameur.db import session_scope
from clameur.mentions.models import Mention
from tests.care.test_inbox import Seed
from tests.conftest import ON_SQLITE, Database, make_tenant
from tests.web.conftest import Server, axe_violations, running, screenshot
from tests.web.pages import PASSWORD, LoginPage, OverviewPage, make_user
from tests.web.ui.inbox import InboxPage

SUPERVISOR = "sam@acme.example"

pytestmark = ON_SQLITE


@dataclass
class Site:
    server: Server
    convs: dict[str, int]
    external: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def site(db: Database, database_url: str) -> Iterator[Site]:
    """Three conversations of one mention an hour ago: uncertain, neutral, not analysed."""
    clock = SystemClock()
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})  # type: ignore[arg-type]
    make_user(db, clock, SUPERVISOR, {"acme": "supervisor"})
    labels: dict[str, tuple[str | None, str | None]] = {
        "unsure": ("uncertain", "uncertain"),
        "calm": ("neutral", "question"),
        "fresh": (None, None),
    }
    convs, external = {}, {}
    with session_scope(db.factory) as session:
        seed = Seed(session, tenant.id)
        for name, (sentiment, intent) in labels.items():
            conversation = seed.conversation(
                priority=50.0, priority_level="P3", text=f"Wiadomość {name}: gdzie jest paczka?"
            )
            mention = session.scalars(
                select(Mention).where(Mention.conversation_id == conversation.id)
            ).one()
            mention.created_at = clock.now() - timedelta(hours=1)
            mention.sentiment, mention.intent = sentiment, intent
            mention.sentiment_score = 0.52 if sentiment else None
            mention.intent_score = 0.31 if intent else None
            convs[name], external[name] = conversation.id, mention.external_id
    with running(database_url) as server:
        yield Site(server, convs, external)


def _colour(locator: Any, prop: str) -> str:
    return str(locator.evaluate(f"el => getComputedStyle(el).{prop}"))


def test_an_uncertain_mention_reads_incertain_and_says_why(site: Site, people: Any) -> None:
    sam = people("fr-FR")
    LoginPage(sam.page, site.url).open().sign_in(SUPERVISOR, PASSWORD)
    overview = OverviewPage(sam.page, site.url).open()

    unsure = overview.label_tag(site.external["unsure"], "sentiment")
    assert unsure.inner_text() == "ton incertain"
    assert "n'est pas assez sûr de lui" in (unsure.get_attribute("title") or "")
    assert "lisez le message vous-même" in (unsure.get_attribute("title") or "")
    intent = overview.label_tag(site.external["unsure"], "intent")
    assert intent.inner_text() == "intention incertaine"
    calm = overview.label_tag(site.external["calm"], "sentiment")
    assert calm.inner_text() == "neutre"
    assert _colour(unsure, "color") != _colour(calm, "color"), "uncertain has its own colour"
    assert _colour(unsure, "borderTopStyle") == "dashed"

    assert overview.bars("uncertain").count() == 1
    assert overview.bars("unknown").count() == 1, "the mention not analysed yet"
    fills = {_colour(overview.bars(s), "fill") for s in ("uncertain", "neutral", "unknown")}
    assert len(fills) == 3, "uncertain, neutral and not analysed are three colours"
    assert "incertain" in overview.legend
    assert "non analysé" in overview.legend

    unsure.hover()
    screenshot(sam.page, "dashboard-uncertain")
    assert axe_violations(sam.page) == []

    inbox = InboxPage(sam.page, site.url).open("all", sentiment="uncertain")
    assert inbox.row_ids == [site.convs["unsure"]]
    tag = inbox.row(site.convs["unsure"]).locator(".tag.uncertain")
    assert tag.inner_text() == "incertain"
    assert "lisez le message vous-même" in (tag.get_attribute("title") or "")
    screenshot(sam.page, "inbox-uncertain", phone=False)
    sam.assert_clean()
