"""When an alert is notified: at once, escalated, held for the digest, digested once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.core import OutboxEvent
from clameur.db import session_scope
from clameur.detection.alerts import Member, raise_or_update
from clameur.detection.models import Alert
from clameur.detection.notify import send_digests
from clameur.detection.rules import load_rules, set_rule
from clameur.tenancy import Brand
from tests.conftest import Database, make_tenant

EVENT_TIME = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
"""Event time of the alerts (the clock fixture says 12:00 the same day)."""


def setup_tenant(
    db: Database, clock: FrozenClock, slug: str = "acme", **rules: Any
) -> tuple[int, int]:
    """A tenant with one brand (same slug) and tenant-wide alert rules; (tenant, brand) ids."""
    tenant = make_tenant(db, clock, slug, {slug: [slug]})
    with session_scope(db.factory) as session:
        brand_id = session.scalars(select(Brand.id).where(Brand.tenant_id == tenant.id)).one()
        set_rule(session, tenant.id, None, rules, clock.now())
    return tenant.id, brand_id


def raise_alert(
    db: Database,
    clock: FrozenClock,
    ids: tuple[int, int],
    severity: str,
    at: datetime = EVENT_TIME,
    *,
    key: str = "spike:acme",
    summary: str = "Negative spike: 42 mentions about « refund » in 15 min",
    kind: str = "negative_spike",
) -> int:
    """Raise (or update) an alert through ``raise_or_update``, as a detector does."""
    tenant_id, brand_id = ids
    members = [
        Member("twitter", f"{key}-{i}", f"client{i}", at - timedelta(minutes=i)) for i in range(3)
    ]
    with session_scope(db.factory) as session:
        rules = load_rules(session, tenant_id).for_brand(brand_id)
        alert = raise_or_update(
            session,
            clock,
            rules,
            tenant_id=tenant_id,
            brand_id=brand_id,
            kind=kind,
            key=key,
            severity=severity,
            at=at,
            summary=summary,
            evidence={"peak": 42},
            members=members,
        )
        return alert.id


def outbox(db: Database, kind: str | None = None) -> list[OutboxEvent]:
    with session_scope(db.factory) as session:
        stmt = select(OutboxEvent).order_by(OutboxEvent.id)
        if kind is not None:
            stmt = stmt.where(OutboxEvent.kind == kind)
        return list(session.scalars(stmt))


def notified(db: Database, alert_id: int) -> str | None:
    with session_scope(db.factory) as session:
        return session.get_one(Alert, alert_id).notified_severity


HOOK = {"url": "https://hooks.example.com/clameur", "secret": "s3cret"}


def test_a_raised_alert_is_sent_once_to_each_recipient(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com", "cm@example.com"], webhooks=[HOOK])
    alert_id = raise_alert(db, clock, ids, "medium")
    emails, hooks = outbox(db, "alert.email"), outbox(db, "alert.webhook")
    assert sorted(e.payload["to"] for e in emails) == ["cm@example.com", "ops@example.com"]
    payload = emails[0].payload
    assert "MEDIUM" in payload["subject"]
    assert "negative_spike" in payload["subject"]
    assert "acme" in payload["subject"]
    assert "refund" not in payload["subject"], "customer words stay out of headers"
    assert "« refund »" in payload["text"]
    assert "spike:acme-0" in payload["text"]
    snapshot = payload["alert"]
    assert snapshot["id"] == alert_id
    assert (snapshot["tenant"], snapshot["brand"], snapshot["count"]) == ("acme", "acme", 3)
    assert snapshot["evidence"]["mentions"] == ["spike:acme-2", "spike:acme-1", "spike:acme-0"]
    assert snapshot["evidence"]["authors"] == ["client2", "client1", "client0"]
    assert snapshot["evidence"]["peak"] == 42
    [hook] = hooks
    assert (hook.payload["url"], hook.payload["secret"]) == (HOOK["url"], HOOK["secret"])
    assert '"type":"alert.raised"' in hook.payload["body"]
    assert all(e.tenant_id == ids[0] for e in emails + hooks)
    assert notified(db, alert_id) == "medium"


def test_an_update_at_the_same_severity_sends_nothing(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"])
    first = raise_alert(db, clock, ids, "high")
    again = raise_alert(db, clock, ids, "high", EVENT_TIME + timedelta(minutes=5))
    lower = raise_alert(db, clock, ids, "medium", EVENT_TIME + timedelta(minutes=10))
    assert first == again == lower, "one incident, one alert"
    assert len(outbox(db)) == 1


def test_an_escalation_sends_again(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"], webhooks=[HOOK])
    alert_id = raise_alert(db, clock, ids, "medium")
    raise_alert(db, clock, ids, "critical", EVENT_TIME + timedelta(minutes=5))
    emails = outbox(db, "alert.email")
    assert len(emails) == 2
    assert emails[1].payload["subject"].startswith("[Clameur] Escalated: CRITICAL")
    assert "(was medium)" in emails[1].payload["text"]
    hooks = outbox(db, "alert.webhook")
    assert '"type":"alert.escalated"' in hooks[1].payload["body"]
    assert '"previous_severity":"medium"' in hooks[1].payload["body"]
    assert notified(db, alert_id) == "critical"
    raise_alert(db, clock, ids, "critical", EVENT_TIME + timedelta(minutes=10))
    assert len(outbox(db)) == 4


def test_below_the_minimum_severity_waits_for_the_digest(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"], notify_min_severity="high")
    alert_id = raise_alert(db, clock, ids, "medium")
    assert outbox(db) == []
    assert notified(db, alert_id) is None
    raise_alert(db, clock, ids, "medium", EVENT_TIME + timedelta(minutes=5))
    assert outbox(db) == []
    raise_alert(db, clock, ids, "high", EVENT_TIME + timedelta(minutes=10))
    [email] = outbox(db)
    assert "Escalated: HIGH" in email.payload["subject"]
    assert notified(db, alert_id) == "high"


def test_quiet_hours_hold_all_but_high_alerts(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(
        db, clock, emails=["ops@example.com"], quiet_hours=[22, 7], timezone="Europe/Paris"
    )
    night = datetime(2030, 1, 1, 22, 30, tzinfo=UTC)  # 23:30 in Paris: quiet
    morning = datetime(2030, 1, 2, 6, 0, tzinfo=UTC)  # 07:00 in Paris: not quiet
    held = raise_alert(db, clock, ids, "medium", night, key="a")
    assert outbox(db) == []
    raise_alert(db, clock, ids, "high", night, key="b")
    raise_alert(db, clock, ids, "medium", morning, key="c")
    assert len(outbox(db)) == 2
    assert notified(db, held) is None


def test_the_digest_is_sent_once_per_recipient_per_period(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(
        db, clock, emails=["ops@example.com", "cm@example.com"], webhooks=[HOOK], digest_minutes=30
    )
    first = raise_alert(db, clock, ids, "low", key="a", summary="first wave")
    second = raise_alert(db, clock, ids, "low", key="b", summary="second wave")
    with session_scope(db.factory) as session:
        assert send_digests(session, clock, ids[0]) == 0, "the window opens"
    clock.advance(timedelta(minutes=29))
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 0, "not before digest_minutes"
    clock.advance(timedelta(minutes=1))
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 3
    emails = outbox(db, "alert.email")
    assert sorted(e.payload["to"] for e in emails) == ["cm@example.com", "ops@example.com"]
    digest = emails[0].payload
    assert digest["digest"] is True
    assert [a["id"] for a in digest["alerts"]] == [first, second]
    assert "Digest for acme: 2 alerts" in digest["subject"]
    assert "first wave" in digest["text"]
    assert "second wave" in digest["text"]
    [hook] = outbox(db, "alert.webhook")
    assert '"type":"alert.digest"' in hook.payload["body"]
    assert notified(db, first) == notified(db, second) == "low"
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        with session_scope(db.factory) as session:
            assert send_digests(session, clock) == 0, "never digested twice"
    raise_alert(db, clock, ids, "low", key="c", summary="third wave")
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 0
    clock.advance(timedelta(minutes=30))
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 3
    assert [a["summary"] for a in outbox(db, "alert.email")[-1].payload["alerts"]] == ["third wave"]


def test_the_digest_waits_for_the_end_of_quiet_hours(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"], quiet_hours=[22, 7], timezone="UTC")
    clock.advance(timedelta(hours=11))  # 23:00 UTC
    raise_alert(db, clock, ids, "medium", clock.now())
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 0
    for _ in range(7):  # 00:00 … 06:00: quiet
        clock.advance(timedelta(hours=1))
        with session_scope(db.factory) as session:
            assert send_digests(session, clock) == 0
    clock.advance(timedelta(hours=1))  # 07:00
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 1


def test_an_escalated_held_alert_leaves_the_digest(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"])
    alert_id = raise_alert(db, clock, ids, "low")
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 0
    raise_alert(db, clock, ids, "high", EVENT_TIME + timedelta(minutes=5))
    assert len(outbox(db)) == 1
    clock.advance(timedelta(hours=2))
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 0
    assert len(outbox(db)) == 1
    assert notified(db, alert_id) == "high"


def test_the_digest_drops_alerts_nobody_would_receive(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock)  # no recipients
    alert_id = raise_alert(db, clock, ids, "low")
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 0
    assert notified(db, alert_id) == "low", "marked, so it is not looked at again"
    assert outbox(db) == []


def test_digests_of_every_tenant_stay_apart(db: Database, clock: FrozenClock) -> None:
    acme = setup_tenant(db, clock, "acme", emails=["ops@acme.example"])
    globex = setup_tenant(db, clock, "globex", emails=["ops@globex.example"])
    raise_alert(db, clock, acme, "low", summary="acme trouble")
    raise_alert(db, clock, globex, "low", summary="globex trouble")
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 0
    clock.advance(timedelta(hours=1))
    with session_scope(db.factory) as session:
        assert send_digests(session, clock) == 2
    by_address = {e.payload["to"]: e for e in outbox(db)}
    assert "acme trouble" in by_address["ops@acme.example"].payload["text"]
    assert "globex" not in by_address["ops@acme.example"].payload["text"]
    assert by_address["ops@globex.example"].tenant_id == globex[0]


def test_nothing_is_enqueued_when_the_alert_rolls_back(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"])
    with db.session() as session:
        rules = load_rules(session, ids[0]).for_brand(ids[1])
        raise_or_update(
            session,
            clock,
            rules,
            tenant_id=ids[0],
            brand_id=ids[1],
            kind="influencer",
            key="influencer:x",
            severity="critical",
            at=EVENT_TIME,
            summary="x",
            evidence={},
        )
        session.flush()
        session.rollback()
    assert outbox(db) == []
