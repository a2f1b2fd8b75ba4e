"""The analysis's "uncertain" label (#17) on the pages: the dashboard counts it apart (its
own bar colour, not negative), the inbox filters on it for sentiment and intent and says
what it means, and every tag reads "incertain" in French, "uncertain" in English, with the
explanation in its tooltip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.mentions.models import Mention
from tests.care.test_inbox import Seed
from tests.conftest import Database, make_tenant
from tests.web.pages import make_user, signed_in

AT = datetime(2030, 3, 6, 9, 30, tzinfo=UTC)
NOW = AT + timedelta(hours=1)
ROW = re.compile(r'<li class="conv[^"]*" id="conv-(\d+)"')
HELP_FR = "Le modèle n&#39;est pas assez sûr de lui"
HELP_EN = "The model is not confident enough, or the language is not one it was trained on"
TAG = re.compile(r'<span class="tag ([^"]*)" data-(sentiment|intent)="([^"]+)"( title="[^"]*")?>')


@dataclass
class World:
    db: Database
    clock: FrozenClock
    convs: dict[str, int]

    def client(self, lang: str = "fr") -> TestClient:
        client = signed_in(self.db, "sam@acme.example", self.clock)
        client.headers["Accept-Language"] = lang
        return client


@pytest.fixture
def world(db: Database) -> World:
    """Four open conversations of one mention each, analysed as the names say."""
    clock = FrozenClock(NOW)
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    make_user(db, clock, "sam@acme.example", {"acme": "supervisor"})
    labels = {
        "unsure_both": ("uncertain", "uncertain"),
        "unsure_sentiment": ("uncertain", "question"),
        "angry": ("negative", "complaint"),
        "calm": ("neutral", "question"),
    }
    with session_scope(db.factory) as session:
        seed = Seed(session, tenant.id)
        convs = {name: seed.conversation(priority=50.0, priority_level="P3") for name in labels}
        for name, (sentiment, intent) in labels.items():
            for mention in session.scalars(
                select(Mention).where(Mention.conversation_id == convs[name].id)
            ):
                mention.sentiment, mention.sentiment_score = sentiment, 0.41
                mention.intent, mention.intent_score = intent, 0.38
        ids = {name: conv.id for name, conv in convs.items()}
    return World(db, clock, ids)


def _rows(html: str) -> list[int]:
    return [int(i) for i in ROW.findall(html)]


def test_the_inbox_filters_on_uncertain_sentiment_and_intent(world: World) -> None:
    client = world.client()
    by_sentiment = client.get("/inbox", params={"view": "all", "sentiment": "uncertain"})
    assert by_sentiment.status_code == 200, by_sentiment.text
    assert sorted(_rows(by_sentiment.text)) == sorted(
        [world.convs["unsure_both"], world.convs["unsure_sentiment"]]
    )
    by_intent = client.get("/inbox", params={"view": "all", "intent": "uncertain"})
    assert by_intent.status_code == 200, by_intent.text
    assert _rows(by_intent.text) == [world.convs["unsure_both"]]
    everything = client.get("/inbox", params={"view": "all"})
    assert len(_rows(everything.text)) == 4
    wrong = client.get("/inbox", params={"view": "all", "sentiment": "unsure"})
    assert wrong.status_code == 422, "a value outside the list is still refused"


def test_the_inbox_offers_uncertain_in_both_filters_and_explains_it(world: World) -> None:
    html = world.client().get("/inbox", params={"view": "all"}).text
    for name in ("sentiment", "intent"):
        select_html = re.search(rf'<select id="filter-{name}".*?</select>', html, re.S)
        assert select_html, name
        option = re.search(
            r'<option value="uncertain"( title="([^"]*)")?>([^<]*)</option>', select_html.group(0)
        )
        assert option, f"no uncertain option in the {name} filter"
        assert option.group(3) == "incertain"
        assert HELP_FR in (option.group(2) or "")
    assert 'class="hint uncertain-hint"' in html
    row_tags = re.findall(r'<span class="tag uncertain" title="([^"]*)">([^<]*)</span>', html)
    assert len(row_tags) == 2, "one tag per uncertain row, whether sentiment or intent"
    assert all(text == "incertain" and HELP_FR in title for title, text in row_tags)


def test_the_dashboard_counts_uncertain_apart_in_french_and_english(world: World) -> None:
    fr = world.client("fr").get("/dashboard").text
    bars = re.findall(r'<rect class="s-([a-z]+)"', fr)
    assert bars.count("uncertain") == 1, "today's bar has an uncertain segment"
    assert {"negative", "neutral", "uncertain"} <= set(bars)
    assert "unknown" not in bars, "uncertain is not counted as not analysed"
    assert re.search(r"· incertain: 2 — Le modèle", fr), "the segment says its count and meaning"
    assert '<span class="key s-uncertain"></span>' in fr
    assert 'class="muted legend-note"' in fr
    tags = {(kind, value): (classes, title) for classes, kind, value, title in TAG.findall(fr)}
    classes, title = tags[("sentiment", "uncertain")]
    assert "uncertain" in classes.split()
    assert HELP_FR in title
    assert "confiance 41" in title, "and the confidence of the best guess"
    assert ">ton incertain</span>" in fr
    assert ">intention incertaine</span>" in fr
    en = world.client("en").get("/dashboard").text
    assert ">tone uncertain</span>" in en
    assert ">intent uncertain</span>" in en
    assert HELP_EN in en


def test_a_conversation_shows_the_uncertain_tags(world: World) -> None:
    html = world.client().get(f"/c/{world.convs['unsure_both']}").text
    found = [(kind, value, title) for _c, kind, value, title in TAG.findall(html)]
    assert ("sentiment", "uncertain") in {(k, v) for k, v, _ in found}
    assert ("intent", "uncertain") in {(k, v) for k, v, _ in found}
    assert all(HELP_FR in title for _k, v, title in found if v == "uncertain")
    assert ">ton incertain</span>" in html
    assert ">intention incertaine</span>" in html
