"""The inbox: pages of conversations as an agent's list shows them, and the CLI listing.

Order: priority score descending, conversations without a score last, then id ascending
(among equal scores the older conversation first; ids follow creation). Pagination is by
keyset: the opaque cursor holds the last row's position, so a page costs the same at any
depth and rows never repeat or go missing while the order keys do not change.

A page takes two statements: the page itself (ids and scores only, read from
``ix_conversations_inbox`` — ``tenant_id, queue_id, status, priority, id`` — for a queue, or
``ix_conversations_assignee`` for an agent's own list), then the details of those ids in one
joined select (author, latest mention, queue, assignee, incident). Scored and unscored
conversations are read by two branches of one ``UNION ALL``, each in index order, because
the backends place NULL differently in a descending index scan.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import BindParameter, Select, and_, bindparam, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from clameur.care.models import STATUSES, Conversation, Incident, Queue
from clameur.errors import InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import User

MAX_LIMIT = 200
EXCERPT_CHARS = 200

SCORED, UNSCORED = 0, 1
"""Keyset segments: conversations with a priority score first, then those without."""
"""Segments of the order: conversations with a priority score, then those without."""


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One row of the inbox: what an agent needs to pick a conversation."""

    id: int
    status: str
    custom_status: str | None
    priority: float | None
    """Score 0–100 (the order)."""
    priority_level: str | None
    """P1…P4."""
    source: str
    brand_id: int | None
    lang: str | None
    author_id: int
    author_handle: str
    author_name: str | None
    author_followers: int | None
    latest_text: str | None
    """The start of the latest mention's text (``EXCERPT_CHARS``, ellipsis when cut)."""
    latest_external_id: str | None
    latest_at: datetime
    """Event time of the latest mention."""
    opened_at: datetime
    mention_count: int
    assignee_id: int | None
    assignee_name: str | None
    assigned_at: datetime | None
    queue_id: int | None
    queue_name: str | None
    incident_id: int | None
    incident_title: str | None
    flags: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    sla_due: datetime | None = None
    """The earliest due time of the conversation's running SLA clocks."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[InboxItem]
    next_cursor: str | None
    """Pass it back as ``cursor`` for the next page; None on the last page."""


def inbox(
    session: Session,
    tenant_id: int,
    *,
    queue_id: int | None = None,
    status: str | Sequence[str] | None = "open",
    assignee_id: int | None = None,
    unassigned: bool = False,
    brand_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """One page of the tenant's conversations, highest priority first.

    ``status`` is one status, a list of them, or None for any; ``assignee_id`` gives an
    agent's own conversations, ``unassigned`` those nobody holds (not both).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(
            f"limit must be between 1 and {MAX_LIMIT}, got {limit}", where="inbox"
        )
    if unassigned and assignee_id is not None:
        raise InvalidInputError("assignee_id and unassigned exclude each other", where="inbox")
    statuses = _statuses(status)
    segment, after_score, after_id = decode_cursor(cursor) if cursor else (SCORED, None, None)

    c = Conversation
    filters: list[Any] = [c.tenant_id == tenant_id]
    if queue_id is not None:
        filters.append(c.queue_id == queue_id)
    if statuses is not None:
        filters.append(c.status == statuses[0] if len(statuses) == 1 else c.status.in_(statuses))
    if assignee_id is not None:
        filters.append(c.assignee_id == assignee_id)
    elif unassigned and queue_id is not None and session.get_bind().dialect.name == "sqlite":
        # "+ 0": SQLite would read every unassigned conversation of the tenant through
        # ix_conversations_assignee and sort them; PostgreSQL's estimates choose well alone
        filters.append((c.assignee_id + 0).is_(None))
    elif unassigned:
        filters.append(c.assignee_id.is_(None))
    if brand_id is not None:
        filters.append(c.brand_id == brand_id)

    unscored = select(literal(UNSCORED).label("segment"), c.priority, c.id).where(
        *filters, c.priority.is_(None)
    )
    if segment == UNSCORED and after_id is not None:
        unscored = unscored.where(c.id > after_id)
    unscored = unscored.order_by(c.id).limit(limit + 1)
    stmt: Select[Any] | Any
    if segment == SCORED:
        scored = select(literal(SCORED).label("segment"), c.priority, c.id).where(
            *filters, c.priority.is_not(None)
        )
        if after_score is not None and after_id is not None:
            scored = scored.where(
                c.priority <= after_score,
                or_(c.priority < after_score, and_(c.priority == after_score, c.id > after_id)),
            )
        scored = scored.order_by(c.priority.desc(), c.id).limit(limit + 1)
        # SQLite takes ORDER BY/LIMIT in a compound member only inside a subquery.
        stmt = union_all(select(scored.subquery()), select(unscored.subquery()))
    else:
        stmt = unscored
    rows = sorted(
        session.execute(stmt).all(),
        key=lambda r: (r.segment, -r.priority if r.priority is not None else 0.0, r.id),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].segment, rows[-1].priority, rows[-1].id) if more else None
    details = _details(session, tenant_id, [r.id for r in rows])
    return Page([details[r.id] for r in rows if r.id in details], next_cursor)


def conversations_list(
    session: Session, tenant_id: int, status: str | None = None
) -> list[dict[str, Any]]:
    """Every conversation of the tenant (by id), as ``clameur conversations list --json``
    prints it: ``{id, status, priority, priority_score, source, author, mentions,
    incident, flags}`` (``priority`` is the level P1…P4, ``mentions`` the external ids in
    event-time order)."""
    if status is not None:
        _statuses(status)
    c = Conversation
    convs = (
        select(
            c.id,
            c.status,
            c.priority_level,
            c.priority,
            c.source,
            Author.handle,
            c.incident_id,
            c.flags,
        )
        .join(Author, Author.id == c.author_id)
        .where(c.tenant_id == tenant_id)
    )
    mentions = (
        select(c.id, Mention.external_id)
        .select_from(Mention)
        .join(c, c.id == Mention.conversation_id)
        .where(Mention.tenant_id == tenant_id, c.tenant_id == tenant_id)
    )
    if status is not None:
        convs = convs.where(c.status == status)
        mentions = mentions.where(c.status == status)
    by_conversation: dict[int, list[str]] = {}
    for conversation_id, external_id in session.execute(
        mentions.order_by(Mention.conversation_id, Mention.created_at, Mention.id)
    ):
        by_conversation.setdefault(conversation_id, []).append(external_id)
    return [
        {
            "id": r.id,
            "status": r.status,
            "priority": r.priority_level,
            "priority_score": r.priority,
            "source": r.source,
            "author": r.handle,
            "mentions": by_conversation.get(r.id, []),
            "incident": r.incident_id,
            "flags": list(r.flags or []),
        }
        for r in session.execute(convs.order_by(c.id))
    ]


def _statuses(status: str | Sequence[str] | None) -> list[str] | None:
    if status is None:
        return None
    wanted = [status] if isinstance(status, str) else list(status)
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown or not wanted:
        raise InvalidInputError(
            f"unknown status {', '.join(map(repr, unknown)) or '(empty list)'}: expected "
            f"one of {', '.join(STATUSES)}",
            where="status",
        )
    return wanted


_EXCERPT, _FLAGS, _TAGS, _SLA = 12, 24, 25, 26
"""Positions of the details' columns that are converted (the others are InboxItem's as is)."""


@cache
def _details_statement() -> Select[Any]:
    """The details of a page's conversations: built once, columns in InboxItem's order."""
    c = Conversation
    assignee = aliased(User)
    tenant_id: BindParameter[int] = bindparam("tenant_id")
    latest = (
        select(Mention.id)
        .where(Mention.conversation_id == c.id)
        .order_by(Mention.created_at.desc(), Mention.id.desc())
        .limit(1)
        .correlate(c)
        .scalar_subquery()
    )
    stmt = (
        select(
            c.id,
            c.status,
            c.custom_status,
            c.priority,
            c.priority_level,
            c.source,
            c.brand_id,
            c.lang,
            c.author_id,
            Author.handle,
            Author.name,
            Author.followers,
            func.substr(Mention.text, 1, EXCERPT_CHARS + 1),
            Mention.external_id,
            c.last_activity_at,
            c.opened_at,
            c.mention_count,
            c.assignee_id,
            assignee.name,
            c.assigned_at,
            c.queue_id,
            Queue.name,
            c.incident_id,
            Incident.title,
            c.flags,
            c.tags,
            c.sla,
        )
        .join(Author, Author.id == c.author_id)
        .outerjoin(assignee, assignee.id == c.assignee_id)
        .outerjoin(Queue, and_(Queue.id == c.queue_id, Queue.tenant_id == tenant_id))
        .outerjoin(Incident, and_(Incident.id == c.incident_id, Incident.tenant_id == tenant_id))
        .outerjoin(Mention, Mention.id == latest)
        # "+ 0": look the ids up by primary key (SQLite without statistics would rather
        # walk an index of the tenant's conversations)
        .where((c.tenant_id + 0) == tenant_id, c.id.in_(bindparam("ids", expanding=True)))
    )
    assert len(stmt.selected_columns) == len(fields(InboxItem))
    return cast("Select[Any]", stmt)


def _details(session: Session, tenant_id: int, ids: list[int]) -> dict[int, InboxItem]:
    if not ids:
        return {}
    out: dict[int, InboxItem] = {}
    for row in session.execute(_details_statement(), {"tenant_id": tenant_id, "ids": ids}):
        values = list(row)
        values[_EXCERPT] = _excerpt(values[_EXCERPT])
        values[_FLAGS] = list(values[_FLAGS] or [])
        values[_TAGS] = list(values[_TAGS] or [])
        values[_SLA] = sla_due(values[_SLA])
        out[values[0]] = InboxItem(*values)
    return out


def _excerpt(raw: str | None) -> str | None:
    """Whitespace collapsed, cut with an ellipsis (``raw`` is the text's first
    ``EXCERPT_CHARS + 1`` characters: one more tells whether there was more)."""
    if raw is None:
        return None
    text = " ".join(raw.split())
    if len(raw) <= EXCERPT_CHARS and len(text) <= EXCERPT_CHARS:
        return text
    return text[: EXCERPT_CHARS - 1].rstrip() + "…"


def sla_due(sla: dict[str, Any] | None) -> datetime | None:
    """The earliest due time of the running clocks of ``Conversation.sla`` (the format of
    :mod:`clameur.care.sla`: ``{"clocks": {name: {"state", "due_at"…}}}``); None when no
    clock runs (none started, paused while waiting, or stopped)."""
    clocks = (sla or {}).get("clocks")
    if not isinstance(clocks, dict):
        return None
    dues: list[datetime] = []
    for clock in clocks.values():
        if not isinstance(clock, dict) or clock.get("state") != "running":
            continue
        due = clock.get("due_at")
        if isinstance(due, str):
            try:
                parsed = datetime.fromisoformat(due)
            except ValueError:
                continue
            if parsed.tzinfo is not None:
                dues.append(parsed)
    return min(dues, default=None)


def encode_cursor(segment: int, score: float | None, last_id: int) -> str:
    """The keyset position after a row: its segment (scored first), score and id."""
    raw = json.dumps([segment, score, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, float | None, int]:
    """An inbox cursor read back: (segment, score, last id); malformed: InvalidInputError."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        segment, score, last_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInputError("malformed cursor", where="cursor") from exc
    scored_ok = isinstance(score, int | float) if segment == SCORED else score is None
    id_ok = isinstance(last_id, int) and not isinstance(last_id, bool) and abs(last_id) < 2**63
    if segment not in (SCORED, UNSCORED) or not id_ok or not scored_ok:
        raise InvalidInputError("malformed cursor", where="cursor")
    return segment, (float(score) if score is not None else None), last_id
