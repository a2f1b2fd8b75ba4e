"""Agent actions on a conversation: status, tags, internal notes with @mentions.

Standard statuses are open, pending, waiting (on the customer), escalated, resolved and
closed. A tenant may add its own labels (``Tenant.settings["care"]["statuses"]``: label →
standard status, e.g. ``{"awaiting refund": "pending"}``); the label is shown, the standard
status drives queues and SLA clocks. Every action is written to the timeline and the audit
log (:func:`clameur.care.audit.record`), with the agent's reason when one is given.

**Snooze** (:func:`snooze`): the conversation is ``pending`` until a time; its SLA clocks do
what they do for ``pending`` (they keep running: only ``waiting`` pauses them, see
:mod:`clameur.care.sla`). It wakes up — ``open`` again, timeline event ``woke`` — when the
time passes (:func:`wake_snoozed`, run by the worker's SLA loop) or when the customer
writes (:func:`wake_conversations`, called by the threading in :mod:`clameur.care.service`).
Any other status change ends the snooze.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care import sla
from clameur.care.audit import record
from clameur.care.models import OPEN_STATUSES, STATUSES, Conversation, ConversationEvent
from clameur.care.repository import Conversations
from clameur.errors import InvalidInputError, NotFoundError
from clameur.tenancy.models import Membership, Tenant, User
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

_MENTION = re.compile(r"(?<![\w@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")
_TAG = re.compile(r"^[\w][\w .:/-]{0,39}$")
MAX_REASON = 500
"""Characters of a status or snooze reason, at most."""
MAX_SNOOZE = timedelta(days=365)
SNOOZED = "pending"
"""The standard status of a snoozed conversation."""
_CHUNK = 500


def get(session: Session, tenant_id: int, conversation_id: int) -> Conversation:
    try:
        return Conversations(session, tenant_id).get(conversation_id)
    except NotFoundError:
        raise NotFoundError(f"no conversation {conversation_id}") from None


def custom_statuses(session: Session, tenant_id: int) -> dict[str, str]:
    tenant = session.get(Tenant, tenant_id)
    care = (tenant.settings or {}).get("care", {}) if tenant else {}
    return {str(k): str(v) for k, v in care.get("statuses", {}).items() if v in STATUSES}


def _reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    cleaned = " ".join(reason.split())
    if len(cleaned) > MAX_REASON:
        raise InvalidInputError(f"a reason is at most {MAX_REASON} characters", where="reason")
    return cleaned or None


def set_status(
    session: Session,
    actor: Principal,
    conversation_id: int,
    status: str,
    *,
    at: datetime,
    reason: str | None = None,
) -> Conversation:
    """Set a standard status or one of the tenant's own labels; ``reason`` (why: "refund
    sent", "waiting for the courier"…) goes to the timeline event. Ends a snooze."""
    actor = refresh(session, actor)
    authorize(actor, "conversations.act")
    tenant_id = actor.tenant_id
    why = _reason(reason)
    conversation = get(session, tenant_id, conversation_id)
    custom = custom_statuses(session, tenant_id)
    if status in STATUSES:
        standard, label = status, None
    elif status in custom:
        standard, label = custom[status], status
    else:
        known = ", ".join([*STATUSES, *custom])
        raise InvalidInputError(f"unknown status {status!r}; use one of: {known}", where="status")
    before = conversation.custom_status or conversation.status
    conversation.status, conversation.custom_status = standard, label
    conversation.snoozed_until = None
    if standard in {"resolved", "closed"} and conversation.resolved_at is None:
        conversation.resolved_at = at
    elif standard not in {"resolved", "closed"}:
        conversation.resolved_at = None
    data: dict[str, Any] = {"from": before, "to": label or standard}
    if why is not None:
        data["reason"] = why
    record(
        session,
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        at=at,
        actor_id=actor.actor_id,
        kind="status",
        data=data,
    )
    session.flush()
    sla.on_status_change(session, tenant_id, conversation.id, at)  # pause, resume, stop
    return conversation


def snooze(
    session: Session,
    actor: Principal,
    conversation_id: int,
    until: datetime,
    *,
    at: datetime,
    reason: str | None = None,
) -> Conversation:
    """Put an open conversation aside until ``until`` (after ``at``, within a year): status
    ``pending`` with ``snoozed_until``; it wakes up by itself then, or when the customer
    writes. Snoozing a snoozed conversation moves its wake-up time."""
    actor = refresh(session, actor)
    authorize(actor, "conversations.act")
    tenant_id = actor.tenant_id
    why = _reason(reason)
    if until.tzinfo is None or until.utcoffset() is None:
        raise InvalidInputError("needs a time zone", where="until")
    if not at < until <= at + MAX_SNOOZE:
        raise InvalidInputError(
            f"must be after {at.isoformat()} and within {MAX_SNOOZE.days} days", where="until"
        )
    conversation = get(session, tenant_id, conversation_id)
    if conversation.status not in OPEN_STATUSES:
        raise InvalidInputError(
            f"conversation {conversation_id} is {conversation.status}: reopen it first",
            where="conversation_id",
        )
    before = conversation.custom_status or conversation.status
    conversation.status, conversation.custom_status = SNOOZED, None
    conversation.snoozed_until = until
    conversation.resolved_at = None
    data: dict[str, Any] = {"from": before, "to": SNOOZED, "until": until.isoformat()}
    if why is not None:
        data["reason"] = why
    record(
        session,
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        at=at,
        actor_id=actor.actor_id,
        kind="snooze",
        data=data,
    )
    session.flush()
    sla.on_status_change(session, tenant_id, conversation.id, at)
    return conversation


def _wake(session: Session, conversation: Conversation, at: datetime, by: str) -> None:
    until = conversation.snoozed_until
    conversation.status, conversation.custom_status = "open", None
    conversation.snoozed_until = None
    record(
        session,
        tenant_id=conversation.tenant_id,
        conversation_id=conversation.id,
        at=at,
        actor_id=None,
        kind="woke",
        data={"by": by, "until": until.isoformat() if until else None},
    )
    session.flush()
    sla.on_status_change(session, conversation.tenant_id, conversation.id, at)


def wake_snoozed(session: Session, now: datetime, *, limit: int = 5000) -> int:
    """Wake every snoozed conversation (any tenant) whose time has come by ``now``: back to
    ``open``, timeline event ``woke`` (``by: "time"``). Returns how many woke. Background
    work (the worker's SLA loop): no person acts; concurrent runs skip each other's rows on
    PostgreSQL."""
    due = session.scalars(
        select(Conversation)
        .where(
            Conversation.snoozed_until.is_not(None),
            Conversation.snoozed_until <= now,
            Conversation.status == SNOOZED,
        )
        .order_by(Conversation.snoozed_until, Conversation.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for conversation in due:
        _wake(session, conversation, now, "time")
    return len(due)


def wake_conversations(
    session: Session, tenant_id: int, messages: Iterable[tuple[int, datetime]]
) -> list[int]:
    """The customer wrote in these conversations (``(id, event time)``): those snoozed wake
    up (``by: "customer"``) at the time of the message. Returns the ids woken."""
    latest: dict[int, datetime] = {}
    for conversation_id, at in messages:
        if conversation_id not in latest or latest[conversation_id] < at:
            latest[conversation_id] = at
    ids = sorted(latest)
    woken: list[int] = []
    for i in range(0, len(ids), _CHUNK):
        found = session.scalars(
            select(Conversation)
            .where(
                Conversation.tenant_id == tenant_id,
                Conversation.id.in_(ids[i : i + _CHUNK]),
                Conversation.snoozed_until.is_not(None),
                Conversation.status == SNOOZED,
            )
            .order_by(Conversation.id)
            .execution_options(populate_existing=True)
        ).all()
        for conversation in found:
            _wake(session, conversation, latest[conversation.id], "customer")
            woken.append(conversation.id)
    return woken


def tag(
    session: Session,
    actor: Principal,
    conversation_id: int,
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    at: datetime,
) -> Conversation:
    actor = refresh(session, actor)
    authorize(actor, "conversations.act")
    tenant_id = actor.tenant_id
    conversation = get(session, tenant_id, conversation_id)
    for value in add:
        if not _TAG.match(value):
            raise InvalidInputError(
                f"tag {value!r}: 1–40 letters, digits, spaces or . : / - _", where="tag"
            )
    tags = [t for t in conversation.tags if t not in set(remove)]
    tags += [t for t in add if t not in tags]
    conversation.tags = tags
    record(
        session,
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        at=at,
        actor_id=actor.actor_id,
        kind="tag",
        data={"added": list(add), "removed": list(remove)},
    )
    session.flush()
    return conversation


def add_note(
    session: Session, actor: Principal, conversation_id: int, text: str, *, at: datetime
) -> ConversationEvent:
    """An internal note (never sent to the customer). ``@someone`` names a colleague (an
    active member of the tenant) by e-mail or by the part before the ``@`` of their e-mail;
    unknown names are refused so a note never silently fails to reach who it was meant for."""
    actor = refresh(session, actor)
    authorize(actor, "conversations.act")
    tenant_id = actor.tenant_id
    body = text.strip()
    if not body:
        raise InvalidInputError("a note needs some text", where="note")
    if len(body) > 10_000:
        raise InvalidInputError("a note is at most 10,000 characters", where="note")
    get(session, tenant_id, conversation_id)
    names = {m.lower() for m in _MENTION.findall(body)}
    mentioned: list[int] = []
    if names:
        users = session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(User.active.is_(True), Membership.tenant_id == tenant_id)
            .order_by(User.id)
        ).all()
        by_name: dict[str, User] = {}
        for user in users:
            by_name[user.email.lower()] = user
            by_name.setdefault(user.email.split("@")[0].lower(), user)
        unknown = sorted(n for n in names if n not in by_name)
        if unknown:
            raise InvalidInputError(
                f"no colleague named {', '.join('@' + n for n in unknown)}", where="note"
            )
        mentioned = sorted({by_name[n].id for n in names})
    return record(
        session,
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        at=at,
        actor_id=actor.actor_id,
        kind="note",
        data={"text": body, "mentions": mentioned},
    )


def timeline(session: Session, tenant_id: int, conversation_id: int) -> list[ConversationEvent]:
    get(session, tenant_id, conversation_id)
    return list(
        session.scalars(
            select(ConversationEvent)
            .where(
                ConversationEvent.tenant_id == tenant_id,
                ConversationEvent.conversation_id == conversation_id,
            )
            .order_by(ConversationEvent.at, ConversationEvent.id)
        )
    )
