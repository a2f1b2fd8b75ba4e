"""Crisis mode in Chromium: a supervisor approves the holding answer, an agent sends it to
every author — pressing twice sends nothing twice — and the progress bar and per-author
results follow the delivery live; a conversation joining the incident appears without a
reload (in English). No CSP violation, no script error, no serious axe violation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care.incidents import attach_conversations
from clameur.care.models import Conversation, Reply
from clameur.clock import SystemClock
from clameur.db import session_scope
from clameur.mentions.models import Author, Mention
from tests.care.test_replies import deliver, recording_registry
from tests.conftest import ON_POSTGRESQL, ON_SQLITE, Database
from tests.factories import acting
from tests.web.conftest import Server, running, screenshot, sign_in
from tests.web.pages import PASSWORD
from tests.web.ui.alerts import axe
from tests.web.ui.alerts_world import WAVE, Crisis, build_crisis
from tests.web.ui.incidents import IncidentPage, IncidentsPage

HOLDING = "Bonjour {name}, la panne est identifiée : le courant revient avant 18 h. "


@dataclass
class Site:
    server: Server
    crisis: Crisis
    db: Database

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def site(db: Database, database_url: str) -> Iterator[Site]:
    crisis = build_crisis(db, datetime.now(UTC))
    with running(database_url) as server:
        yield Site(server, crisis, db)


def person(people: Any, site: Site, role: str, locale: str = "fr-FR") -> Any:
    watched = people(locale)
    sign_in(watched.page, site.url, site.crisis.email(role), PASSWORD)
    return watched


def listening(site: Site, page: Any) -> None:
    """Wait until the page's live stream is open and the hub has read where things stand
    (a change made before that would be the starting point, not news)."""
    page.wait_for_function(
        "() => { const s = document.querySelector('.shell');"
        " const d = s && s['htmx-internal-data'];"
        " return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); }"
    )
    hub = site.server.app.state.live
    deadline = time.monotonic() + 10
    while hub.subscribers() < 1:  # the stream's first chunk registers it
        assert time.monotonic() < deadline, "the live stream never subscribed"
        page.wait_for_timeout(50)
    hub.poll()


def answered_authors(db: Database, incident_id: int) -> list[int]:
    with session_scope(db.factory) as session:
        return list(
            session.scalars(
                select(Conversation.author_id)
                .join(Reply, Reply.conversation_id == Conversation.id)
                .where(Reply.incident_id == incident_id)
            )
        )


@ON_POSTGRESQL
def test_an_incidents_bulk_reply_reaches_every_author_once(site: Site, people: Any) -> None:
    sonia = person(people, site, "supervisor")
    amelie = person(people, site, "agent")
    incidents = IncidentsPage(sonia.page, site.url).open()
    assert "Panne générale : les clients de Volta sans courant" in incidents.titles
    incidents.open_incident("Panne générale")
    crisis = IncidentPage(sonia.page, site.url)
    assert crisis.holding_state == "Pas encore de réponse d'attente."
    assert len(crisis.conversation_ids) == WAVE + 1
    crisis.write_answer(HOLDING)
    crisis.insert_variable("agent")
    crisis.approve()
    assert "Validée par Sonia Superviseure" in crisis.holding_state

    page = IncidentPage(amelie.page, site.url).open(site.crisis.incident_id)
    assert page.progress.get_attribute("max") == str(WAVE)
    assert page.send_button.is_enabled()
    screenshot(amelie.page, "incident")
    assert axe(amelie.page) == []
    amelie.page.on("dialog", lambda dialog: dialog.accept())
    page.send_button.dblclick()  # an impatient double press
    amelie.page.locator("#toast", has_text="12 réponses sont en route").wait_for()
    amelie.page.wait_for_timeout(500)  # a second request, if any, has answered too
    answered = answered_authors(site.db, site.crisis.incident_id)
    assert len(answered) == WAVE == len(set(answered))

    amelie.page.reload()  # after a reload: nothing left to send
    send = IncidentPage(amelie.page, site.url).send_button
    assert send.is_disabled(), "every author is answered"
    assert len(answered_authors(site.db, site.crisis.incident_id)) == WAVE

    assert deliver(site.db, SystemClock(), recording_registry()[0]) == WAVE
    page.wait_for_done(WAVE)  # live: the delivery reaches the open page by SSE
    page.show_results()
    results = page.results
    assert len(results) == WAVE
    assert {status for _, status in results} == {"envoyée"}
    assert len({handle for handle, _ in results}) == WAVE
    screenshot(amelie.page, "incident-sent")
    assert axe(amelie.page) == []
    sonia.assert_clean()
    amelie.assert_clean()


@ON_SQLITE
def test_a_conversation_joining_the_incident_appears_live_in_english(
    site: Site, people: Any
) -> None:
    agent = person(people, site, "agent", "en-GB")
    page = IncidentPage(agent.page, site.url).open(site.crisis.incident_id)
    assert agent.page.locator("h2", has_text="Holding answer").count() == 1
    assert page.holding_state == "No holding answer yet."
    before = page.conversation_ids
    listening(site, agent.page)
    with session_scope(site.db.factory) as session:
        now = datetime.now(UTC)
        author = Author(
            tenant_id=site.crisis.tenant_id,
            source="facebook",
            handle="late_customer",
            name="Late Customer",
            first_seen_at=now,
            last_seen_at=now,
        )
        session.add(author)
        session.flush()
        conversation = Conversation(
            tenant_id=site.crisis.tenant_id,
            author_id=author.id,
            source="facebook",
            brand_id=site.crisis.brand_id,
            status="open",
            root_external_id="fb-late",
            opened_at=now,
            last_activity_at=now,
            mention_count=1,
            flags=[],
            tags=[],
            sla={},
        )
        session.add(conversation)
        session.flush()
        session.add(
            Mention(
                tenant_id=site.crisis.tenant_id,
                source="facebook",
                external_id="fb-late",
                author_id=author.id,
                text="Still no power in Lyon",
                created_at=now,
                raw={},
                content_hash="late",
                ingested_at=now,
                conversation_id=conversation.id,
                metrics={},
                edit_history=[],
                toxicity_labels=[],
                priority_reasons=[],
            )
        )
        session.flush()
        actor = acting(session, site.crisis.users["agent"], site.crisis.tenant_id)
        attach_conversations(
            session, SystemClock(), actor, site.crisis.incident_id, [conversation.id]
        )
        new_id = conversation.id
    page.conversation(new_id).wait_for(timeout=15_000)
    # the row arrives with the swap; the script marks it new once htmx has settled
    marked = agent.page.locator(f'#incident-conversations li.conv.is-new[data-id="{new_id}"]')
    marked.wait_for(timeout=5_000)
    assert set(before) < set(page.conversation_ids)
    joined = agent.page.locator("#incident-conversations .joined", has_text="joined the incident")
    joined.wait_for(timeout=5_000)
    assert joined.count() == 1
    assert "Still no power in Lyon" in page.conversation(new_id).inner_text()
    agent.assert_clean()
