"""The alerts pages in Chromium: a supervisor goes through the list with the keyboard,
reads a spike against its baseline, acknowledges and mutes it; a new alert appears in an
open list without a reload (French); a client's viewer reads an alert without any button
(English)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from clameur.db import session_scope
from clameur.detection.models import Alert
from tests.conftest import ON_POSTGRESQL, Database
from tests.web.conftest import Server, running, screenshot, sign_in
from tests.web.pages import PASSWORD
from tests.web.ui.alerts import AlertPage, AlertsPage, axe
from tests.web.ui.alerts_world import Crisis, build_crisis

pytestmark = ON_POSTGRESQL


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


def listening(site: Site, page: Any) -> None:
    """Wait until the page's live stream is subscribed and the hub knows where things
    stand (what changes next is news)."""
    hub = site.server.app.state.live
    deadline = time.monotonic() + 10
    while hub.subscribers() < 1:
        assert time.monotonic() < deadline, "the live stream never subscribed"
        page.wait_for_timeout(50)
    hub.poll()


def test_a_supervisor_handles_a_spike(site: Site, people: Any) -> None:
    sonia = people("fr-FR")
    sign_in(sonia.page, site.server.url, site.crisis.email("supervisor"), PASSWORD)
    alerts = AlertsPage(sonia.page, site.server.url).open()
    assert alerts.ids == [site.crisis.spike_id, site.crisis.influencer_id, site.crisis.campaign_id]
    screenshot(sonia.page, "alerts")
    assert axe(sonia.page) == []
    alerts.press("j")
    alerts.press("j")
    assert alerts.current == site.crisis.influencer_id
    alerts.press("k")
    assert alerts.current == site.crisis.spike_id
    alerts.press("Enter")
    sonia.page.wait_for_url(f"**/alerts/{site.crisis.spike_id}")
    alert = AlertPage(sonia.page, site.server.url)
    assert "Pic négatif" in alert.heading
    assert alert.bars >= 12
    assert alert.chart.get_attribute("role") == "img"
    screenshot(sonia.page, "alert")
    assert axe(sonia.page) == []
    alert.acknowledge()
    alert.state.get_by_text("supervisor@acme.example").wait_for()
    alert.mute("4 heures")
    alert.state.get_by_text("En sourdine jusqu'au").wait_for()
    with session_scope(site.db.factory) as session:
        found = session.get(Alert, site.crisis.spike_id)
        assert found is not None
        assert found.evidence["triage"]["muted_by"] == "supervisor@acme.example"
    alert.open_incident()
    assert sonia.page.url.endswith(f"/incidents/{site.crisis.incident_id}")
    sonia.assert_clean()


def test_a_new_alert_appears_live_and_a_viewer_has_no_button_in_english(
    site: Site, people: Any
) -> None:
    client = people("en-GB")
    sign_in(client.page, site.server.url, site.crisis.email("viewer"), PASSWORD)
    alerts = AlertsPage(client.page, site.server.url).open()
    assert client.page.get_by_role("heading", name="Alerts", exact=True).count() == 1
    listening(site, client.page)
    now = datetime.now(UTC)
    with session_scope(site.db.factory) as session:
        fresh = Alert(
            tenant_id=site.crisis.tenant_id,
            brand_id=site.crisis.brand_id,
            kind="volume_spike",
            severity="critical",
            key="spike:fresh",
            triggered_at=now,
            updated_at=now,
            status="open",
            summary="fresh",
            count=3,
            evidence={"peak": 180, "expected": 4.0, "window_minutes": 15},
        )
        session.add(fresh)
        session.flush()
        fresh_id = fresh.id
    alerts.row(fresh_id).wait_for(timeout=15_000)
    assert alerts.ids[0] == fresh_id, "newest first"
    assert "180 mentions in 15 min at the peak" in alerts.row(fresh_id).inner_text()
    alert = AlertPage(client.page, site.server.url).open(site.crisis.spike_id)
    assert "Negative spike" in alert.heading
    assert not alert.can_act
    assert "A supervisor handles this alert" in alert.state.inner_text()
    assert axe(client.page) == []
    client.assert_clean()
