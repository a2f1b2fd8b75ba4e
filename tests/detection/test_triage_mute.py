"""Muting an alert: no notification about it until the time passes; its incident beside it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from clameur.care.models import Incident
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.detection import triage
from clameur.detection.notify import send_digests
from clameur.errors import ForbiddenError, InvalidInputError, NotFoundError
from clameur.tenancy.models import AuditEntry
from tests.conftest import Database
from tests.detection.test_notify import EVENT_TIME, notified, outbox, raise_alert, setup_tenant
from tests.factories import acting, member


def _people(db: Database, clock: FrozenClock, tenant_id: int) -> tuple[int, int, int]:
    with session_scope(db.factory) as session:
        return tuple(  # type: ignore[return-value]
            member(session, clock, f"{role}@acme.example", tenant_id, role).id
            for role in ("supervisor", "agent", "viewer")
        )


def test_a_muted_alert_escalates_without_notifying_anyone(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"])
    supervisor, agent, viewer = _people(db, clock, ids[0])
    alert_id = raise_alert(db, clock, ids, "medium")
    assert len(outbox(db, "alert.email")) == 1
    with session_scope(db.factory) as session:
        item = triage.mute(session, clock.now(), acting(session, supervisor, ids[0]), alert_id, 2)
    assert item["muted"] is True
    assert item["muted_until"] == (clock.now() + timedelta(hours=2)).isoformat()
    assert item["muted_by"] == "supervisor@acme.example"
    assert item["status"] == "open", "muting keeps the alert open"
    assert "triage" not in item["evidence"]

    # escalations while muted: nothing sent, not even held for the digest
    raise_alert(db, clock, ids, "high", EVENT_TIME + timedelta(minutes=5))
    raise_alert(db, clock, ids, "critical", EVENT_TIME + timedelta(minutes=6))
    assert len(outbox(db, "alert.email")) == 1
    assert notified(db, alert_id) == "critical", "what it reached while muted counts as told"
    with session_scope(db.factory) as session:
        clock.advance(timedelta(hours=1))
        assert send_digests(session, clock) == 0

    with session_scope(db.factory) as session:
        later = triage.get_alert(
            session, acting(session, viewer, ids[0]), alert_id, now=clock.now() + timedelta(hours=1)
        )
        assert later["muted"] is False, "two hours have passed by then"
        assert later["muted_until"] == item["muted_until"]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.mute")).one()
        assert entry.data["hours"] == 2
        assert entry.object_id == alert_id


def test_an_alert_escalating_after_its_mute_notifies_again(
    db: Database, clock: FrozenClock
) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"])
    supervisor, _, _ = _people(db, clock, ids[0])
    alert_id = raise_alert(db, clock, ids, "medium")
    with session_scope(db.factory) as session:
        triage.mute(session, clock.now(), acting(session, supervisor, ids[0]), alert_id, 1)
    clock.advance(timedelta(hours=1, seconds=1))
    raise_alert(db, clock, ids, "high", EVENT_TIME + timedelta(minutes=5))
    emails = outbox(db, "alert.email")
    assert len(emails) == 2
    assert "Escalated" in emails[1].payload["subject"]


def test_an_alert_held_for_the_digest_then_muted_is_not_digested(
    db: Database, clock: FrozenClock
) -> None:
    ids = setup_tenant(
        db, clock, emails=["ops@example.com"], notify_min_severity="high", digest_minutes=30
    )
    supervisor, _, _ = _people(db, clock, ids[0])
    alert_id = raise_alert(db, clock, ids, "medium")  # below the minimum: held
    assert outbox(db) == []
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 0  # the window opens
        triage.mute(session, clock.now(), acting(session, supervisor, ids[0]), alert_id, 24)
    clock.advance(timedelta(minutes=31))
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 0
    assert outbox(db) == []
    assert notified(db, alert_id) == "medium"


def test_who_may_mute_and_for_how_long(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"])
    supervisor, agent, viewer = _people(db, clock, ids[0])
    alert_id = raise_alert(db, clock, ids, "medium")
    with session_scope(db.factory) as session:
        for who in (agent, viewer):
            with pytest.raises(ForbiddenError, match="alerts.manage"):
                triage.mute(session, clock.now(), acting(session, who, ids[0]), alert_id, 1)
        boss = acting(session, supervisor, ids[0])
        for hours in (0, 169, -1, True):
            with pytest.raises(InvalidInputError, match="hours"):
                triage.mute(session, clock.now(), boss, alert_id, hours)  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            triage.mute(session, clock.now(), boss, 987654, 1)
        assert triage.mute(session, clock.now(), boss, alert_id, 168)["muted"] is True
    other = setup_tenant(db, clock, "globex")
    with session_scope(db.factory) as session:
        stranger = member(session, clock, "boss@globex.example", other[0], "admin")
        with pytest.raises(NotFoundError):
            triage.mute(session, clock.now(), acting(session, stranger.id, other[0]), alert_id, 1)


def test_each_alert_names_its_incident(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock)
    supervisor, _, viewer = _people(db, clock, ids[0])
    with_incident = raise_alert(db, clock, ids, "high")
    without = raise_alert(db, clock, ids, "low", key="spike:other")
    with session_scope(db.factory) as session:
        incident = Incident(
            tenant_id=ids[0],
            alert_id=with_incident,
            title="Spike",
            status="open",
            opened_at=EVENT_TIME,
        )
        session.add(incident)
        session.flush()
        incident_id = incident.id
    with session_scope(db.factory) as session:
        who = acting(session, viewer, ids[0])
        assert triage.incident_for(session, who, with_incident) == incident_id
        assert triage.incident_for(session, who, without) is None
        page = triage.list_alerts(session, who, now=clock.now())
        assert {i["id"]: i["incident_id"] for i in page.items} == {
            with_incident: incident_id,
            without: None,
        }
        assert all(i["muted"] is False and i["muted_until"] is None for i in page.items)
        assert triage.get_alert(session, who, with_incident)["incident_id"] == incident_id
