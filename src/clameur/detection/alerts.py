"""Raising, updating and listing alerts: one incident is one alert.

Detectors call :func:`raise_or_update` with an incident key (``spike:brand:12``,
``influencer:twitter:1234``, ``campaign:…``). While an open alert with that key exists and
its cool-down has not passed in event time, the same alert is updated (count, severity,
evidence); otherwise a new one is raised. Notifications are scheduled through the outbox in
the same transaction (``clameur.detection.notify``): when an alert is raised, and when an
update raises its severity above what was already sent — unless a person muted the alert
(:func:`muted_until`, set by :func:`clameur.detection.triage.mute`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.core import trace
from clameur.detection.models import Alert, AlertMention
from clameur.detection.rules import Rules, severity_rank
from clameur.tenancy.models import Brand

if TYPE_CHECKING:
    from clameur.clock import Clock
    from clameur.mentions.draft import Draft

log = logging.getLogger(__name__)

TRIAGE = "triage"
"""Key of ``Alert.evidence`` holding people's handling of the alert (see
:mod:`clameur.detection.triage`)."""


def muted_until(alert: Alert) -> datetime | None:
    """Until when a person muted the alert's notifications (None: never muted)."""
    state = (alert.evidence or {}).get(TRIAGE)
    value = state.get("muted_until") if isinstance(state, dict) else None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def is_muted(alert: Alert, now: datetime) -> bool:
    until = muted_until(alert)
    return until is not None and now < until


@dataclass(frozen=True, slots=True)
class Member:
    """A mention to attach to an alert as evidence."""

    source: str
    external_id: str
    author: str
    created_at: datetime
    role: str = "member"

    @classmethod
    def of(cls, draft: Draft, role: str = "member") -> Member:
        m = draft.mention
        return cls(m.source, m.external_id, m.author.handle, m.created_at, role)


def open_alert(
    session: Session, tenant_id: int, key: str, at: datetime, cooldown: timedelta
) -> Alert | None:
    """The open incident with ``key`` still within its cool-down at event time ``at``."""
    alert = session.scalars(
        select(Alert)
        .where(Alert.tenant_id == tenant_id, Alert.key == key, Alert.status == "open")
        .order_by(Alert.id.desc())
        .limit(1)
    ).first()
    if alert is None:
        return None
    if at - alert.updated_at > cooldown:
        alert.status = "closed"
        return None
    return alert


def raise_or_update(
    session: Session,
    clock: Clock,
    rules: Rules,
    *,
    tenant_id: int,
    brand_id: int | None,
    kind: str,
    key: str,
    severity: str,
    at: datetime,
    summary: str,
    evidence: dict[str, Any],
    members: Iterable[Member] = (),
    cooldown: timedelta | None = None,
    started_at: datetime | None = None,
) -> Alert:
    """Raise the incident ``key`` at event time ``at``, or update the open one.

    ``at`` is the event time of the mention whose arrival made the detector decide (it
    becomes ``triggered_at`` of a new alert); ``started_at`` the event time of the
    incident's first member (default ``at``). An update keeps the alert's
    ``triggered_at`` and moves ``started_at`` earlier if an earlier member is reported.
    """
    cooldown = cooldown if cooldown is not None else timedelta(minutes=rules.cooldown_minutes)
    alert = open_alert(session, tenant_id, key, at, cooldown)
    if alert is None:
        alert = Alert(
            tenant_id=tenant_id,
            brand_id=brand_id,
            kind=kind,
            severity=severity,
            key=key,
            triggered_at=at,
            started_at=min(started_at, at) if started_at is not None else at,
            updated_at=at,
            status="open",
            summary=summary,
            count=0,
            evidence=evidence,
        )
        session.add(alert)
        session.flush()
        change = "raised"
        _raised(alert)
    else:
        change = "updated"
        alert.kind = kind
        alert.updated_at = max(alert.updated_at, at)
        if started_at is not None and (alert.started_at is None or started_at < alert.started_at):
            alert.started_at = started_at
        alert.summary = summary
        alert.evidence = {**alert.evidence, **evidence}
        if severity_rank(severity) > severity_rank(alert.severity):
            alert.severity = severity
    attach(session, alert, members)
    if enabled(rules, kind):
        from clameur.detection import notify  # late: notify imports the outbox

        notify.on_alert(session, clock, alert, rules, change)
    return alert


def _raised(alert: Alert) -> None:
    """A new incident: in the log with the trace of the mentions that raised it, and noted on
    the trace for the alert latency (observed once the batch commits)."""
    active = trace.current()
    if active is not None:
        active.raised.append(alert.kind)
    log.info(
        "alert raised",
        extra={
            "alert": alert.id,
            "tenant": alert.tenant_id,
            "kind": alert.kind,
            "key": alert.key,
            "severity": alert.severity,
            **trace.fields(),
        },
    )


def enabled(rules: Rules, kind: str) -> bool:
    return kind in rules.enabled


def attach(session: Session, alert: Alert, members: Iterable[Member]) -> int:
    """Attach mentions to ``alert`` once each; returns how many were new."""
    wanted = {(m.source, m.external_id): m for m in members}
    if not wanted:
        return 0
    known = {
        (source, external_id)
        for source, external_id in session.execute(
            select(AlertMention.source, AlertMention.external_id).where(
                AlertMention.alert_id == alert.id,
                AlertMention.external_id.in_([k[1] for k in wanted]),
            )
        )
    }
    added = 0
    for key, m in wanted.items():
        if key in known:
            continue
        session.add(
            AlertMention(
                tenant_id=alert.tenant_id,
                alert_id=alert.id,
                source=m.source,
                external_id=m.external_id,
                author=m.author,
                created_at=m.created_at,
                role=m.role,
            )
        )
        added += 1
    alert.count = (alert.count or 0) + added
    session.flush()
    return added


def alerts_of(
    session: Session, tenant_id: int, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """The contract of ``clameur alerts --json``: every alert of the tenant, oldest first."""
    stmt = (
        select(Alert, Brand.slug)
        .join(Brand, Brand.id == Alert.brand_id, isouter=True)
        .where(Alert.tenant_id == tenant_id)
        .order_by(Alert.triggered_at, Alert.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = session.execute(stmt).all()
    members: dict[int, list[AlertMention]] = {alert.id: [] for alert, _ in rows}
    if members:
        for m in session.scalars(
            select(AlertMention)
            .where(AlertMention.alert_id.in_(list(members)))
            .order_by(AlertMention.created_at, AlertMention.external_id)
        ):
            members[m.alert_id].append(m)
    return [
        alert_dict(alert, brand, [(m.external_id, m.author) for m in members[alert.id]])
        for alert, brand in rows
    ]


def alert_dict(alert: Alert, brand: str | None, members: list[tuple[str, str]]) -> dict[str, Any]:
    """An alert as ``clameur alerts --json`` shows it; ``members`` are (external id, author)
    in event-time order."""
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": alert.status,
        "triggered_at": alert.triggered_at.isoformat(),
        "started_at": (alert.started_at or alert.triggered_at).isoformat(),
        "updated_at": alert.updated_at.isoformat(),
        "brand": brand,
        "summary": alert.summary,
        "count": alert.count,
        "evidence": {
            **alert.evidence,
            "mentions": [external_id for external_id, _ in members],
            "authors": list(dict.fromkeys(author for _, author in members)),
        },
    }
