"""Back-office handover: escalate a conversation to a back-office team and hand it back.

:func:`escalate` checks the fields the team requires (the error names the missing ones),
sets the status ``escalated``, the holding team and since when, and computes the team's due
time from its agreed SLA (``Team.settings["sla_minutes"]``, plain elapsed minutes from the
escalation, not business hours). The front-office assignee keeps the conversation: they
keep the customer informed while the back office works. :func:`hand_back` returns it to the
front office (status ``open``) with the back office's resolution note. :func:`holder` says
who holds a conversation and since when.

Both keep the customer-facing SLA clocks in line with the new status
(:func:`clameur.care.sla.on_status_change`: escalating a conversation that was waiting on
the customer resumes them). The agreed due time and the fields are stored in the
``escalate`` timeline event (there is no column for them), so :func:`holder` reads the
latest such event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care import sla
from clameur.care.audit import record
from clameur.care.models import OPEN_STATUSES, Conversation, ConversationEvent, TeamMember
from clameur.care.teams import get_team
from clameur.clock import Clock
from clameur.errors import ForbiddenError, InvalidInputError, NotFoundError
from clameur.tenancy.policy import allowed, authorize
from clameur.tenancy.principal import Principal, refresh


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a conversation. ``team_id`` set: a back-office team holds it since
    ``since`` and owes an answer by ``due_at``; otherwise the front office holds it
    (``since`` is when it was assigned, None while it waits in a queue). ``assignee_id`` is
    the front-office agent in charge of the customer either way."""

    team_id: int | None
    team_name: str | None
    since: datetime | None
    due_at: datetime | None
    assignee_id: int | None

    @property
    def back_office(self) -> bool:
        return self.team_id is not None


def _locked(session: Session, tenant_id: int, conversation_id: int) -> Conversation:
    conversation = session.scalars(
        select(Conversation)
        .where(Conversation.tenant_id == tenant_id, Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} not found in this tenant")
    return conversation


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidInputError(f"field names are non-empty text, got {key!r}", where="fields")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidInputError(
                f"field {key!r} must be text, a number or a boolean, got {type(value).__name__}",
                where="fields",
            )
        out[key.strip().lower()] = value.strip() if isinstance(value, str) else value
    return out


def escalate(
    session: Session,
    clock: Clock,
    actor: Principal,
    conversation_id: int,
    team_id: int,
    fields: Mapping[str, Any],
) -> Conversation:
    """Hand an open conversation to a back-office team with the fields it requires."""
    actor = refresh(session, actor)
    authorize(actor, "handover.act")
    tenant_id = actor.tenant_id
    team = get_team(session, tenant_id, team_id)
    if team.kind != "back_office":
        raise InvalidInputError(f"team {team.name!r} is not a back-office team", where="team_id")
    conversation = _locked(session, tenant_id, conversation_id)
    if conversation.status not in OPEN_STATUSES:
        raise InvalidInputError(
            f"conversation {conversation_id} is {conversation.status}: reopen it first",
            where="conversation_id",
        )
    if conversation.holder_team_id is not None:
        held_by = get_team(session, tenant_id, conversation.holder_team_id)
        raise InvalidInputError(
            f"conversation {conversation_id} is already held by team {held_by.name!r} since "
            f"{conversation.held_since}: it must be handed back first",
            where="conversation_id",
        )
    cleaned = _clean_fields(fields)
    required = list((team.settings or {}).get("required_fields") or [])
    missing = [name for name in required if _blank(cleaned.get(name))]
    if missing:
        raise InvalidInputError(
            f"team {team.name!r} requires {', '.join(missing)} (missing or empty)",
            where="fields",
        )
    minutes = int((team.settings or {}).get("sla_minutes") or 0)
    now = clock.now()
    due_at = now + timedelta(minutes=minutes) if minutes > 0 else None
    previous = conversation.status
    conversation.status = "escalated"
    conversation.holder_team_id = team.id
    conversation.held_since = now
    record(
        session,
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        at=now,
        actor_id=actor.actor_id,
        kind="escalate",
        data={
            "team_id": team.id,
            "team": team.name,
            "fields": cleaned,
            "from_status": previous,
            "sla_minutes": minutes or None,
            "due_at": due_at.isoformat() if due_at is not None else None,
        },
    )
    sla.on_status_change(session, tenant_id, conversation.id, now)  # "waiting" clocks resume
    session.flush()
    return conversation


def hand_back(
    session: Session,
    clock: Clock,
    actor: Principal,
    conversation_id: int,
    note: str,
) -> Conversation:
    """The back office returns the conversation to the front office (status ``open``, no
    holder) with its resolution note. Members of the holding team may do it, and those the
    policy table lets hand back for any team (``handover.any_team``)."""
    actor = refresh(session, actor)
    authorize(actor, "handover.act")
    tenant_id = actor.tenant_id
    note = note.strip()
    if not note:
        raise InvalidInputError("a hand-back needs a resolution note", where="note")
    conversation = _locked(session, tenant_id, conversation_id)
    if conversation.holder_team_id is None:
        raise InvalidInputError(
            f"conversation {conversation_id} is not held by a back-office team",
            where="conversation_id",
        )
    team = get_team(session, tenant_id, conversation.holder_team_id)
    member = session.get(TeamMember, (team.id, actor.user_id)) is not None
    if not member and not allowed(actor, "handover.any_team"):
        raise ForbiddenError(
            f"{actor.email} is not in team {team.name!r}: only its members, supervisors "
            "or admins hand the conversation back",
            action="handover.any_team",
        )
    current = holder(session, conversation)
    now = clock.now()
    since = conversation.held_since
    held_seconds = (now - since).total_seconds() if since is not None else None
    late = current.due_at is not None and now > current.due_at
    conversation.status = "open"
    conversation.holder_team_id = None
    conversation.held_since = None
    record(
        session,
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        at=now,
        actor_id=actor.actor_id,
        kind="handback",
        data={
            "team_id": team.id,
            "team": team.name,
            "note": note,
            "held_seconds": held_seconds,
            "late": late,
        },
    )
    sla.on_status_change(session, tenant_id, conversation.id, now)
    session.flush()
    return conversation


def holder(session: Session, conversation: Conversation) -> Holder:
    """Who holds the conversation now and since when (see :class:`Holder`)."""
    if conversation.holder_team_id is None:
        return Holder(
            None,
            None,
            conversation.assigned_at if conversation.assignee_id else None,
            None,
            conversation.assignee_id,
        )
    team = get_team(session, conversation.tenant_id, conversation.holder_team_id)
    event = session.scalars(
        select(ConversationEvent)
        .where(
            ConversationEvent.tenant_id == conversation.tenant_id,
            ConversationEvent.conversation_id == conversation.id,
            ConversationEvent.kind == "escalate",
        )
        .order_by(ConversationEvent.at.desc(), ConversationEvent.id.desc())
        .limit(1)
    ).first()
    due_text = (event.data or {}).get("due_at") if event is not None else None
    due_at = datetime.fromisoformat(due_text) if isinstance(due_text, str) else None
    return Holder(team.id, team.name, conversation.held_since, due_at, conversation.assignee_id)
