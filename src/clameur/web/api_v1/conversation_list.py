"""Pages of conversations for ``GET /api/v1/conversations``, items as ``clameur
conversations list --json`` prints them (:func:`clameur.care.inbox.conversations_list`).

The order is the inbox's (:mod:`clameur.care.inbox`): priority score descending, unscored
conversations last, then id ascending; pages are keyset pages over two segments (scored,
then unscored), each read in index order (``ix_conversations_status_priority``,
``ix_conversations_inbox``, ``ix_conversations_assignee``). The care inbox takes no source,
level or tag filter, hence this listing beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from clameur.care.inbox import SCORED, UNSCORED, decode_cursor, encode_cursor
from clameur.care.models import STATUSES, Conversation
from clameur.care.repository import Conversations
from clameur.db.repository import TenantRepository
from clameur.errors import InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.principal import Principal

LEVELS = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True, slots=True)
class Filters:
    status: str | None = None
    queue_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    priority: str | None = None
    source: str | None = None
    brand_id: int | None = None
    tag: str | None = None


def _conditions(session: Session, filters: Filters) -> list[Any]:
    c = Conversation
    found: list[Any] = []
    if filters.status is not None:
        if filters.status not in STATUSES:
            raise InvalidInputError(f"status is one of {', '.join(STATUSES)}", where="status")
        found.append(c.status == filters.status)
    if filters.priority is not None:
        if filters.priority not in LEVELS:
            raise InvalidInputError(f"priority is one of {', '.join(LEVELS)}", where="priority")
        found.append(c.priority_level == filters.priority)
    if filters.queue_id is not None:
        found.append(c.queue_id == filters.queue_id)
    if filters.assignee_id is not None:
        found.append(c.assignee_id == filters.assignee_id)
    elif filters.unassigned:
        found.append(c.assignee_id.is_(None))
    if filters.source is not None:
        found.append(c.source == filters.source)
    if filters.brand_id is not None:
        found.append(c.brand_id == filters.brand_id)
    if filters.tag is not None:
        if session.get_bind().dialect.name == "postgresql":
            found.append(type_coerce(c.tags, JSONB).contains([filters.tag]))
        else:
            each = func.json_each(c.tags).table_valued("value")
            found.append(exists(select(1).select_from(each).where(each.c.value == filters.tag)))
    return found


def page(
    session: Session,
    principal: Principal,
    filters: Filters,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page: the items and the cursor of the next page (None on the last)."""
    repo = Conversations.of(session, principal)
    c = Conversation
    conditions = _conditions(session, filters)
    segment, after_score, after_id = decode_cursor(cursor) if cursor else (SCORED, None, None)
    rows: list[tuple[int, float | None, int]] = []
    if segment == SCORED:
        scored = repo.select(c.priority, c.id).where(*conditions, c.priority.is_not(None))
        if after_score is not None and after_id is not None:
            scored = scored.where(
                c.priority <= after_score,
                or_(c.priority < after_score, and_(c.priority == after_score, c.id > after_id)),
            )
        found = session.execute(scored.order_by(c.priority.desc(), c.id).limit(limit + 1))
        rows += [(SCORED, score, cid) for score, cid in found]
        after_id = None
    if len(rows) <= limit:
        unscored = repo.select(c.id).where(*conditions, c.priority.is_(None))
        if after_id is not None:
            unscored = unscored.where(c.id > after_id)
        found_ids = session.scalars(unscored.order_by(c.id).limit(limit + 1 - len(rows)))
        rows += [(UNSCORED, None, cid) for cid in found_ids]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(*rows[-1]) if more else None
    return items(session, principal, [cid for _, _, cid in rows]), next_cursor


def items(session: Session, principal: Principal, ids: list[int]) -> list[dict[str, Any]]:
    """The conversations ``ids`` (in that order) as the CLI listing's items."""
    if not ids:
        return []
    c = Conversation
    repo = Conversations.of(session, principal)
    columns = (c.id, c.status, c.priority_level, c.priority, c.source, Author.handle)
    stmt = (
        repo.select(*columns, c.incident_id, c.flags, steer=False)
        .join(Author, Author.id == c.author_id)
        .where(c.id.in_(ids))
    )
    rows = {r.id: r for r in session.execute(stmt)}
    mentions: dict[int | None, list[str]] = {}
    for conversation_id, external_id in session.execute(
        TenantRepository.of(session, principal, Mention)
        .select(Mention.conversation_id, Mention.external_id, steer=False)
        .where(Mention.conversation_id.in_(ids))
        .order_by(Mention.conversation_id, Mention.created_at, Mention.id)
    ):
        mentions.setdefault(conversation_id, []).append(external_id)
    return [
        {
            "id": r.id,
            "status": r.status,
            "priority": r.priority_level,
            "priority_score": r.priority,
            "source": r.source,
            "author": r.handle,
            "mentions": mentions.get(r.id, []),
            "incident": r.incident_id,
            "flags": list(r.flags or []),
        }
        for r in (rows[cid] for cid in ids if cid in rows)
    ]
