"""Agent actions on a conversation: status, tags, internal notes with @mentions.

Standard statuses are open, pending, waiting (on the customer), escalated, resolved and
closed. A tenant may add its own labels (``Tenant.settings["care"]["statuses"]``: label →
standard status, e.g. ``{"awaiting refund": "pending"}``); the label is shown, the standard
status drives queues and SLA clocks. Every action is written to the timeline and the audit
log (:func:`clameur.care.audit.record`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care import sla
from clameur.care.audit import record
from clameur.care.models import STATUSES, Conversation, ConversationEvent
from clameur.care.repository import Conversations
from clameur.errors import InvalidInputError, NotFoundError
from clameur.tenancy.models import Membership, Tenant, User
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

_MENTION = re.compile(r"(?<![\w@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")
_TAG = re.compile(r"^[\w][\w .:/-]{0,39}$")


def get(session: Session, tenant_id: int, conversation_id: int) -> Conversation:
    try:
        return Conversations(session, tenant_id).get(conversation_id)
    except NotFoundError:
        raise NotFoundError(f"no conversation {conversation_id}") from None


def custom_statuses(session: Session, tenant_id: int) -> dict[str, str]:
    tenant = session.get(Tenant, tenant_id)
    care = (tenant.settings or {}).get("care", {}) if tenant else {}
    return {str(k): str(v) for k, v in care.get("statuses", {}).items() if v in STATUSES}


def set_status(
    session: Session, actor: Principal, conversation_id: int, status: str, *, at: datetime
) -> Conversation:
    """Set a standard status or one of the tenant's own labels."""
    actor = refresh(session, actor)
    authorize(actor, "conversations.act")
    tenant_id = actor.tenant_id
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
    if standard in {"resolved", "closed"} and conversation.resolved_at is None:
        conversation.resolved_at = at
    elif standard not in {"resolved", "closed"}:
        conversation.resolved_at = None
    record(
        session,
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        at=at,
        actor_id=actor.actor_id,
        kind="status",
        data={"from": before, "to": label or standard},
    )
    session.flush()
    sla.on_status_change(session, tenant_id, conversation.id, at)  # pause, resume, stop
    return conversation


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
