"""The audit log: who did what, when (wall clock), to which object, in which tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from clameur.db.repository import TenantRepository
from clameur.tenancy.models import AuditEntry, User


class AuditLog(TenantRepository[AuditEntry]):
    model = AuditEntry


def audit(
    session: Session,
    *,
    tenant_id: int,
    at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """One audit entry (``action`` like ``conversation.assign``, ``auth.sign_in``)."""
    entry = AuditEntry(
        tenant_id=tenant_id,
        at=at,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        data=data or {},
    )
    session.add(entry)
    return entry


def entries(
    session: Session,
    tenant_id: int,
    *,
    since: datetime | None = None,
    action: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The tenant's audit log, oldest first, as the ``clameur audit --json`` items."""
    log = AuditLog(session, tenant_id)
    stmt = (
        log.select(AuditEntry, User.email)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if action is not None:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    if limit is not None:
        stmt = stmt.limit(limit)
    rows: Sequence[Any] = session.execute(stmt).all()
    return [
        {
            "id": entry.id,
            "at": entry.at.isoformat(),
            "actor": email,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "data": entry.data,
        }
        for entry, email in rows
    ]
