"""Campaign review: the cluster side by side, a supervisor's verdict, the platform's report."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care import campaigns, teams
from clameur.care.models import Conversation, ConversationEvent, Incident
from clameur.config import Settings
from clameur.db import session_scope
from clameur.detection import triage
from clameur.detection.models import Alert
from clameur.errors import ForbiddenError, InvalidInputError, NotFoundError
from clameur.mentions.models import Mention
from clameur.pipeline import Pipeline
from clameur.tenancy.models import AuditEntry
from tests.conftest import Database
from tests.detection.test_campaign import CLOCK, OUTAGE, planted_campaign, tenant
from tests.factories import acting, lead, member

ROLES = ("supervisor", "agent", "viewer")


def _campaign(
    db: Database, slug: str = "acme"
) -> tuple[int, int, dict[str, int], list[dict[str, Any]]]:
    """A tenant where 22 fake reviews raised a campaign alert: (tenant, alert, people by
    role, the records)."""
    tenant_id = tenant(db, slug)
    records = planted_campaign(OUTAGE, seed=3)
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=500), clock=CLOCK)
    assert pipeline.ingest(records, tenant_id).rejected == 0
    with session_scope(db.factory) as session:
        people = {
            role: member(session, CLOCK, f"{role}@{slug}.example", tenant_id, role).id
            for role in ROLES
        }
        alert_id = session.scalars(
            select(Alert.id).where(Alert.tenant_id == tenant_id, Alert.kind == "campaign")
        ).one()
    return tenant_id, alert_id, people, records


def test_the_cluster_side_by_side(db: Database) -> None:
    tenant_id, alert_id, people, records = _campaign(db)
    with session_scope(db.factory) as session:
        view = campaigns.campaign_view(
            session, acting(session, people["viewer"], tenant_id), alert_id, now=CLOCK.now()
        )
        conversations = session.scalars(
            select(Conversation.id).where(Conversation.tenant_id == tenant_id)
        ).all()
    assert view.total == len(view.members) == 22
    assert view.alert["kind"] == "campaign"
    assert view.score is not None and view.score > 0.5  # noqa: PT018
    assert "22 one-star reviews" in view.reasons
    assert view.signals["one_star"] == 22
    assert view.incident_id is not None
    assert view.conversation_ids == sorted(conversations)
    by_id = {r["external_id"]: r for r in records}
    times = [m.posted_at for m in view.members]
    assert times == sorted(times)
    assert view.members[0].offset_seconds == 0
    for m in view.members:
        record = by_id[m.external_id]
        assert m.text == record["text"]
        assert m.posted_at == datetime.fromisoformat(record["created_at"])
        assert m.handle == record["author"]["handle"]
        assert m.followers == record["author"]["followers"]
        created = datetime.fromisoformat(record["author"]["created_at"])
        assert m.account_created_at == created
        expected = round((m.posted_at - created).total_seconds() / 86400, 1)
        assert m.account_age_days == expected
        assert m.account_age_days is not None and m.account_age_days < 13  # noqa: PT018
        assert m.conversation_id in conversations
        assert m.offset_seconds == (m.posted_at - times[0]).total_seconds()
    with session_scope(db.factory) as session:
        shown = campaigns.campaign_view(
            session, acting(session, people["agent"], tenant_id), alert_id, limit=5
        )
    assert (len(shown.members), shown.total) == (5, 22)


def test_confirming_takes_the_posts_out_of_the_queues_for_good(db: Database) -> None:
    tenant_id, alert_id, people, _ = _campaign(db)
    with session_scope(db.factory) as session:
        some = session.scalars(
            select(Conversation).where(Conversation.tenant_id == tenant_id).limit(2)
        ).all()
        some[0].assignee_id = people["agent"]  # someone had picked one up
        for who in ("agent", "viewer"):
            with pytest.raises(ForbiddenError, match="campaigns.review"):
                campaigns.confirm_campaign(
                    session, CLOCK, acting(session, people[who], tenant_id), alert_id
                )
    with session_scope(db.factory) as session:
        boss = acting(session, people["supervisor"], tenant_id)
        done = campaigns.confirm_campaign(session, CLOCK, boss, alert_id, note="fake reviews")
    assert done.verdict == "confirmed"
    assert len(done.conversations) == 22
    with session_scope(db.factory) as session:
        rows = session.scalars(
            select(Conversation).where(Conversation.id.in_(done.conversations))
        ).all()
        assert {r.status for r in rows} == {"closed"}
        assert all({"campaign", "campaign_confirmed"} <= set(r.flags) for r in rows)
        assert {(r.assignee_id, r.queue_id, r.snoozed_until) for r in rows} == {(None, None, None)}
        assert all(r.resolved_at is not None for r in rows)
        events = session.scalars(
            select(ConversationEvent).where(ConversationEvent.kind == "campaign_confirmed")
        ).all()
        assert len(events) == 22
        assert {e.data["alert_id"] for e in events} == {alert_id}
        assert any(e.data["assignee"] == people["agent"] for e in events)
        alert = session.get_one(Alert, alert_id)
        state = triage.triage_of(alert)
        assert alert.status == "resolved"
        assert (state["verdict"], state["verdict_by"], state["note"]) == (
            "confirmed",
            "supervisor@acme.example",
            "fake reviews",
        )
        assert session.get_one(Incident, done.incident_id).status == "closed"
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "campaign.confirm")
        ).one()
        assert audited.data["conversations"] == 22
        members = session.scalars(
            select(Mention.external_id).where(Mention.conversation_id.in_(done.conversations))
        ).all()
        assert len(members) == 22, "the posts stay attached to their alert: flagged"
    with session_scope(db.factory) as session:
        boss = acting(session, people["supervisor"], tenant_id)
        with pytest.raises(InvalidInputError, match="already confirmed"):
            campaigns.reject_campaign(session, CLOCK, boss, alert_id)
        with pytest.raises(InvalidInputError, match="already confirmed"):
            campaigns.confirm_campaign(session, CLOCK, boss, alert_id)
        item = triage.get_alert(session, boss, alert_id)
        assert item["verdict"] == "confirmed"


def test_rejecting_sends_them_back_as_ordinary_work(db: Database) -> None:
    tenant_id, alert_id, people, _ = _campaign(db)
    with session_scope(db.factory) as session:
        boss = lead(session, CLOCK, tenant_id)
        team = teams.add_team(session, CLOCK, boss, "Front")
        queue = teams.add_queue(session, CLOCK, boss, "Reviews", team_id=team.id)
        queue_id = queue.id
        flagged = session.scalars(
            select(Conversation.id).where(
                Conversation.tenant_id == tenant_id, Conversation.queue_id.is_(None)
            )
        ).all()
    with session_scope(db.factory) as session:
        boss = acting(session, people["supervisor"], tenant_id)
        done = campaigns.reject_campaign(session, CLOCK, boss, alert_id, note="real customers")
    assert done.verdict == "rejected"
    with session_scope(db.factory) as session:
        rows = session.scalars(
            select(Conversation).where(Conversation.id.in_(done.conversations))
        ).all()
        assert len(rows) == 22
        assert all("campaign" not in r.flags for r in rows)
        assert {(r.status, r.queue_id) for r in rows} == {("open", queue_id)}
        assert set(flagged) <= {r.id for r in rows}
        events = session.scalars(
            select(ConversationEvent.kind).where(ConversationEvent.kind == "campaign_rejected")
        ).all()
        assert len(events) == 22
        alert = session.get_one(Alert, alert_id)
        assert (alert.status, triage.triage_of(alert)["verdict"]) == ("resolved", "rejected")
        with pytest.raises(InvalidInputError, match="already rejected"):
            campaigns.confirm_campaign(session, CLOCK, boss, alert_id)


def test_only_campaign_alerts_of_ones_tenant_are_reviewed(db: Database) -> None:
    tenant_id, alert_id, people, _ = _campaign(db)
    other_id, other_alert, others, _ = _campaign(db, "globex")
    with session_scope(db.factory) as session:
        stranger = acting(session, others["supervisor"], other_id)
        for call in (
            lambda: campaigns.campaign_view(session, stranger, alert_id),
            lambda: campaigns.confirm_campaign(session, CLOCK, stranger, alert_id),
            lambda: campaigns.campaign_report_csv(session, stranger, alert_id),
        ):
            with pytest.raises(NotFoundError):
                call()
        spike = Alert(
            tenant_id=tenant_id,
            kind="volume_spike",
            severity="low",
            key="spike:x",
            triggered_at=OUTAGE,
            updated_at=OUTAGE,
            status="open",
            summary="spike",
            count=0,
            evidence={},
        )
        session.add(spike)
        session.flush()
        boss = acting(session, people["supervisor"], tenant_id)
        with pytest.raises(InvalidInputError, match="not a campaign"):
            campaigns.confirm_campaign(session, CLOCK, boss, spike.id)
        assert other_alert != alert_id


def test_the_report_for_the_platform_is_csv_injection_safe(db: Database) -> None:
    tenant_id, alert_id, people, records = _campaign(db)
    hostile = [
        '=HYPERLINK("http://evil")',
        "+1+2",
        "-2",
        "@SUM(A1)",
        "\tTab",
        'plain, "quoted"\nline',
    ]
    with session_scope(db.factory) as session:
        mentions = session.scalars(
            select(Mention).where(Mention.tenant_id == tenant_id).order_by(Mention.created_at)
        ).all()
        for mention, text in zip(mentions, hostile, strict=False):
            mention.text = text
    with session_scope(db.factory) as session:
        viewer = acting(session, people["viewer"], tenant_id)
        rows = campaigns.campaign_report(session, viewer, alert_id)
        text = campaigns.campaign_report_csv(session, viewer, alert_id)
    assert len(rows) == 22
    assert list(rows[0]) == list(campaigns.REPORT_COLUMNS)
    assert rows[0]["platform"] == "review"
    assert rows[0]["text"] == hostile[0], "the report data is exact; only the CSV is escaped"
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == list(campaigns.REPORT_COLUMNS)
    assert len(parsed) == 23
    cells = [row[-1] for row in parsed[1:7]]
    assert cells == [
        '\'=HYPERLINK("http://evil")',
        "'+1+2",
        "'-2",
        "'@SUM(A1)",
        "'\tTab",
        'plain, "quoted"\nline',
    ]
    by_id = {r["external_id"]: r for r in records}
    first = parsed[1]
    record = by_id[first[1]]
    assert first[3] == record["author"]["handle"]
    assert first[5] == str(record["author"]["followers"])
    assert datetime.fromisoformat(first[4]) == datetime.fromisoformat(
        record["author"]["created_at"]
    )
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in parsed for cell in row)
    assert campaigns.safe_cell(None) == ""
    assert campaigns.safe_cell(12) == "12"
