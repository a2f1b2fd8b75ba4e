"""Counts over stored data. Only event-time data: the same file gives the same figures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clameur.care.models import OPEN_STATUSES, Conversation
from clameur.detection.models import Alert
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand, MentionBrand


def stats(session: Session, tenant_id: int | None = None) -> dict[str, Any]:
    """The contract of ``clameur stats --json``; all tenants when ``tenant_id`` is None."""

    def scoped(stmt: Any, model: Any) -> Any:
        return stmt if tenant_id is None else stmt.where(model.tenant_id == tenant_id)

    def count(model: Any, *conditions: Any) -> int:
        stmt = scoped(select(func.count()).select_from(model), model).where(*conditions)
        return int(session.execute(stmt).scalar_one())

    def grouped(column: Any, model: Any) -> dict[str, int]:
        stmt = scoped(select(column, func.count()).group_by(column), model)
        return {str(k) if k is not None else "unknown": int(n) for k, n in session.execute(stmt)}

    first_last = session.execute(
        scoped(select(func.min(Mention.created_at), func.max(Mention.created_at)), Mention)
    ).one()
    brand_stmt = (
        select(Brand.slug, func.count(MentionBrand.mention_id))
        .join(MentionBrand, MentionBrand.brand_id == Brand.id, isouter=True)
        .group_by(Brand.slug)
    )
    return {
        "mentions": count(Mention),
        "authors": count(Author),
        "conversations": count(Conversation),
        "open_conversations": count(Conversation, Conversation.status.in_(OPEN_STATUSES)),
        "alerts": count(Alert),
        "brands": count(Brand),
        "by_source": grouped(Mention.source, Mention),
        "by_lang": grouped(Mention.lang, Mention),
        "by_brand": {str(k): int(n) for k, n in session.execute(scoped(brand_stmt, Brand))},
        "first_mention_at": _iso(first_last[0]),
        "last_mention_at": _iso(first_last[1]),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
