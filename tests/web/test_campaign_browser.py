"""Campaign review in Chromium: a supervisor reads the cluster side by side and confirms
it — its posts leave the queue (French); another rejects one — they go back as ordinary
work (English)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from clameur.care.inbox import inbox
from clameur.db import session_scope
from tests.conftest import ON_SQLITE, Database
from tests.web.conftest import Server, running, screenshot, sign_in
from tests.web.pages import PASSWORD
from tests.web.ui.alerts import AlertPage, CampaignPage, axe
from tests.web.ui.alerts_world import CAMPAIGN_TEXT, Crisis, build_crisis

pytestmark = ON_SQLITE


@dataclass
class Site:
    server: Server
    crisis: Crisis
    db: Database


@pytest.fixture
def site(db: Database, database_url: str) -> Iterator[Site]:
    crisis = build_crisis(db, datetime.now(UTC))
    with running(database_url) as server:
        yield Site(server, crisis, db)


def queued(site: Site) -> set[int]:
    """The open conversations the agents' lists show."""
    with session_scope(site.db.factory) as session:
        return {item.id for item in inbox(session, site.crisis.tenant_id, limit=200).items}


def test_a_campaign_is_confirmed_and_its_posts_leave_the_queue(site: Site, people: Any) -> None:
    sonia = people("fr-FR")
    sign_in(sonia.page, site.server.url, site.crisis.email("supervisor"), PASSWORD)
    alert = AlertPage(sonia.page, site.server.url).open(site.crisis.campaign_id)
    sonia.page.get_by_role("link", name="Examiner le groupe côte à côte").click()
    page = CampaignPage(sonia.page, site.server.url)
    assert page.posts.count() == 5
    assert all(CAMPAIGN_TEXT in text for text in page.texts), "near-identical, side by side"
    assert "2 jours" in page.posts.first.inner_text().replace("\xa0", " ")
    screenshot(sonia.page, "campaign")
    assert axe(sonia.page) == []
    assert set(site.crisis.campaign_conversations) <= queued(site)
    page.confirm("Comptes créés la même semaine, même texte")
    assert "Confirmée comme campagne coordonnée" in page.verdict
    assert not page.can_decide
    assert not set(site.crisis.campaign_conversations) & queued(site), "out of the queue"
    with sonia.page.expect_download() as download:
        page.report_link.click()
    assert download.value.suggested_filename == f"campaign-{site.crisis.campaign_id}.csv"
    del alert
    sonia.assert_clean()


def test_a_rejected_campaign_goes_back_to_the_queue_in_english(site: Site, people: Any) -> None:
    admin = people("en-GB")
    sign_in(admin.page, site.server.url, site.crisis.email("admin"), PASSWORD)
    page = CampaignPage(admin.page, site.server.url).open(site.crisis.campaign_id)
    assert admin.page.get_by_role("heading", name="Suspected coordinated campaign").count() == 1
    page.reject("Real customers from the Lyon outage")
    assert "Rejected: these are genuine customers" in page.verdict
    assert set(site.crisis.campaign_conversations) <= queued(site)
    admin.assert_clean()
