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
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care.calendars import ALWAYS_OPEN, Calendar, load_calendars
from clameur.care.models import OPEN_STATUSES, Conversation, SlaPolicy
from clameur.errors import InvalidInputError, NotFoundError

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
            policy_id=policy.id,
            calendar_id=policy.calendar_id,
            warn_percent=policy.warn_percent or 80,
            seconds={k: int(v) * 60 for k, v in minutes.items() if v is not None},
        )


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
        .where(
            SlaPolicy.tenant_id == tenant_id, SlaPolicy.source == source, SlaPolicy.level == level
        )
        .order_by(SlaPolicy.id)
    ).first()
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
        "target": target,
        "started_at": _iso(at),
        "used": 0.0,
        "state": "paused" if paused else "running",
        "running_since": None if paused else _iso(at),
        "due_at": None,
        "warn_at": None,
        "warned_at": None,
        "breached_at": None,
        "stopped_at": None,
        "stopped_by": None,
        "met": None,
    }


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
        used=used,
        state="stopped",
        running_since=None,
        stopped_at=_iso(at),
        stopped_by=by,
        met=used <= clock["target"] + _TOLERANCE,
    )


def _reopen(clock: dict[str, Any], at: datetime, *, paused: bool) -> None:
    clock.update(
        state="paused" if paused else "running",
        running_since=None if paused else _iso(at),
        stopped_at=None,
        stopped_by=None,
        met=None,
    )


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
    conversation: Clocked, sla: dict[str, Any], targets: Targets, at: datetime
) -> None:
    """Adopt the resolved policy; start the clocks that run from the opening if missing."""
    sla.update(
        policy_id=targets.policy_id,
        calendar_id=targets.calendar_id,
        warn_percent=targets.warn_percent,
    )
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
    conversation: Clocked, sla: dict[str, Any], targets: Targets, at: datetime
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


class Clocked(Protocol):
    """What the clocks read and write of a conversation: an ORM ``Conversation``, or the
    plain row the pipeline's bulk path reads (``sla_rows.record_customer_messages``)."""

    id: int
    status: str
    source: str
    priority_level: str | None
    opened_at: datetime
    first_response_at: datetime | None
    last_agent_at: datetime | None
    last_customer_at: datetime | None
    sla: dict[str, Any]


def clocks_after_messages(
    session: Session,
    tenant_id: int,
    found: dict[int, Clocked],
    messages: Sequence[tuple[int, datetime]],
) -> tuple[set[int], dict[int, dict[str, Any]]]:
    """The clocks of ``found`` after ``messages``: the ids whose ``last_customer_at``
    moved (set on the conversations) and the new ``sla`` of each (not yet assigned)."""
    policies = list_policies(session, tenant_id)
    calendars = _Calendars(
        session,
        tenant_id,
        [p.calendar_id for p in policies]
        + [c.sla.get("calendar_id") for c in found.values() if c.sla],
    )
    moved: set[int] = set()
    states: dict[int, dict[str, Any]] = {}
    for conversation_id, at in sorted(messages, key=lambda m: (_aware(m[1]), m[0])):
        conversation = found[conversation_id]
        if conversation.last_customer_at is None or conversation.last_customer_at < at:
            conversation.last_customer_at = at
            moved.add(conversation_id)
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
    for sla in states.values():
        _schedule(sla, calendars(sla.get("calendar_id")))
    return moved, states


def check_found(ids: Iterable[int], found: dict[int, Any]) -> None:
    if missing := [i for i in ids if i not in found]:
        raise NotFoundError(f"no conversation {', '.join(map(str, missing))} in this tenant")


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
    check_found(ids, found)
    _, states = clocks_after_messages(session, tenant_id, dict(found), messages)
    for conversation_id, sla in states.items():
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
            name=name,
            state=clock["state"],
            target_seconds=clock["target"],
            used_seconds=float(used),
            remaining_seconds=clock["target"] - float(used),
            started_at=_dt(clock["started_at"]),
            due_at=_opt_dt(clock["due_at"]),
            warned_at=_opt_dt(clock["warned_at"]),
            breached_at=_opt_dt(clock["breached_at"]),
            stopped_at=_opt_dt(clock["stopped_at"]),
            met=clock["met"],
        )
    return out
