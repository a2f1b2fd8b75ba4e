"""The approvals view in Chromium: a supervisor approves a pending reply (French); a
supervisor sends one back, told first that a reason is needed (English)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from clameur.care.models import Reply
from clameur.db import session_scope
from tests.conftest import ON_SQLITE, Database
from tests.web.conftest import Server, running, screenshot, sign_in
from tests.web.pages import PASSWORD
from tests.web.ui.alerts import axe
from tests.web.ui.alerts_world import Crisis, build_crisis
from tests.web.ui.approvals import ApprovalsPage

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


def status_of(db: Database, reply_id: int) -> str:
    with session_scope(db.factory) as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None
        return reply.status


def test_a_supervisor_approves_a_pending_reply(site: Site, people: Any) -> None:
    sonia = people("fr-FR")
    sign_in(sonia.page, site.server.url, site.crisis.email("supervisor"), PASSWORD)
    page = ApprovalsPage(sonia.page, site.server.url).open()
    assert page.reply_ids == [site.crisis.reply_id]
    item = page.item(site.crisis.reply_id)
    assert "Mon compteur affiche une erreur E42" in item.inner_text()
    assert "Rédigée par Amélie Agent" in item.inner_text()
    assert "un incident est en cours" in item.inner_text()
    screenshot(sonia.page, "approvals")
    assert axe(sonia.page) == []
    page.approve(site.crisis.reply_id)
    page.decided(site.crisis.reply_id).wait_for()
    assert "Réponse validée" in page.decided(site.crisis.reply_id).inner_text()
    assert status_of(site.db, site.crisis.reply_id) == "queued"
    sonia.page.reload()
    assert sonia.page.get_by_text("Rien n'attend de validation.").count() == 1
    sonia.assert_clean()


def test_a_supervisor_sends_a_reply_back_with_a_reason_in_english(site: Site, people: Any) -> None:
    sup = people("en-GB")
    sign_in(sup.page, site.server.url, site.crisis.email("supervisor"), PASSWORD)
    page = ApprovalsPage(sup.page, site.server.url).open()
    assert sup.page.get_by_role("heading", name="Approvals").count() == 1
    page.send_back(site.crisis.reply_id, "")
    page.error(site.crisis.reply_id).wait_for()
    assert "Say why you send this reply back" in page.error(site.crisis.reply_id).inner_text()
    assert status_of(site.db, site.crisis.reply_id) == "pending_approval"
    page.send_back(site.crisis.reply_id, "Do not promise a time: say 'today'.")
    page.decided(site.crisis.reply_id).wait_for()
    assert "Reply sent back to its writer." in page.decided(site.crisis.reply_id).inner_text()
    assert status_of(site.db, site.crisis.reply_id) == "rejected"
    assert axe(sup.page) == []
    sup.assert_clean()
