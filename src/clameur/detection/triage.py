"""People's handling of alerts: pages of a tenant's alerts, acknowledge, mute, resolve.

The ``alerts`` table has no columns for this (adding them needs a migration), so the state
lives in the alert's existing JSON column, ``evidence["triage"]``:
``{"acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "muted_until",
"muted_by", "verdict", "verdict_at", "verdict_by"}`` (ISO times, e-mails). A resolved alert
also gets ``status = "resolved"``: detectors update only ``open`` alerts, so an anomaly that
goes on after a person resolved it raises a new alert. Acknowledging keeps the alert open
(it still grows and may still escalate). Muting (1–168 hours) keeps it open too, but its
escalations notify nobody until the time passes (:mod:`clameur.detection.notify`). A
campaign's ``verdict`` (confirmed or rejected) is given by
:mod:`clameur.care.campaigns` through :func:`record_verdict`.

Each item names the incident opened for the alert (``incident_id``, see
:mod:`clameur.care.incidents`), so a page links one to the other.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from clameur.care.models import Incident
from clameur.clock import SystemClock
from clameur.db.repository import TenantRepository
from clameur.detection.alerts import TRIAGE, alert_dict, muted_until
from clameur.detection.models import Alert, AlertMention
from clameur.detection.rules import SEVERITIES
from clameur.errors import InvalidInputError
from clameur.tenancy.models import Brand
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

STATUSES = ("open", "closed", "resolved")
MAX_LIMIT = 200
MAX_MUTE_HOURS = 168
VERDICTS = ("confirmed", "rejected")


class Alerts(TenantRepository[Alert]):
    model = Alert


@dataclass(frozen=True, slots=True)
class AlertPage:
    items: list[dict[str, Any]]
    """As :func:`clameur.detection.alerts.alert_dict`, plus the triage fields."""
    next_cursor: str | None


def triage_of(alert: Alert) -> dict[str, Any]:
    found = (alert.evidence or {}).get(TRIAGE)
    return dict(found) if isinstance(found, dict) else {}


def alert_item(
    alert: Alert,
    brand: str | None,
    members: list[tuple[str, str]],
    *,
    now: datetime | None = None,
    incident_id: int | None = None,
) -> dict[str, Any]:
    """The ``clameur alerts --json`` item with the triage state beside it (not in evidence):
    ``muted`` says whether it is muted at ``now`` (default: the system clock)."""
    item = alert_dict(alert, brand, members)
    item["evidence"].pop(TRIAGE, None)
    state = triage_of(alert)
    for name in (
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
        "muted_by",
        "verdict",
        "verdict_at",
        "verdict_by",
    ):
        item[name] = state.get(name)
    item["resolution_note"] = state.get("note")
    until = muted_until(alert)
    at = now if now is not None else SystemClock().now()
    item["muted_until"] = until.isoformat() if until is not None else None
    item["muted"] = until is not None and at < until
    item["incident_id"] = incident_id
    return item


def _incidents(session: Session, tenant_id: int, alert_ids: Sequence[int]) -> dict[int, int]:
    """The incident opened for each alert (the first, if several), in one query."""
    if not alert_ids:
        return {}
    rows = session.execute(
        TenantRepository(session, tenant_id, Incident)
        .select(Incident.alert_id, Incident.id)
        .where(Incident.alert_id.in_(list(alert_ids)))
        .order_by(Incident.id)
    )
    out: dict[int, int] = {}
    for alert_id, incident_id in rows:
        if alert_id is not None:
            out.setdefault(alert_id, incident_id)
    return out


def incident_for(session: Session, principal: Principal, alert_id: int) -> int | None:
    """The incident opened for this alert (``Incident.alert_id``), or None."""
    principal = refresh(session, principal)
    authorize(principal, "alerts.read")
    Alerts.of(session, principal).get(alert_id)
    return _incidents(session, principal.tenant_id, [alert_id]).get(alert_id)


def _members(session: Session, tenant_id: int, ids: Sequence[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {alert_id: [] for alert_id in ids}
    if not found:
        return found
    for m in session.scalars(
        select(AlertMention)
        .where(AlertMention.tenant_id == tenant_id, AlertMention.alert_id.in_(list(found)))
        .order_by(AlertMention.created_at, AlertMention.external_id)
    ):
        found[m.alert_id].append((m.external_id, m.author))
    return found


def _encode(at: datetime, alert_id: int) -> str:
    raw = json.dumps([at.isoformat(), alert_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, alert_id = json.loads(raw)
        parsed = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInputError("malformed cursor", where="cursor") from exc
    if not isinstance(alert_id, int) or parsed.tzinfo is None:
        raise InvalidInputError("malformed cursor", where="cursor")
    return parsed, alert_id


def list_alerts(
    session: Session,
    principal: Principal,
    *,
    status: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    brand: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
) -> AlertPage:
    """A page of the tenant's alerts, newest first (triggered_at, then id), keyset-paged
    (``now``: when ``muted`` is judged; default: the system clock)."""
    authorize(principal, "alerts.read")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit is between 1 and {MAX_LIMIT}", where="limit")
    if status is not None and status not in STATUSES:
        raise InvalidInputError(f"status is one of {', '.join(STATUSES)}", where="status")
    if severity is not None and severity not in SEVERITIES:
        raise InvalidInputError(f"severity is one of {', '.join(SEVERITIES)}", where="severity")
    alerts = Alerts.of(session, principal)
    stmt = alerts.select(Alert, Brand.slug).outerjoin(Brand, Brand.id == Alert.brand_id)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    if kind is not None:
        stmt = stmt.where(Alert.kind == kind)
    if severity is not None:
        stmt = stmt.where(Alert.severity == severity)
    if brand is not None:
        stmt = stmt.where(Brand.slug == brand)
    if cursor:
        at, last_id = _decode(cursor)
        stmt = stmt.where(
            or_(Alert.triggered_at < at, and_(Alert.triggered_at == at, Alert.id < last_id))
        )
    rows = session.execute(
        stmt.order_by(Alert.triggered_at.desc(), Alert.id.desc()).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [alert.id for alert, _ in rows]
    members = _members(session, principal.tenant_id, ids)
    incidents = _incidents(session, principal.tenant_id, ids)
    items = [
        alert_item(alert, slug, members[alert.id], now=now, incident_id=incidents.get(alert.id))
        for alert, slug in rows
    ]
    last = rows[-1][0] if rows else None
    return AlertPage(items, _encode(last.triggered_at, last.id) if more and last else None)


def get_alert(
    session: Session, principal: Principal, alert_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    authorize(principal, "alerts.read")
    return _item(session, principal, Alerts.of(session, principal).get(alert_id), now)


def _item(
    session: Session, principal: Principal, alert: Alert, now: datetime | None
) -> dict[str, Any]:
    brand = session.get(Brand, alert.brand_id) if alert.brand_id is not None else None
    members = _members(session, principal.tenant_id, [alert.id])[alert.id]
    incident = _incidents(session, principal.tenant_id, [alert.id]).get(alert.id)
    slug = brand.slug if brand is not None else None
    return alert_item(alert, slug, members, now=now, incident_id=incident)


def _set_triage(alert: Alert, **changes: Any) -> None:
    alert.evidence = {**(alert.evidence or {}), TRIAGE: {**triage_of(alert), **changes}}


def acknowledge(session: Session, now: datetime, actor: Principal, alert_id: int) -> dict[str, Any]:
    """Someone is on it: recorded once (acknowledging again keeps the first)."""
    actor = refresh(session, actor)
    authorize(actor, "alerts.manage")
    alert = Alerts.of(session, actor).get(alert_id)
    if triage_of(alert).get("acknowledged_at") is None:
        _set_triage(alert, acknowledged_at=now.isoformat(), acknowledged_by=actor.email)
        _audit(session, now, actor, alert, "alert.acknowledge")
    session.flush()
    return _item(session, actor, alert, now)


def resolve(
    session: Session, now: datetime, actor: Principal, alert_id: int, *, note: str | None = None
) -> dict[str, Any]:
    """Handled: the alert closes (``resolved``); it is acknowledged too if it was not."""
    actor = refresh(session, actor)
    authorize(actor, "alerts.manage")
    alert = Alerts.of(session, actor).get(alert_id)
    if alert.status != "resolved":
        _resolve(alert, now, actor, note)
        _audit(session, now, actor, alert, "alert.resolve")
    session.flush()
    return _item(session, actor, alert, now)


def _resolve(alert: Alert, now: datetime, actor: Principal, note: str | None, **more: Any) -> None:
    state = triage_of(alert)
    changes: dict[str, Any] = {"resolved_at": now.isoformat(), "resolved_by": actor.email}
    if state.get("acknowledged_at") is None:
        changes |= {"acknowledged_at": now.isoformat(), "acknowledged_by": actor.email}
    if note and note.strip():
        changes["note"] = note.strip()[:1000]
    _set_triage(alert, **changes, **more)
    alert.status = "resolved"


def mute(
    session: Session, now: datetime, actor: Principal, alert_id: int, hours: int
) -> dict[str, Any]:
    """No notification about this alert for ``hours`` (1–168) from ``now``: its
    escalations meanwhile are not sent (at once or in a digest). Muting again sets a new
    end; the alert stays open."""
    actor = refresh(session, actor)
    authorize(actor, "alerts.manage")
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_MUTE_HOURS:
        raise InvalidInputError(f"is a whole number of 1–{MAX_MUTE_HOURS}", where="hours")
    alert = Alerts.of(session, actor).get(alert_id)
    until = now + timedelta(hours=hours)
    _set_triage(alert, muted_until=until.isoformat(), muted_by=actor.email)
    _audit(session, now, actor, alert, "alert.mute", hours=hours, until=until.isoformat())
    session.flush()
    return _item(session, actor, alert, now)


def record_verdict(
    session: Session,
    now: datetime,
    actor: Principal,
    alert: Alert,
    verdict: str,
    *,
    note: str | None = None,
) -> None:
    """A person's verdict on a suspected campaign (the caller checked who may give it):
    the alert is resolved with it; a second verdict is refused."""
    if verdict not in VERDICTS:
        raise InvalidInputError(f"is one of {', '.join(VERDICTS)}", where="verdict")
    given = triage_of(alert).get("verdict")
    if given is not None:
        raise InvalidInputError(
            f"alert {alert.id} is already {given} (by {triage_of(alert).get('verdict_by')})",
            where="alert_id",
        )
    _resolve(
        alert, now, actor, note, verdict=verdict, verdict_at=now.isoformat(), verdict_by=actor.email
    )
    _audit(session, now, actor, alert, f"alert.campaign_{verdict}")
    session.flush()


def _audit(
    session: Session, now: datetime, actor: Principal, alert: Alert, action: str, **extra: Any
) -> None:
    from clameur.tenancy.audit import audit

    audit(
        session,
        tenant_id=actor.tenant_id,
        at=now,
        actor_id=actor.actor_id,
        action=action,
        object_type="alert",
        object_id=alert.id,
        data={"kind": alert.kind, "severity": alert.severity, **extra},
    )
