"""The SLA sweep: warnings and breaches due by now, and the escalation of a breach.

Split from :mod:`clameur.care.sla` (the clocks and their hooks): the sweep reads the clocks
the hooks keep in ``Conversation.sla``, records ``sla_warning`` / ``sla_breach`` timeline
events, and escalates breaches — flag, top priority, the tenant's breach queue, and an
e-mail to the tenant's supervisors through the outbox (:data:`BREACH_EMAIL`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care.audit import record
from clameur.care.calendars import Calendar
from clameur.care.models import Conversation, Queue
from clameur.care.sla import (
    _LABELS,
    BREACH,
    BREACH_EMAIL,
    BREACHED_FLAG,
    CLOCKS,
    RUNNING_STATUSES,
    TOP_PRIORITY,
    WARNING,
    _aware,
    _Calendars,
    _dt,
    _fresh,
    _iso,
    _schedule,
    _used,
)
from clameur.clock import Clock
from clameur.config import Settings
from clameur.core.outbox import Handler, enqueue
from clameur.errors import NotFoundError
from clameur.tenancy.models import Membership, Tenant, User

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SlaEvent:
    """A warning or a breach found by :func:`sweep`."""

    conversation_id: int
    clock: str
    kind: str
    """``sla_warning`` or ``sla_breach``."""
    due_at: datetime
    used_seconds: float
    target_seconds: int


def _next_at() -> Any:
    return Conversation.__table__.c.sla["next_at"].as_string()


def tenants_to_sweep(session: Session, now: datetime) -> list[int]:
    """Tenants with a warning or breach due by ``now`` (for a runner covering all tenants)."""
    stmt = (
        select(Conversation.tenant_id)
        .where(Conversation.status.in_(RUNNING_STATUSES), _next_at() <= _iso(_aware(now, "now")))
        .distinct()
    )
    return sorted(session.scalars(stmt))


def sweep(
    session: Session, clock: Clock, tenant_id: int, now: datetime | None = None
) -> list[SlaEvent]:
    """Record the warnings and breaches due by ``now`` (event time; default: the clock).

    Each clock warns once and breaches once (a clock found past both at once only
    breaches). A breach escalates its conversation (see the module). Concurrent sweeps of
    a tenant skip each other's rows on PostgreSQL. Flushes; the caller commits, and the
    e-mails leave through the outbox after that.
    """
    now = _aware(now or clock.now(), "now")
    conversations = list(
        session.scalars(
            select(Conversation)
            .where(
                Conversation.tenant_id == tenant_id,
                Conversation.status.in_(RUNNING_STATUSES),
                _next_at() <= _iso(now),
            )
            .order_by(Conversation.id)
            .with_for_update(skip_locked=True)  # ignored by SQLite, whose writers take turns
        )
    )
    if not conversations:
        return []
    calendars = _Calendars(session, tenant_id, [c.sla.get("calendar_id") for c in conversations])
    found: list[SlaEvent] = []
    breached: list[tuple[Conversation, list[SlaEvent], Calendar]] = []
    for conversation in conversations:
        sla = _fresh(conversation.sla)
        calendar = calendars(sla.get("calendar_id"))
        _schedule(sla, calendar)  # with today's calendar, which may have been edited
        events = []
        for name in CLOCKS:
            state = sla["clocks"].get(name)
            if state is None or state["state"] != "running" or state["breached_at"] is not None:
                continue
            due = _dt(state["due_at"])
            if now >= due:
                state["breached_at"] = _iso(now)
                kind = BREACH
            elif state["warned_at"] is None and now >= _dt(state["warn_at"]):
                state["warned_at"] = _iso(now)
                kind = WARNING
            else:
                continue
            events.append(
                SlaEvent(
                    conversation.id, name, kind, due, _used(state, calendar, now), state["target"]
                )
            )
        _schedule(sla, calendar)
        conversation.sla = sla
        for event in events:
            if event.kind == WARNING:
                record(
                    session,
                    tenant_id=tenant_id,
                    conversation_id=conversation.id,
                    at=now,
                    actor_id=None,
                    kind=WARNING,
                    data=_event_data(event, sla),
                )
        if breaches := [e for e in events if e.kind == BREACH]:
            breached.append((conversation, breaches, calendar))
        found.extend(events)
    if breached:
        _escalate(session, clock, tenant_id, breached, now)
    session.flush()
    log.info(
        "sla sweep",
        extra={
            "tenant": tenant_id,
            "warnings": sum(e.kind == WARNING for e in found),
            "breaches": sum(e.kind == BREACH for e in found),
        },
    )
    return found


def _event_data(event: SlaEvent, sla: dict[str, Any]) -> dict[str, Any]:
    return {
        "clock": event.clock,
        "due_at": _iso(event.due_at),
        "target_seconds": event.target_seconds,
        "used_seconds": round(event.used_seconds, 3),
        "warn_percent": sla.get("warn_percent"),
        "policy_id": sla.get("policy_id"),
    }


def supervisor_emails(session: Session, tenant_id: int) -> list[str]:
    """Active users holding the supervisor role in the tenant (the client's own and the
    contact centre's staff serving it alike: a membership each)."""
    stmt = (
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.role == "supervisor",
            User.active.is_(True),
        )
        .order_by(User.email)
    )
    return list(dict.fromkeys(session.scalars(stmt)))


def _breach_queue(session: Session, tenant: Tenant) -> tuple[Queue | None, Any]:
    """The tenant's breach queue, and the configured id (to report a wrong one)."""
    care = (tenant.settings or {}).get("care") or {}
    wanted = care.get("breach_queue_id") if isinstance(care, dict) else None
    if wanted is None:
        return None, None
    try:
        queue_id = int(wanted)
    except (TypeError, ValueError):
        return None, wanted
    queue = session.scalars(
        select(Queue).where(Queue.tenant_id == tenant.id, Queue.id == queue_id)
    ).one_or_none()
    return queue, wanted


def _escalate(
    session: Session,
    clock: Clock,
    tenant_id: int,
    breached: list[tuple[Conversation, list[SlaEvent], Calendar]],
    now: datetime,
) -> None:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError(f"no tenant {tenant_id}")
    queue, wanted = _breach_queue(session, tenant)
    if wanted is not None and queue is None:
        log.warning(
            "sla breach queue not found", extra={"tenant": tenant_id, "breach_queue_id": wanted}
        )
    recipients = supervisor_emails(session, tenant_id)
    for conversation, events, calendar in breached:
        flags = list(conversation.flags or [])
        if BREACHED_FLAG not in flags:
            conversation.flags = [*flags, BREACHED_FLAG]
        before_priority, before_queue = conversation.priority, conversation.queue_id
        conversation.priority = max(conversation.priority or 0.0, TOP_PRIORITY)
        if queue is not None:
            conversation.queue_id = queue.id
        escalation: dict[str, Any] = {
            "flag": BREACHED_FLAG,
            "priority": [before_priority, conversation.priority],
            "queue": [before_queue, conversation.queue_id],
            "notified": recipients,
        }
        if wanted is not None and queue is None:
            escalation["breach_queue_missing"] = wanted
        sla = conversation.sla
        for event in events:
            record(
                session,
                tenant_id=tenant_id,
                conversation_id=conversation.id,
                at=now,
                actor_id=None,
                kind=BREACH,
                data={**_event_data(event, sla), **escalation},
            )
        subject, text = breach_email(tenant.slug, conversation, events, calendar, queue)
        for address in recipients:
            payload = {
                "to": address,
                "subject": subject,
                "text": text,
                "tenant": tenant.slug,
                "conversation_id": conversation.id,
                "clocks": [e.clock for e in events],
                "due_at": [_iso(e.due_at) for e in events],
            }
            enqueue(session, clock, BREACH_EMAIL, payload, tenant_id)
        log.warning(
            "sla breached",
            extra={
                "tenant": tenant_id,
                "conversation": conversation.id,
                "clocks": ",".join(e.clock for e in events),
                "notified": len(recipients),
            },
        )


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes:02d} min"
    return f"{hours} h" if hours else f"{minutes} min"


def breach_email(
    tenant: str,
    conversation: Conversation,
    events: Sequence[SlaEvent],
    calendar: Calendar,
    queue: Queue | None,
) -> tuple[str, str]:
    """Subject and plain-text body of the supervisors' e-mail (never the customer's words)."""
    clocks = ", ".join(_LABELS[e.clock] for e in events)
    subject = f"[Clameur] SLA breached: {clocks} on conversation #{conversation.id} ({tenant})"
    lines = [f"The {clocks} SLA of conversation #{conversation.id} ({tenant}) is breached.", ""]
    for event in events:
        local = event.due_at.astimezone(calendar.zone)
        lines.append(
            f"{_LABELS[event.clock].capitalize()}: target {_duration(event.target_seconds)} "
            f"of business time, due {local:%a %d %b %Y %H:%M} {calendar.timezone} "
            f"({_iso(event.due_at)})"
        )
    lines += [
        "",
        f"Channel:  {conversation.source}",
        f"Priority: {conversation.priority_level or '-'} (raised to the top of its queue)",
        f"Status:   {conversation.status}",
    ]
    if queue is not None:
        lines.append(f"Queue:    re-routed to {queue.name!r}")
    lines += ["", "-- ", "Clameur: sent to the supervisors of this tenant when an SLA is breached."]
    return subject[:250], "\n".join(lines) + "\n"


def handlers(settings: Settings) -> dict[str, Handler]:
    """The outbox handler of breach e-mails (the alert e-mail sender, over SMTP)."""
    from clameur.detection.delivery import send_email

    return {BREACH_EMAIL: partial(send_email, settings)}
