"""The alerts pages over HTTP: the list (open first, filters, keyset pages, live rows), one
alert (summary, the spike's chart against its baseline, evidence), and its handling —
acknowledge, mute, resolve — for supervisors only; viewers and agents see no button and
are refused (403); every write needs its CSRF token; another client's alert is a 404;
hostile text stays escaped and isolated."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.detection.models import Alert
from tests.conftest import Database
from tests.web.pages import csrf_of, signed_in
from tests.web.ui.alerts_world import Crisis, build_crisis

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def crisis(db: Database) -> Crisis:
    return build_crisis(db, NOW)


def client(db: Database, crisis: Crisis, role: str) -> TestClient:
    return signed_in(db, crisis.email(role), FrozenClock(NOW))


def htmx(page: TestClient, path: str) -> dict[str, str]:
    """The headers htmx sends: the request marker and the session's CSRF token."""
    return {"HX-Request": "true", "X-CSRF-Token": csrf_of(page.get(path).text)}


def rows(html: str) -> list[str]:
    return re.findall(r'<tr class="alert-row[^"]*" data-id="(\d+)"', html)


def alert_row(db: Database, alert_id: int) -> Alert:
    with session_scope(db.factory) as session:
        found = session.get(Alert, alert_id)
        assert found is not None
        return found


def test_the_list_shows_each_open_alert_with_severity_kind_brand_and_time(
    db: Database, crisis: Crisis
) -> None:
    page = client(db, crisis, "agent").get("/alerts")
    assert page.status_code == 200
    assert rows(page.text) == [
        str(crisis.spike_id),
        str(crisis.influencer_id),
        str(crisis.campaign_id),
    ]
    text = page.text
    for label in ("Pic négatif", "Influenceur", "Campagne suspectée", "haute", "moyenne"):
        assert label in text
    assert "<bdi>Volta</bdi>" in text
    assert "il y a 40 minutes" in text, "event time, relative, in French"
    assert f'href="/incidents/{crisis.incident_id}"' in text, "the spike links its incident"
    assert f'href="/campaigns/{crisis.campaign_id}"' in text, "the campaign links its review"
    assert "13 mentions négatives en 15 min au plus fort" in text, "the headline in French"
    assert 'hx-trigger="sse:alerts"' in text, "the rows refresh live"
    assert 'aria-current="page" class="active">Ouvertes<' in text, "open alerts first"


def test_the_dashboard_describes_alerts_in_the_pages_language(db: Database, crisis: Crisis) -> None:
    text = client(db, crisis, "viewer").get("/dashboard").text
    assert "13 mentions négatives en 15 min au plus fort" in text, "as on the alerts page"
    assert "negative mentions in" not in text, "not the detector's English summary"


def test_filters_narrow_the_list_and_unknown_values_are_ignored(
    db: Database, crisis: Crisis
) -> None:
    page = client(db, crisis, "viewer")
    assert rows(page.get("/alerts", params={"kind": "influencer"}).text) == [
        str(crisis.influencer_id)
    ]
    assert rows(page.get("/alerts", params={"severity": "medium"}).text) == [
        str(crisis.campaign_id)
    ]
    assert len(rows(page.get("/alerts", params={"brand": "volta"}).text)) == 3
    assert len(rows(page.get("/alerts", params={"brand": "bravo", "kind": "nope"}).text)) == 3, (
        "another client's brand and an unknown kind are no filter"
    )
    assert rows(page.get("/alerts", params={"status": "resolved"}).text) == []
    fragment = page.get("/alerts/rows", params={"kind": "campaign"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert rows(fragment.text) == [str(crisis.campaign_id)]


def test_keyset_pages_go_through_every_alert_once(db: Database, crisis: Crisis) -> None:
    with session_scope(db.factory) as session:
        for n in range(30):
            at = NOW - timedelta(days=2, minutes=n)
            session.add(
                Alert(
                    tenant_id=crisis.tenant_id,
                    brand_id=crisis.brand_id,
                    kind="volume_spike",
                    severity="low",
                    key=f"old:{n}",
                    triggered_at=at,
                    updated_at=at,
                    status="open",
                    summary=f"old {n}",
                    count=1,
                    evidence={},
                )
            )
    page = client(db, crisis, "agent")
    first = page.get("/alerts")
    seen = rows(first.text)
    assert len(seen) == 25
    cursor = re.search(r'cursor=([^"&]+)" rel="next"', first.text)
    assert cursor is not None
    second = page.get(f"/alerts?status=open&cursor={cursor.group(1)}")
    more = rows(second.text)
    assert len(more) == 8
    assert not set(more) & set(seen)
    assert 'rel="next"' not in second.text
    broken = page.get("/alerts", params={"cursor": "not-a-cursor"})
    assert broken.status_code == 200
    assert "Cette page n'existe plus" in unescape(broken.text)
    assert len(rows(broken.text)) == 25


class _Svg(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.inside = True
        if self.inside:
            self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.inside = False


def test_a_spike_shows_its_chart_against_the_baseline_and_its_evidence(
    db: Database, crisis: Crisis
) -> None:
    page = client(db, crisis, "viewer").get(f"/alerts/{crisis.spike_id}")
    assert page.status_code == 200
    html = page.text
    svg = _Svg()
    svg.feed(html)
    tags = [tag for tag, _ in svg.tags]
    assert tags[0] == "svg"
    assert "title" in tags
    assert "desc" in tags
    assert svg.tags[0][1]["role"] == "img"
    assert not [a for _, a in svg.tags if "style" in a], "presentation attributes only"
    bars = [a for tag, a in svg.tags if tag == "rect"]
    assert 12 <= len(bars) <= 48
    peak = [a for a in bars if "peak" in (a.get("class") or "")]
    assert len(peak) == 1
    heights = [float(a["height"] or 0) for a in bars]
    assert float(peak[0]["height"] or 0) == max(heights)
    assert any(a.get("class") == "expected" for tag, a in svg.tags if tag == "line")
    assert "Au plus fort, 14 mentions négatives en 15 minutes" in html, "a text summary"
    assert "la même heure de la semaine" in html, "which baseline"
    assert "Afficher les chiffres" in html, "the figures as a table too"
    for n in range(12):
        assert f"@client{n:02d}" in html, "the evidence's authors"
    assert "Panne générale chez Volta ! (3)" in html, "the evidence's mentions"
    assert f'href="/incidents/{crisis.incident_id}"' in html


def test_an_influencer_or_a_campaign_has_no_chart_but_its_own_evidence(
    db: Database, crisis: Crisis
) -> None:
    page = client(db, crisis, "agent")
    influencer = page.get(f"/alerts/{crisis.influencer_id}").text
    assert "<svg" not in influencer
    assert "@julie_tech" in influencer
    assert "450" in influencer
    assert 'href="https://x.example/julie/1"' in influencer
    campaign = page.get(f"/alerts/{crisis.campaign_id}").text
    assert f'href="/campaigns/{crisis.campaign_id}"' in campaign
    assert "94" in campaign
    assert "similarité médiane" in campaign.lower()


def test_a_supervisor_acknowledges_mutes_and_resolves(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "supervisor")
    path = f"/alerts/{crisis.spike_id}"
    detail = page.get(path).text
    for action in ("acknowledge", "mute", "resolve"):
        assert f'action="{path}/{action}"' in detail
    headers = htmx(page, path)
    acknowledged = page.post(f"{path}/acknowledge", headers=headers)
    assert acknowledged.status_code == 200
    assert "<html" not in acknowledged.text
    assert 'id="alert-state"' in acknowledged.text
    assert "supervisor@acme.example" in acknowledged.text
    assert "toast" in acknowledged.headers["HX-Trigger"]
    assert f'action="{path}/acknowledge"' not in acknowledged.text, "acknowledged once"
    muted = page.post(f"{path}/mute", data={"hours": "4"}, headers=headers)
    assert muted.status_code == 200
    assert "En sourdine jusqu'au" in unescape(muted.text)
    state = alert_row(db, crisis.spike_id).evidence["triage"]
    assert state["muted_until"] == (NOW + timedelta(hours=4)).isoformat()
    assert page.post(f"{path}/mute", data={"hours": "5000"}, headers=headers).status_code == 422
    token = csrf_of(detail)
    resolved = page.post(
        f"{path}/resolve",
        data={"note": "Panne réparée", "csrf_token": token},
        follow_redirects=False,
    )
    assert resolved.status_code == 303
    assert resolved.headers["location"] == path
    alert = alert_row(db, crisis.spike_id)
    assert alert.status == "resolved"
    assert alert.evidence["triage"]["note"] == "Panne réparée"
    after = page.get(path).text
    assert "Panne réparée" in after
    assert f'action="{path}/resolve"' not in after
    assert str(crisis.spike_id) not in rows(page.get("/alerts").text)
    assert str(crisis.spike_id) in rows(page.get("/alerts", params={"status": "resolved"}).text)


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_viewers_and_agents_see_no_button_and_are_refused(
    db: Database, crisis: Crisis, role: str
) -> None:
    page = client(db, crisis, role)
    path = f"/alerts/{crisis.spike_id}"
    detail = page.get(path).text
    assert "<form" not in detail.split('id="alert-state"')[1].split("</section>")[0]
    assert "Un superviseur traite cette alerte" in detail
    token = csrf_of(detail)
    for action, data in (("acknowledge", {}), ("mute", {"hours": "4"}), ("resolve", {})):
        refused = page.post(f"{path}/{action}", data={**data, "csrf_token": token})
        assert refused.status_code == 403, action
        assert "Votre rôle ne permet pas cette action." in refused.text
    tried = page.post(f"{path}/acknowledge", headers=htmx(page, path))
    assert tried.status_code == 403
    assert tried.headers["X-Clameur-Message"]
    assert "acknowledged_at" not in alert_row(db, crisis.spike_id).evidence.get("triage", {})


def test_every_action_needs_the_csrf_token(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "supervisor")
    path = f"/alerts/{crisis.spike_id}"
    for action in ("acknowledge", "mute", "resolve"):
        assert page.post(f"{path}/{action}", data={"hours": "4"}).status_code == 403
        wrong = page.post(f"{path}/{action}", data={"hours": "4", "csrf_token": "forged"})
        assert wrong.status_code == 403
    assert alert_row(db, crisis.spike_id).evidence.get("triage") is None


def test_another_clients_alert_is_not_found(db: Database, crisis: Crisis) -> None:
    page = client(db, crisis, "supervisor")
    other = f"/alerts/{crisis.other_alert_id}"
    assert page.get(other).status_code == 404
    assert page.get(f"{other}/state").status_code == 404
    token = csrf_of(page.get("/alerts").text)
    for action in ("acknowledge", "mute", "resolve"):
        answer = page.post(f"{other}/{action}", data={"hours": "4", "csrf_token": token})
        assert answer.status_code == 404, action
    assert alert_row(db, crisis.other_alert_id).evidence.get("triage") is None
    assert page.get("/alerts/999999").status_code == 404


HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(1)>\u202egpj.exe'


def test_hostile_text_is_escaped_and_isolated(db: Database, crisis: Crisis) -> None:
    with session_scope(db.factory) as session:
        alert = session.get(Alert, crisis.spike_id)
        assert alert is not None
        alert.summary = HOSTILE
        alert.evidence = {**alert.evidence, "top_terms": [HOSTILE]}
        from clameur.mentions.models import Mention

        for mention in session.scalars(
            select(Mention).where(Mention.tenant_id == crisis.tenant_id).limit(60)
        ):
            mention.text = HOSTILE
    page = client(db, crisis, "supervisor")
    for path in ("/alerts", f"/alerts/{crisis.spike_id}", "/alerts/rows"):
        html = page.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "&lt;script&gt;" in html, path
        for chunk in html.split("\u202e")[:-1]:
            opener = chunk.rfind("<bdi")
            closer = chunk.rfind("</bdi>")
            auto = chunk.rfind('dir="auto"')
            assert max(opener, auto) > closer, f"{path}: untrusted text outside <bdi>/dir=auto"
