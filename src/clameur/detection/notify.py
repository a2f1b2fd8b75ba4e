"""Who hears about an alert, and when: at once through the outbox, or in the digest.

One incident is one notification, plus one per escalation. ``Alert.notified_severity`` is
the highest severity already sent; an alert whose severity is above it is *waiting for the
digest*, and nothing else (:func:`on_alert` sends or holds in the same transaction that
raises or updates the alert, so the invariant holds as soon as it commits):

* sent at once (:func:`on_alert`): the alert is raised, or an update raises its severity
  above ``notified_severity``; and the severity reaches ``notify_min_severity``; and, during
  the rules' quiet hours (judged on the alert's event time), it is at least ``high``;
* otherwise held for the digest (:func:`send_digests`), which the live runner calls
  periodically (every minute is fine): the first call that finds held alerts opens the
  tenant's digest window; the first call ``digest_minutes`` later (outside the quiet hours
  of the alerts' rules, judged on the clock) sends one digest per recipient and marks the
  alerts, so they are never digested twice.

While an alert is muted (:func:`clameur.detection.alerts.is_muted`, by the clock), nothing
is sent about it, at once or in a digest: what it reached meanwhile counts as told.

Nothing leaves from here: e-mails (``alert.email``) and webhooks (``alert.webhook``) are
outbox events delivered after commit by :mod:`clameur.detection.delivery`.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from clameur.clock import Clock
from clameur.core.outbox import enqueue
from clameur.detection.alerts import alert_dict, is_muted
from clameur.detection.models import Alert, AlertMention, DetectionState
from clameur.detection.rules import SEVERITIES, Rules, load_rules, severity_rank
from clameur.tenancy.models import Brand, Tenant

log = logging.getLogger(__name__)

EMAIL = "alert.email"
WEBHOOK = "alert.webhook"
QUIET_FLOOR = "high"
"""During quiet hours only alerts at least this severe are sent at once."""
EVIDENCE_LIMIT = 50
"""Mentions (and their authors) listed in a notification; ``count`` gives the total."""
DIGEST_LIMIT = 100
"""Alerts detailed in one digest; the others are counted."""
DIGEST_STATE = "digest"
"""``DetectionState.detector`` of the row that holds a tenant's digest window."""


def on_alert(session: Session, clock: Clock, alert: Alert, rules: Rules, change: str) -> None:
    """Schedule what ``change`` ("raised" or "updated") to ``alert`` should notify.

    Called by :func:`clameur.detection.alerts.raise_or_update` in its transaction: the
    events leave only if it commits.
    """
    if severity_rank(alert.severity) <= severity_rank(alert.notified_severity):
        return  # the same incident again: already told at this severity or above
    if is_muted(alert, clock.now()):
        alert.notified_severity = alert.severity  # muted: never sent, not even digested
        log.info("alert muted: not notified", extra=_log_fields(alert))
        return
    if not sends_now(alert, rules):
        log.info("alert held for the digest", extra=_log_fields(alert))
        return
    escalated_from = alert.notified_severity if change == "updated" else None
    snapshot = snapshots(session, [alert])[alert.id]
    kind = "escalated" if change == "updated" else "raised"
    events = _enqueue_alert(session, clock, alert.tenant_id, rules, snapshot, kind, escalated_from)
    alert.notified_severity = alert.severity
    log.info("alert notified", extra={**_log_fields(alert), "events": events, "change": kind})


def sends_now(alert: Alert, rules: Rules) -> bool:
    """True when the alert is sent at once; False when it waits for the digest."""
    rank = severity_rank(alert.severity)
    if rank < severity_rank(rules.notify_min_severity):
        return False
    return not (rules.is_quiet(alert.updated_at) and rank < severity_rank(QUIET_FLOOR))


# -- the digest ------------------------------------------------------------------------


def send_digests(session: Session, clock: Clock, tenant_id: int | None = None) -> int:
    """Enqueue the digests that are due (one tenant, or every tenant); returns the events.

    Run it periodically (the live runner does, every minute or so) in its own transaction
    and commit: a digest goes out ``digest_minutes`` after the first call that found held
    alerts, so a call every minute sends each digest within a minute of its time; rarer
    calls delay it accordingly. Runs for the same tenant take turns on the tenant's digest
    row (PostgreSQL row lock), so concurrent runners never send a digest twice.
    """
    tenants = [tenant_id] if tenant_id is not None else _tenants_to_digest(session)
    return sum(_digest_tenant(session, clock, t) for t in tenants)


def _pending() -> Any:
    """SQL: the alert's severity is above what was notified (NULL counts as nothing)."""
    ranks = {s: i + 1 for i, s in enumerate(SEVERITIES)}
    return case(ranks, value=Alert.severity, else_=0) > case(
        ranks, value=Alert.notified_severity, else_=0
    )


def _tenants_to_digest(session: Session) -> list[int]:
    held = select(Alert.tenant_id).where(_pending()).distinct()
    windows = select(DetectionState.tenant_id).where(DetectionState.detector == DIGEST_STATE)
    return sorted(set(session.scalars(held)) | set(session.scalars(windows)))


@dataclass
class _Window:
    """A tenant's digest window, kept in a ``DetectionState`` row (no table of its own).

    ``state["since"]``: when the window opened (clock time), null while nothing is held;
    ``state["last_sent"]``: when the last digest left.
    """

    session: Session
    tenant_id: int
    row: DetectionState | None

    @property
    def since(self) -> datetime | None:
        value = self.row.state.get("since") if self.row else None
        return datetime.fromisoformat(value) if value else None

    def set(self, now: datetime, *, since: datetime | None, sent: bool = False) -> None:
        if self.row is None:
            if since is None and not sent:
                return  # no row for tenants that never held anything
            self.row = DetectionState(
                tenant_id=self.tenant_id,
                detector=DIGEST_STATE,
                brand_id=0,
                source="*",
                state={},
                event_time=now,
            )
            self.session.add(self.row)
        state = dict(self.row.state)
        state["since"] = since.isoformat() if since else None
        if sent:
            state["last_sent"] = now.isoformat()
        self.row.state = state
        self.row.event_time = now


def _window(session: Session, tenant_id: int) -> _Window:
    row = session.scalars(
        select(DetectionState)
        .where(
            DetectionState.tenant_id == tenant_id,
            DetectionState.detector == DIGEST_STATE,
            DetectionState.brand_id == 0,
            DetectionState.source == "*",
        )
        .with_for_update()  # one digest run per tenant at a time
    ).one_or_none()
    return _Window(session, tenant_id, row)


def _digest_tenant(session: Session, clock: Clock, tenant_id: int) -> int:
    now = clock.now()
    window = _window(session, tenant_id)
    held = session.scalars(
        select(Alert)
        .where(Alert.tenant_id == tenant_id, _pending())
        .order_by(Alert.triggered_at, Alert.id)
        .with_for_update()  # an escalation sent meanwhile must not be overwritten
    ).all()
    book = load_rules(session, tenant_id)
    waiting: list[tuple[Alert, Rules]] = []
    for alert in held:
        rules = book.for_brand(alert.brand_id)
        if is_muted(alert, now):
            alert.notified_severity = alert.severity  # muted after it was held
        elif alert.kind in rules.enabled and (rules.emails or rules.webhooks):
            waiting.append((alert, rules))
        else:  # a disabled kind, or nobody to tell: nothing will ever be sent for it
            alert.notified_severity = alert.severity
    if not waiting:
        if window.since is not None:
            window.set(now, since=None)  # what was held got sent at once (escalated)
        return 0
    since = window.since
    if since is None:
        window.set(now, since=now)  # the window opens; it closes digest_minutes later
        return 0
    ready = [(a, r) for a, r in waiting if not r.is_quiet(now)]
    if not ready or now - since < timedelta(minutes=min(r.digest_minutes for _, r in ready)):
        return 0
    events = _enqueue_digest(session, clock, tenant_id, ready)
    for alert, _ in ready:
        alert.notified_severity = alert.severity
    # alerts still in their quiet hours start a new window: never two digests in one period
    window.set(now, since=now if len(ready) < len(waiting) else None, sent=True)
    log.info("digest sent", extra={"tenant": tenant_id, "alerts": len(ready), "events": events})
    return events


def _enqueue_digest(
    session: Session, clock: Clock, tenant_id: int, ready: list[tuple[Alert, Rules]]
) -> int:
    """One digest e-mail per address and one digest POST per webhook, each with its alerts."""
    shots = snapshots(session, [a for a, _ in ready])
    emails: dict[str, list[dict[str, Any]]] = defaultdict(list)
    hooks: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for alert, rules in ready:
        for address in _addresses(rules):
            emails[address].append(shots[alert.id])
        for hook in rules.webhooks:
            hooks[(hook["url"], hook.get("secret", ""))].append(shots[alert.id])
    tenant = next(iter(shots.values()))["tenant"]
    for address, alerts in emails.items():
        subject = f"[Clameur] Digest for {tenant}: {_plural(len(alerts), 'alert')}"
        payload = {
            "to": address,
            "subject": subject,
            "text": digest_text(tenant, alerts),
            "tenant": tenant,
            "digest": True,
            "alerts": alerts[:DIGEST_LIMIT],
            "total": len(alerts),
        }
        enqueue(session, clock, EMAIL, payload, tenant_id)
    for (url, secret), alerts in hooks.items():
        body = {
            "type": "alert.digest",
            "tenant": tenant,
            "total": len(alerts),
            "alerts": alerts[:DIGEST_LIMIT],
        }
        enqueue(session, clock, WEBHOOK, _webhook_payload(url, secret, body), tenant_id)
    return len(emails) + len(hooks)


# -- what is sent ----------------------------------------------------------------------


def snapshots(session: Session, alerts: list[Alert]) -> dict[int, dict[str, Any]]:
    """Each alert as ``clameur alerts --json`` shows it, plus its tenant, at this moment.

    The first :data:`EVIDENCE_LIMIT` mentions (event-time order) and their authors; three
    queries for any number of alerts.
    """
    if not alerts:
        return {}
    ids = [a.id for a in alerts]
    tenant_ids = {a.tenant_id for a in alerts}
    tenants = {
        tenant_id: slug
        for tenant_id, slug in session.execute(
            select(Tenant.id, Tenant.slug).where(Tenant.id.in_(tenant_ids))
        )
    }
    brand_ids = {a.brand_id for a in alerts if a.brand_id is not None}
    brands: dict[int, str] = {}
    if brand_ids:
        query = select(Brand.id, Brand.slug).where(Brand.id.in_(brand_ids))
        brands = {brand_id: slug for brand_id, slug in session.execute(query)}
    position = (
        func.row_number()
        .over(
            partition_by=AlertMention.alert_id,
            order_by=(AlertMention.created_at, AlertMention.external_id),
        )
        .label("position")
    )
    ranked = (
        select(AlertMention.alert_id, AlertMention.external_id, AlertMention.author, position)
        .where(AlertMention.alert_id.in_(ids))
        .subquery()
    )
    members: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for alert_id, external_id, author, _ in session.execute(
        select(ranked)
        .where(ranked.c.position <= EVIDENCE_LIMIT)
        .order_by(ranked.c.alert_id, ranked.c.position)
    ):
        members[alert_id].append((external_id, author))
    return {
        a.id: _snapshot(a, tenants.get(a.tenant_id), brands.get(a.brand_id or 0), members[a.id])
        for a in alerts
    }


def _snapshot(
    alert: Alert, tenant: str | None, brand: str | None, members: list[tuple[str, str]]
) -> dict[str, Any]:
    return {"tenant": tenant, **alert_dict(alert, brand, members)}


def _enqueue_alert(
    session: Session,
    clock: Clock,
    tenant_id: int,
    rules: Rules,
    snapshot: dict[str, Any],
    change: str,
    escalated_from: str | None,
) -> int:
    subject = alert_subject(snapshot, change)
    text = alert_text(snapshot, change, escalated_from)
    for address in _addresses(rules):
        payload = {"to": address, "subject": subject, "text": text, "alert": snapshot}
        enqueue(session, clock, EMAIL, payload, tenant_id)
    body = {"type": f"alert.{change}", "tenant": snapshot["tenant"], "alert": snapshot}
    if escalated_from:
        body["previous_severity"] = escalated_from
    for hook in rules.webhooks:
        payload = _webhook_payload(hook["url"], hook.get("secret", ""), body)
        enqueue(session, clock, WEBHOOK, payload, tenant_id)
    return len(_addresses(rules)) + len(rules.webhooks)


def _webhook_payload(url: str, secret: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body is serialised once, here: every retry sends (and signs) the same bytes."""
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return {"url": url, "secret": secret, "body": text}


def _addresses(rules: Rules) -> list[str]:
    return list(dict.fromkeys(a.strip() for a in rules.emails if a.strip()))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: object, limit: int = 2000) -> str:
    """Customer words in plain text: no control characters, bounded length."""
    value = _CONTROL.sub(" ", str(text))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _where(snapshot: dict[str, Any]) -> str:
    brand = snapshot.get("brand")
    return f"{brand} ({snapshot['tenant']})" if brand else str(snapshot["tenant"])


def alert_subject(snapshot: dict[str, Any], change: str) -> str:
    """One line: severity, kind and brand; never the customer's words."""
    prefix = "Escalated: " if change == "escalated" else ""
    severity = str(snapshot["severity"]).upper()
    return _clean(f"[Clameur] {prefix}{severity} {snapshot['kind']} on {_where(snapshot)}", 250)


def alert_text(snapshot: dict[str, Any], change: str, escalated_from: str | None = None) -> str:
    """The plain-text body of an alert e-mail (no HTML is ever built from alert text)."""
    head = f"{str(snapshot['severity']).upper()} {snapshot['kind']} alert {change} on " + _where(
        snapshot
    )
    if escalated_from:
        head += f" (was {escalated_from})"
    return "\n".join([_clean(head), "", *_alert_block(snapshot), "", _FOOTER]) + "\n"


def digest_text(tenant: str, alerts: list[dict[str, Any]]) -> str:
    lines = [f"{_plural(len(alerts), 'alert')} held for the digest of {tenant}.", ""]
    for snapshot in alerts[:DIGEST_LIMIT]:
        lines += [
            _clean(f"== {str(snapshot['severity']).upper()} {snapshot['kind']} on ")
            + _clean(_where(snapshot)),
            *_alert_block(snapshot),
            "",
        ]
    if len(alerts) > DIGEST_LIMIT:
        lines += [f"… and {len(alerts) - DIGEST_LIMIT} more: clameur alerts --tenant {tenant}", ""]
    return "\n".join([*lines, _FOOTER]) + "\n"


_FOOTER = "-- \nClameur: sent by the alert rules of this tenant (clameur alerts lists them all)."


def _alert_block(snapshot: dict[str, Any]) -> list[str]:
    evidence = snapshot.get("evidence") or {}
    mentions = [str(m) for m in evidence.get("mentions", [])]
    authors = [str(a) for a in evidence.get("authors", [])]
    lines = [
        _clean(snapshot["summary"]),
        "",
        f"Alert #{snapshot['id']}, {snapshot['status']}",
        f"Triggered: {snapshot['triggered_at']} (event time)",
        f"Updated:   {snapshot['updated_at']}",
        f"Mentions:  {snapshot['count']}",
    ]
    if mentions:
        lines.append(_clean("Evidence:  " + ", ".join(mentions[:10]), 1000))
    if authors:
        lines.append(_clean("Authors:   " + ", ".join(authors[:10]), 1000))
    for key, value in evidence.items():
        if key not in {"mentions", "authors"} and isinstance(value, str | int | float | bool):
            lines.append(_clean(f"{key}: {value}", 300))
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _log_fields(alert: Alert) -> dict[str, Any]:
    return {"alert": alert.id, "tenant": alert.tenant_id, "severity": alert.severity}
