"""Campaign review over HTTP: the cluster side by side (texts, account ages, followers,
timing), the verdict for supervisors only — confirmed: its conversations leave the queues,
flagged; rejected: they go back as ordinary work — once; the CSV report for the platform
(CSV-injection safe); CSRF and another client's campaign."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clameur.care.inbox import inbox
from clameur.care.models import Conversation
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.detection.models import Alert
from clameur.mentions.models import Mention
from tests.conftest import Database
from tests.web.pages import csrf_of, signed_in
from tests.web.ui.alerts_world import Crisis, build_crisis

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def crisis(db: Database) -> Crisis:
    return build_crisis(db, NOW)


def client(db: Database, crisis: Crisis, role: str) -> TestClient:
    return signed_in(db, crisis.email(role), FrozenClock(NOW))


def open_ids(db: Database, crisis: Crisis) -> set[int]:
    with session_scope(db.factory) as session:
        page = inbox(session, crisis.tenant_id, status="open", limit=200)
        return {item.id for item in page.items}


def conversations(db: Database, ids: list[int]) -> list[Conversation]:
    with session_scope(db.factory) as session:
        return list(session.scalars(select(Conversation).where(Conversation.id.in_(ids))))


def test_the_cluster_is_shown_side_by_side(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "viewer").get(f"/campaigns/{crisis.campaign_id}")
    assert page.status_code == 200
    html = unescape(page.text).replace("\xa0", " ")
    posts = re.findall(r'<li class="post( new-account)?">', page.text)
    assert len(posts) == 5
    assert all(posts), "every account is under 30 days old"
    for n in range(5):
        assert f"@patriote{n}{n}" in html
    assert html.count("Volta a volé mes données") == 5, "the near-identical texts"
    assert "2 jours" in html, "account ages at posting time"
    assert "14 jours" in html
    assert "Abonnés" in html
    assert ">12<" in page.text, "followers"
    assert "4 comptes sur 5 avaient moins de 7 jours" in html, "the signals in French"
    assert "94" in html, "similarity"
    assert "82" in html, "score"
    assert "12 minutes" in html, "first to last post"
    assert html.count("<circle") == 5, "the timing strip"
    assert f'href="/campaigns/{crisis.campaign_id}/report.csv"' in page.text
    assert "/confirm" not in page.text, "a viewer has no verdict"
    assert "/reject" not in page.text
    assert "Un superviseur rend le verdict" in html


def test_a_supervisor_confirms_and_the_posts_leave_the_queues(db: Database, crisis: Crisis) -> None:
    assert set(crisis.campaign_conversations) <= open_ids(db, crisis), "open before"
    page = client(db, crisis, "supervisor")
    path = f"/campaigns/{crisis.campaign_id}"
    view = page.get(path).text
    assert f'action="{path}/confirm"' in view
    assert f'formaction="{path}/reject"' in view
    token = csrf_of(view)
    answer = page.post(
        f"{path}/confirm",
        data={"note": "Comptes créés la même semaine", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == path
    assert not set(crisis.campaign_conversations) & open_ids(db, crisis), "out of the queues"
    for conversation in conversations(db, crisis.campaign_conversations):
        assert conversation.status == "closed"
        assert {"campaign", "campaign_confirmed"} <= set(conversation.flags)
        assert conversation.queue_id is None
        assert conversation.assignee_id is None
    with session_scope(db.factory) as session:
        alert = session.get(Alert, crisis.campaign_id)
        assert alert is not None
        assert alert.status == "resolved"
        assert alert.evidence["triage"]["verdict"] == "confirmed"
    after = unescape(page.get(path).text)
    assert "Confirmée comme campagne coordonnée" in after
    assert "Ses 5 conversations ont quitté les files" in after
    assert "Comptes créés la même semaine" in after
    assert f'action="{path}/confirm"' not in after, "a verdict is given once"
    again = page.post(f"{path}/reject", data={"csrf_token": token})
    assert again.status_code == 422, "a second verdict is refused"
    assert conversations(db, crisis.campaign_conversations)[0].status == "closed"


def test_a_rejected_campaign_goes_back_as_ordinary_work(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "admin")
    path = f"/campaigns/{crisis.campaign_id}"
    token = csrf_of(page.get(path).text)
    answer = page.post(f"{path}/reject", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    for conversation in conversations(db, crisis.campaign_conversations):
        assert conversation.status == "open"
        assert "campaign" not in conversation.flags
    assert set(crisis.campaign_conversations) <= open_ids(db, crisis)
    assert "Rejetée : ce sont de vrais clients" in unescape(page.get(path).text)


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_only_supervisors_give_the_verdict(db: Database, crisis: Crisis, role: str) -> None:
    page = client(db, crisis, role)
    path = f"/campaigns/{crisis.campaign_id}"
    token = csrf_of(page.get(path).text)
    for verdict in ("confirm", "reject"):
        answer = page.post(f"{path}/{verdict}", data={"csrf_token": token})
        assert answer.status_code == 403, verdict
    assert all(c.status == "open" for c in conversations(db, crisis.campaign_conversations))


def test_the_verdict_needs_the_csrf_token(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "supervisor")
    path = f"/campaigns/{crisis.campaign_id}"
    assert page.post(f"{path}/confirm").status_code == 403
    assert page.post(f"{path}/reject", data={"csrf_token": "forged"}).status_code == 403
    assert all(c.status == "open" for c in conversations(db, crisis.campaign_conversations))


def test_the_report_for_the_platform_is_safe_csv(db: Database, crisis: Crisis) -> None:
    with session_scope(db.factory) as session:
        mention = session.scalars(
            select(Mention).where(Mention.conversation_id == crisis.campaign_conversations[0])
        ).one()
        mention.text = '=HYPERLINK("http://evil.example")'
    answer = client(db, crisis, "viewer").get(f"/campaigns/{crisis.campaign_id}/report.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(answer.text)))
    assert table[0][:3] == ["platform", "external_id", "url"]
    assert len(table) == 6
    texts = [row[table[0].index("text")] for row in table[1:]]
    assert texts[0] == '\'=HYPERLINK("http://evil.example")', "no formula for a spreadsheet"
    assert [row[table[0].index("author_handle")] for row in table[1:]] == [
        f"patriote{n}{n}" for n in range(5)
    ]


def test_another_clients_campaign_or_another_alert_kind_is_not_found(
    db: Database, crisis: Crisis
) -> None:
    page = client(db, crisis, "supervisor")
    token = csrf_of(page.get("/alerts").text)
    for alert_id in (crisis.other_alert_id, crisis.spike_id, 999_999):
        assert page.get(f"/campaigns/{alert_id}").status_code == 404
        assert page.get(f"/campaigns/{alert_id}/report.csv").status_code == 404
    refused = page.post(f"/campaigns/{crisis.other_alert_id}/confirm", data={"csrf_token": token})
    assert refused.status_code == 404
    refused = page.post(f"/campaigns/{crisis.spike_id}/confirm", data={"csrf_token": token})
    assert refused.status_code == 422, "a spike is not a campaign"
