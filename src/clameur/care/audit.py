"""The audit log and the conversation timeline: every agent action leaves a trace.

Care services call :func:`record` for each action: it writes the conversation's timeline
event (what the team sees) and the audit entry (who did what, for admins) in the caller's
transaction, so an action that rolls back leaves neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from clameur.care.models import ConversationEvent
from clameur.tenancy.audit import audit as audit  # care modules import it from here


def record(
    session: Session,
    *,
    tenant_id: int,
    conversation_id: int,
    at: datetime,
    actor_id: int | None,
    kind: str,
    data: dict[str, Any] | None = None,
) -> ConversationEvent:
    """A timeline event of a conversation, and its audit entry (``conversation.<kind>``)."""
    event = ConversationEvent(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        at=at,
        actor_id=actor_id,
        kind=kind,
        data=data or {},
    )
    session.add(event)
    audit(
        session,
        tenant_id=tenant_id,
        at=at,
        actor_id=actor_id,
        action=f"conversation.{kind}",
        object_type="conversation",
        object_id=conversation_id,
        data=data,
    )
    return event
