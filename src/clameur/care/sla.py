"""SLA clocks in business time: first response, next response and resolution.

A conversation's clocks live in ``Conversation.sla`` (JSON, see :func:`clock_states` for a
typed view)::

    {"policy_id": 3, "calendar_id": 1, "warn_percent": 80,
     "paused_since": null,          # set while the conversation is "waiting" (on the customer)
     "next_at": "…",                # earliest pending warning or breach (UTC): sweep's filter
     "done": {"next_response": {"met": 2, "missed": 1}},   # finished next-response cycles
     "clocks": {"first_response": {
         "target": 3600,            # business seconds
         "started_at": "…", "state": "running" | "paused" | "stopped",
         "used": 0.0,               # business seconds counted before running_since
         "running_since": "…",      # start of the current running stretch (null unless running)
         "due_at": "…", "warn_at": "…",          # while running, in the policy's calendar
         "warned_at": null, "breached_at": null, # once per clock
         "stopped_at": null, "stopped_by": "reply" | "status" | null, "met": null}}}

The services call four hooks with the **event time** of what happened (a mention's
``created_at``, a reply's sending time), never the processing time:

* :func:`on_customer_messages` / :func:`on_customer_message` — a customer wrote. The first
  call resolves the policy and starts *resolution* and *first response* from the
  conversation's opening; a message after an agent reply starts *next response* (later
  messages before the next reply do not restart it). The policy is resolved again on every
  message, so a conversation whose priority rises gets the tighter targets.
* :func:`on_agent_reply` — an agent answered: stops first and next response.
* :func:`on_status_change` — call after changing ``Conversation.status``: ``waiting`` pauses
  every clock (paused time does not count), leaving it resumes them, ``resolved``/``closed``
  stops them (``met`` records whether the target was kept) and reopening resumes what the
  resolution stopped.
* :func:`sweep` — run periodically: records ``sla_warning`` (≥ ``warn_percent`` of a target
  used) and ``sla_breach`` (target used up) once per clock, and escalates a breach: flag
  ``sla_breached``, priority raised to the top of the queue, re-routed to the tenant's breach
  queue (``Tenant.settings["care"]["breach_queue_id"]``) and an e-mail to the tenant's
  supervisors and the BPO's through the outbox (``care.sla_breach``, delivered by
  :func:`handlers`).

Policies (``SlaPolicy``) are per tenant × source × priority level with ``"*"`` wildcards;
the most specific wins, the level before the source: (source, level), (``*``, level),
(source, ``*``), (``*``, ``*``). A missing target means no clock of that kind. A policy
without a calendar counts every second.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clameur.care.audit import record
from clameur.care.calendars import ALWAYS_OPEN, Calendar, load_calendars
from clameur.care.models import OPEN_STATUSES, Conversation, Queue, SlaPolicy
from clameur.clock import Clock
from clameur.config import Settings
from clameur.errors import InvalidInputError, NotFoundError
from clameur.pipeline.outbox import Handler, enqueue
from clameur.tenancy.models import Tenant, User

log = logging.getLogger(__name__)

CLOCKS = ("first_response", "next_response", "resolution")
LEVELS = ("P1", "P2", "P3", "P4")
WARNING = "sla_warning"
BREACH = "sla_breach"
"""Kinds of the timeline events (and ``conversation.<kind>`` audit actions)."""
BREACH_EMAIL = "care.sla_breach"
"""Outbox kind of the supervisors' e-mails (payload ``to``, ``subject``, ``text``…)."""
BREACHED_FLAG = "sla_breached"
TOP_PRIORITY = 100.0
"""The top of the priority scale (0–100) that orders a queue: where a breach goes."""
DONE_STATUSES = ("resolved", "closed")
RUNNING_STATUSES = tuple(s for s in OPEN_STATUSES if s != "waiting")
_TOLERANCE = 1e-6  # seconds: float noise when comparing used time with a target
_LABELS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


# -- policies ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Targets:
    """What a policy asks of one conversation (``seconds``: clock → business seconds)."""

    policy_id: int | None = None
    calendar_id: int | None = None
    warn_percent: int = 80
    seconds: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, policy: SlaPolicy | None) -> Targets:
        if policy is None:
            return cls()
        minutes = {
            "first_response": policy.first_response_minutes,
            "next_response": policy.next_response_minutes,
            "resolution": policy.resolution_minutes,
        }
        return cls(
            policy_id=policy.id, calendar_id=policy.calendar_id,
            warn_percent=policy.warn_percent or 80,
            seconds={k: int(v) * 60 for k, v in minutes.items() if v is not None},
        )  # fmt: skip


def resolve_policy(
    policies: Iterable[SlaPolicy], source: str, level: str | None
) -> SlaPolicy | None:
    """The policy for a conversation: (source, level), (*, level), (source, *), (*, *).

    Among policies with the same key, the oldest (lowest id) wins.
    """
    by_key: dict[tuple[str, str], SlaPolicy] = {}
    for policy in sorted(policies, key=lambda p: p.id):
        by_key.setdefault((policy.source, policy.level), policy)
    keys = [(source, level), ("*", level)] if level else []
    for key in [*keys, (source, "*"), ("*", "*")]:
        if key in by_key:
            return by_key[key]
    return None


def list_policies(session: Session, tenant_id: int) -> list[SlaPolicy]:
    stmt = select(SlaPolicy).where(SlaPolicy.tenant_id == tenant_id).order_by(SlaPolicy.id)
    return list(session.scalars(stmt))


def policy_for(
    session: Session, tenant_id: int, source: str, level: str | None
) -> SlaPolicy | None:
    return resolve_policy(list_policies(session, tenant_id), source, level)


def set_policy(
    session: Session,
    tenant_id: int,
    *,
    source: str = "*",
    level: str = "*",
    first_response_minutes: int | None = None,
    next_response_minutes: int | None = None,
    resolution_minutes: int | None = None,
    warn_percent: int = 80,
    calendar_id: int | None = None,
) -> SlaPolicy:
    """Create or replace the tenant's policy for (source, level); ``"*"`` matches any."""
    from clameur.mentions import SOURCES

    if source != "*" and source not in SOURCES:
        raise InvalidInputError(
            f"unknown source {source!r} (expected * or one of {', '.join(sorted(SOURCES))})",
            where="source",
        )
    if level != "*" and level not in LEVELS:
        raise InvalidInputError(
            f"unknown level {level!r} (expected * or one of {', '.join(LEVELS)})", where="level"
        )
    minutes = {
        "first_response_minutes": first_response_minutes,
        "next_response_minutes": next_response_minutes,
        "resolution_minutes": resolution_minutes,
    }
    for name, value in minutes.items():
        if value is not None and value < 1:
            raise InvalidInputError(f"must be at least 1 minute, got {value}", where=name)
    if not 1 <= warn_percent <= 100:
        raise InvalidInputError(f"must be 1–100, got {warn_percent}", where="warn_percent")
    if calendar_id is not None and not load_calendars(session, tenant_id, [calendar_id]):
        raise NotFoundError(f"no calendar {calendar_id} in this tenant")
    policy = session.scalars(
        select(SlaPolicy)
        .where(SlaPolicy.tenant_id == tenant_id, SlaPolicy.source == source,
               SlaPolicy.level == level)
        .order_by(SlaPolicy.id)
    ).first()  # fmt: skip
    if policy is None:
        policy = SlaPolicy(tenant_id=tenant_id, source=source, level=level)
        session.add(policy)
    policy.first_response_minutes = first_response_minutes
    policy.next_response_minutes = next_response_minutes
    policy.resolution_minutes = resolution_minutes
    policy.warn_percent = warn_percent
    policy.calendar_id = calendar_id
    session.flush()
    return policy


# -- clock arithmetic (on a copy of Conversation.sla) --------------------------------------


def _iso(at: datetime) -> str:
    """Fixed-width UTC ISO 8601: such strings sort as the instants do (SQL included)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _opt_dt(text: str | None) -> datetime | None:
    return _dt(text) if text else None


def _new_clock(target: int, at: datetime, *, paused: bool) -> dict[str, Any]:
    return {
        "target": target, "started_at": _iso(at), "used": 0.0,
        "state": "paused" if paused else "running",
        "running_since": None if paused else _iso(at), "due_at": None, "warn_at": None,
        "warned_at": None, "breached_at": None, "stopped_at": None, "stopped_by": None,
        "met": None,
    }  # fmt: skip


def _used(clock: dict[str, Any], calendar: Calendar, at: datetime) -> float:
    used = float(clock["used"])
    if clock["state"] == "running":
        used += calendar.business_seconds(_dt(clock["running_since"]), at)
    return used


def _checkpoint(clock: dict[str, Any], calendar: Calendar, at: datetime) -> None:
    """Bank the running stretch up to ``at`` (before the calendar changes)."""
    if clock["state"] == "running" and _dt(clock["running_since"]) < at:
        clock["used"] = _used(clock, calendar, at)
        clock["running_since"] = _iso(at)


def _pause(clock: dict[str, Any], calendar: Calendar, at: datetime) -> None:
    if clock["state"] == "running":
        clock.update(used=_used(clock, calendar, at), state="paused", running_since=None)


def _resume(clock: dict[str, Any], at: datetime) -> None:
    if clock["state"] == "paused":
        clock.update(state="running", running_since=_iso(at))


def _stop(clock: dict[str, Any], calendar: Calendar, at: datetime, by: str) -> None:
    if clock["state"] == "stopped":
        return
    used = _used(clock, calendar, at)
    clock.update(
        used=used, state="stopped", running_since=None, stopped_at=_iso(at), stopped_by=by,
        met=used <= clock["target"] + _TOLERANCE,
    )  # fmt: skip


def _reopen(clock: dict[str, Any], at: datetime, *, paused: bool) -> None:
    clock.update(
        state="paused" if paused else "running", running_since=None if paused else _iso(at),
        stopped_at=None, stopped_by=None, met=None,
    )  # fmt: skip


def _schedule(sla: dict[str, Any], calendar: Calendar) -> None:
    """Due and warning times of the running clocks, and ``next_at`` for :func:`sweep`."""
    percent = int(sla.get("warn_percent") or 80)
    pending: list[str] = []
    for clock in sla.get("clocks", {}).values():
        clock["due_at"] = clock["warn_at"] = None
        if clock["state"] != "running":
            continue
        since, used, target = _dt(clock["running_since"]), float(clock["used"]), clock["target"]
        clock["due_at"] = _iso(calendar.add_business(since, max(target - used, 0.0)))
        if clock["breached_at"] is not None:
            continue
        if clock["warned_at"] is None:
            warn = target * percent / 100
            clock["warn_at"] = _iso(calendar.add_business(since, max(warn - used, 0.0)))
            pending.append(clock["warn_at"])
        else:
            pending.append(clock["due_at"])
    sla["next_at"] = min(pending) if pending else None


def _fresh(sla: dict[str, Any] | None) -> dict[str, Any]:
    """A deep copy: JSON columns are only saved when a new value is assigned."""
    out = copy.deepcopy(sla) if sla else {}
    out.setdefault("clocks", {})
    return out


def _apply_targets(
    conversation: Conversation, sla: dict[str, Any], targets: Targets, at: datetime
) -> None:
    """Adopt the resolved policy; start the clocks that run from the opening if missing."""
    sla.update(
        policy_id=targets.policy_id, calendar_id=targets.calendar_id,
        warn_percent=targets.warn_percent,
    )  # fmt: skip
    clocks: dict[str, Any] = sla["clocks"]
    for name, clock in list(clocks.items()):
        if clock["state"] == "stopped":
            continue
        if name in targets.seconds:
            clock["target"] = targets.seconds[name]
        else:
            del clocks[name]  # the new policy has no such target
    paused = conversation.status == "waiting"
    opened = min(conversation.opened_at, at)
    if "resolution" in targets.seconds and "resolution" not in clocks:
        clocks["resolution"] = _new_clock(targets.seconds["resolution"], opened, paused=paused)
    answered = conversation.first_response_at is not None or conversation.last_agent_at is not None
    if "first_response" in targets.seconds and "first_response" not in clocks and not answered:
        clocks["first_response"] = _new_clock(
            targets.seconds["first_response"], opened, paused=paused
        )


def _customer_wrote(
    conversation: Conversation, sla: dict[str, Any], targets: Targets, at: datetime
) -> None:
    last_agent = conversation.last_agent_at
    if last_agent is None or last_agent > at or "next_response" not in targets.seconds:
        return
    clocks: dict[str, Any] = sla["clocks"]
    current = clocks.get("next_response")
    if current is not None and current["state"] != "stopped":
        return  # already waiting for an answer: its clock runs from the first message
    if current is not None:
        tally = sla.setdefault("done", {}).setdefault("next_response", {"met": 0, "missed": 0})
        tally["met" if current["met"] else "missed"] += 1
    clocks["next_response"] = _new_clock(
        targets.seconds["next_response"], at, paused=conversation.status == "waiting"
    )


# -- hooks ---------------------------------------------------------------------------------


def _get(session: Session, tenant_id: int, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.tenant_id != tenant_id:
        raise NotFoundError(f"no conversation {conversation_id} in this tenant")
    return conversation


def _aware(at: datetime, name: str = "at") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInputError(f"{name} must be a timezone-aware datetime, got {at!r}")
    return at


class _Calendars:
    """A tenant's calendars, loaded once per call (a deleted one counts as always open)."""

    def __init__(self, session: Session, tenant_id: int, ids: Iterable[int | None]) -> None:
        self._loaded = load_calendars(session, tenant_id, ids)

    def __call__(self, calendar_id: int | None) -> Calendar:
        return self._loaded.get(calendar_id or 0, ALWAYS_OPEN)


def on_customer_messages(
    session: Session, tenant_id: int, messages: Sequence[tuple[int, datetime]]
) -> list[Conversation]:
    """Customer messages ``(conversation_id, event time)``, a batch at a time.

    Three queries for any number of messages (conversations, policies, calendars). Resolved
    and closed conversations are left alone (the threading only adds to open ones).
    """
    if not messages:
        return []
    ids = sorted({conversation_id for conversation_id, _ in messages})
    stmt = select(Conversation).where(Conversation.tenant_id == tenant_id, Conversation.id.in_(ids))
    found = {c.id: c for c in session.scalars(stmt)}
    if missing := [i for i in ids if i not in found]:
        raise NotFoundError(f"no conversation {', '.join(map(str, missing))} in this tenant")
    policies = list_policies(session, tenant_id)
    calendars = _Calendars(
        session, tenant_id,
        [p.calendar_id for p in policies] + [c.sla.get("calendar_id") for c in found.values()
                                              if c.sla],
    )  # fmt: skip
    states: dict[int, dict[str, Any]] = {}
    for conversation_id, at in sorted(messages, key=lambda m: (_aware(m[1]), m[0])):
        conversation = found[conversation_id]
        if conversation.last_customer_at is None or conversation.last_customer_at < at:
            conversation.last_customer_at = at
        if conversation.status in DONE_STATUSES:
            continue
        sla = states.setdefault(conversation_id, _fresh(conversation.sla))
        targets = Targets.of(
            resolve_policy(policies, conversation.source, conversation.priority_level)
        )
        if sla["clocks"] and sla.get("calendar_id") != targets.calendar_id:
            old = calendars(sla.get("calendar_id"))
            for clock in sla["clocks"].values():
                _checkpoint(clock, old, at)
        _apply_targets(conversation, sla, targets, at)
        _customer_wrote(conversation, sla, targets, at)
    for conversation_id, sla in states.items():
        _schedule(sla, calendars(sla.get("calendar_id")))
        found[conversation_id].sla = sla
    session.flush()
    return [found[i] for i in ids]


def on_customer_message(
    session: Session, tenant_id: int, conversation_id: int, at: datetime
) -> Conversation:
    """One customer message (see :func:`on_customer_messages`)."""
    return on_customer_messages(session, tenant_id, [(conversation_id, at)])[0]


def on_agent_reply(
    session: Session, tenant_id: int, conversation_id: int, at: datetime
) -> Conversation:
    """An agent answered the customer at ``at``: first and next response stop.

    Also sets ``first_response_at`` (if unset) and ``last_agent_at``.
    """
    _aware(at)
    conversation = _get(session, tenant_id, conversation_id)
    if conversation.first_response_at is None:
        conversation.first_response_at = at
    if conversation.last_agent_at is None or conversation.last_agent_at < at:
        conversation.last_agent_at = at
    if conversation.sla and conversation.sla.get("clocks"):
        sla = _fresh(conversation.sla)
        calendar = _Calendars(session, tenant_id, [sla.get("calendar_id")])(sla.get("calendar_id"))
        for name in ("first_response", "next_response"):
            if name in sla["clocks"]:
                _stop(sla["clocks"][name], calendar, at, "reply")
        _schedule(sla, calendar)
        conversation.sla = sla
    session.flush()
    return conversation


def on_status_change(
    session: Session, tenant_id: int, conversation_id: int, at: datetime
) -> Conversation:
    """Bring the clocks in line with ``Conversation.status`` (call after changing it).

    ``waiting`` pauses, another open status runs (resuming paused clocks and those that a
    resolution stopped), ``resolved``/``closed`` stops. Idempotent.
    """
    _aware(at)
    conversation = _get(session, tenant_id, conversation_id)
    if not (conversation.sla and conversation.sla.get("clocks")):
        return conversation
    sla = _fresh(conversation.sla)
    calendar = _Calendars(session, tenant_id, [sla.get("calendar_id")])(sla.get("calendar_id"))
    status = conversation.status
    for clock in sla["clocks"].values():
        if status in DONE_STATUSES:
            _stop(clock, calendar, at, "status")
        elif clock["state"] == "stopped":
            if clock["stopped_by"] == "status":
                _reopen(clock, at, paused=status == "waiting")
        elif status == "waiting":
            _pause(clock, calendar, at)
        else:
            _resume(clock, at)
    if status == "waiting":
        sla["paused_since"] = sla.get("paused_since") or _iso(at)
    else:
        sla["paused_since"] = None
    _schedule(sla, calendar)
    conversation.sla = sla
    session.flush()
    return conversation


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockState:
    """One SLA clock of a conversation as of ``now`` (seconds are business seconds)."""

    name: str
    state: str
    """running, paused or stopped."""
    target_seconds: int
    used_seconds: float
    remaining_seconds: float
    started_at: datetime
    due_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None
    stopped_at: datetime | None
    met: bool | None


def clock_states(
    session: Session, tenant_id: int, conversation_id: int, now: datetime
) -> dict[str, ClockState]:
    """The conversation's clocks as of ``now``."""
    _aware(now, "now")
    conversation = _get(session, tenant_id, conversation_id)
    sla = conversation.sla or {}
    calendar = _Calendars(session, tenant_id, [sla.get("calendar_id")])(sla.get("calendar_id"))
    out = {}
    for name, clock in sla.get("clocks", {}).items():
        used = _used(clock, calendar, now) if clock["state"] == "running" else clock["used"]
        out[name] = ClockState(
            name=name, state=clock["state"], target_seconds=clock["target"],
            used_seconds=float(used), remaining_seconds=clock["target"] - float(used),
            started_at=_dt(clock["started_at"]), due_at=_opt_dt(clock["due_at"]),
            warned_at=_opt_dt(clock["warned_at"]), breached_at=_opt_dt(clock["breached_at"]),
            stopped_at=_opt_dt(clock["stopped_at"]), met=clock["met"],
        )  # fmt: skip
    return out


# -- the sweep -----------------------------------------------------------------------------


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
            events.append(SlaEvent(
                conversation.id, name, kind, due, _used(state, calendar, now), state["target"]
            ))  # fmt: skip
        _schedule(sla, calendar)
        conversation.sla = sla
        for event in events:
            if event.kind == WARNING:
                record(
                    session, tenant_id=tenant_id, conversation_id=conversation.id, at=now,
                    actor_id=None, kind=WARNING, data=_event_data(event, sla),
                )  # fmt: skip
        if breaches := [e for e in events if e.kind == BREACH]:
            breached.append((conversation, breaches, calendar))
        found.extend(events)
    if breached:
        _escalate(session, clock, tenant_id, breached, now)
    session.flush()
    log.info(
        "sla sweep",
        extra={"tenant": tenant_id, "warnings": sum(e.kind == WARNING for e in found),
               "breaches": sum(e.kind == BREACH for e in found)},
    )  # fmt: skip
    return found


def _event_data(event: SlaEvent, sla: dict[str, Any]) -> dict[str, Any]:
    return {
        "clock": event.clock, "due_at": _iso(event.due_at),
        "target_seconds": event.target_seconds, "used_seconds": round(event.used_seconds, 3),
        "warn_percent": sla.get("warn_percent"), "policy_id": sla.get("policy_id"),
    }  # fmt: skip


def supervisor_emails(session: Session, tenant_id: int) -> list[str]:
    """Active supervisors of the tenant, and of the BPO (users without a tenant)."""
    stmt = (
        select(User.email)
        .where(
            User.role == "supervisor",
            User.active.is_(True),
            or_(User.tenant_id == tenant_id, User.tenant_id.is_(None)),
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
                session, tenant_id=tenant_id, conversation_id=conversation.id, at=now,
                actor_id=None, kind=BREACH, data={**_event_data(event, sla), **escalation},
            )  # fmt: skip
        subject, text = breach_email(tenant.slug, conversation, events, calendar, queue)
        for address in recipients:
            payload = {
                "to": address, "subject": subject, "text": text, "tenant": tenant.slug,
                "conversation_id": conversation.id, "clocks": [e.clock for e in events],
                "due_at": [_iso(e.due_at) for e in events],
            }  # fmt: skip
            enqueue(session, clock, BREACH_EMAIL, payload, tenant_id)
        log.warning(
            "sla breached",
            extra={"tenant": tenant_id, "conversation": conversation.id,
                   "clocks": ",".join(e.clock for e in events), "notified": len(recipients)},
        )  # fmt: skip


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
