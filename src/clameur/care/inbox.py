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
the backends place NULL differently in a descending index scan. A list of statuses is read
the same way, one branch per status (each in index order, merged here), so "everything that
still needs work" costs what one status costs instead of a sort of the whole tenant.

Callers add conditions of their own (``where``: the views and filters of
:mod:`clameur.care.inbox_views`) and may confine a page to a set of conversation ids
(``ids``: the matches of a search); both keep the order and the keyset.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from clameur.care.models import STATUSES, Conversation, Incident, Queue
from clameur.errors import InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand, User

MAX_LIMIT = 200
EXCERPT_CHARS = 200

SCORED, UNSCORED = 0, 1
"""Keyset segments: conversations with a priority score first, then those without."""


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
    sla_warn: datetime | None = None
    """When that clock turns amber (its warning time, or when it was warned)."""
    sla_paused: bool = False
    """Clocks exist but none runs (waiting on the customer)."""
    sla_clock: str | None = None
    """Which clock ``sla_due`` is (``first_response``, ``next_response``, ``resolution``), so
    the badge can say which promise is late: an answered conversation's resolution clock
    can run late beside a met first response."""
    priority_reasons: list[str] = field(default_factory=list)
    """Why it ranks where it does: the reasons of its highest-priority mention."""
    sentiment: str | None = None
    """Of the latest mention."""
    intent: str | None = None
    """Of the latest mention."""
    reach: int | None = None
    """Estimated people reached by its highest-priority mention."""
    author_verified: bool = False
    last_customer_at: datetime | None = None
    last_agent_at: datetime | None = None
    """Event time of the latest agent reply (after ``last_customer_at``: answered)."""
    holder_team_id: int | None = None
    """The back-office team holding it (escalated), if any."""
    brand_name: str | None = None


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
    where: Sequence[ColumnElement[bool]] = (),
    ids: Collection[int] | None = None,
    selective: bool = False,
) -> Page:
    """One page of the tenant's conversations, highest priority first.

    ``status`` is one status, a list of them, or None for any; ``assignee_id`` gives an
    agent's own conversations, ``unassigned`` those nobody holds (not both). ``where``
    adds conditions on :class:`Conversation` (and correlated subqueries); ``ids`` keeps
    only those conversations (an empty collection: an empty page, no statement).
    ``selective``: ``where`` or ``ids`` pick few conversations through an index of their
    own (an incident's, the primary key); SQLite is then kept from walking the status
    index in page order instead (PostgreSQL's statistics choose alone).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(
            f"limit must be between 1 and {MAX_LIMIT}, got {limit}", where="inbox"
        )
    if unassigned and assignee_id is not None:
        raise InvalidInputError("assignee_id and unassigned exclude each other", where="inbox")
    statuses = _statuses(status)
    segment, after_score, after_id = decode_cursor(cursor) if cursor else (SCORED, None, None)
    if ids is not None and not ids:
        return Page([], None)

    c = Conversation
    filters: list[Any] = [c.tenant_id == tenant_id, *where]
    if queue_id is not None:
        filters.append(c.queue_id == queue_id)
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
    if ids is not None:
        filters.append(c.id.in_(sorted(set(ids))))

    branches: list[Any] = []
    for one in statuses if statuses is not None else [None]:
        status_column: Any = c.status
        if selective and session.get_bind().dialect.name == "sqlite":
            status_column = c.status + ""  # the same test, no index chosen for it
        where_status = [*filters] if one is None else [*filters, status_column == one]
        branches += _branches(where_status, segment, after_score, after_id, limit)
    stmt: Any = (
        branches[0]
        if len(branches) == 1
        # SQLite takes ORDER BY/LIMIT in a compound member only inside a subquery.
        else union_all(*(select(b.subquery()) for b in branches))
    )
    rows = sorted(
        session.execute(stmt).all(),
        key=lambda r: (r.segment, -r.priority if r.priority is not None else 0.0, r.id),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].segment, rows[-1].priority, rows[-1].id) if more else None
    details = _details(session, tenant_id, [r.id for r in rows])
    return Page([details[r.id] for r in rows if r.id in details], next_cursor)


def _branches(
    filters: list[Any], segment: int, after_score: float | None, after_id: int | None, limit: int
) -> list[Any]:
    """The scored and unscored branches of one status, each in index order, after the
    cursor's position."""
    c = Conversation
    unscored = select(literal(UNSCORED).label("segment"), c.priority, c.id).where(
        *filters, c.priority.is_(None)
    )
    if segment == UNSCORED and after_id is not None:
        unscored = unscored.where(c.id > after_id)
    unscored = unscored.order_by(c.id).limit(limit + 1)
    if segment != SCORED:
        return [unscored]
    scored = select(literal(SCORED).label("segment"), c.priority, c.id).where(
        *filters, c.priority.is_not(None)
    )
    if after_score is not None and after_id is not None:
        scored = scored.where(
            c.priority <= after_score,
            or_(c.priority < after_score, and_(c.priority == after_score, c.id > after_id)),
        )
    scored = scored.order_by(c.priority.desc(), c.id).limit(limit + 1)
    return [scored, unscored]


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


@cache
def _details_statement() -> Select[Any]:
    """The details of a page's conversations, built once; columns labelled with
    InboxItem's field names (``sla`` is the raw clocks, read into ``sla_*``)."""
    c = Conversation
    assignee = aliased(User)
    latest_mention = aliased(Mention)
    top_mention = aliased(Mention)
    tenant_id: BindParameter[int] = bindparam("tenant_id")
    latest = (
        select(Mention.id)
        .where(Mention.conversation_id == c.id)
        .order_by(Mention.created_at.desc(), Mention.id.desc())
        .limit(1)
        .correlate(c)
        .scalar_subquery()
    )
    top = (
        select(Mention.id)
        .where(Mention.conversation_id == c.id)
        .order_by(Mention.priority.is_(None), Mention.priority.desc(), Mention.id)
        .limit(1)
        .correlate(c)
        .scalar_subquery()
    )
    columns: dict[str, Any] = {
        "id": c.id,
        "status": c.status,
        "custom_status": c.custom_status,
        "priority": c.priority,
        "priority_level": c.priority_level,
        "source": c.source,
        "brand_id": c.brand_id,
        "lang": c.lang,
        "author_id": c.author_id,
        "author_handle": Author.handle,
        "author_name": Author.name,
        "author_followers": Author.followers,
        "latest_text": func.substr(latest_mention.text, 1, EXCERPT_CHARS + 1),
        "latest_external_id": latest_mention.external_id,
        "latest_at": c.last_activity_at,
        "opened_at": c.opened_at,
        "mention_count": c.mention_count,
        "assignee_id": c.assignee_id,
        "assignee_name": func.coalesce(assignee.name, assignee.email),
        "assigned_at": c.assigned_at,
        "queue_id": c.queue_id,
        "queue_name": Queue.name,
        "incident_id": c.incident_id,
        "incident_title": Incident.title,
        "flags": c.flags,
        "tags": c.tags,
        "sla": c.sla,
        "priority_reasons": top_mention.priority_reasons,
        "sentiment": latest_mention.sentiment,
        "intent": latest_mention.intent,
        "reach": top_mention.reach,
        "author_verified": Author.verified,
        "last_customer_at": c.last_customer_at,
        "last_agent_at": c.last_agent_at,
        "holder_team_id": c.holder_team_id,
        "brand_name": Brand.name,
    }
    stmt = (
        select(*(column.label(name) for name, column in columns.items()))
        .join(Author, Author.id == c.author_id)
        .outerjoin(assignee, assignee.id == c.assignee_id)
        .outerjoin(Queue, and_(Queue.id == c.queue_id, Queue.tenant_id == tenant_id))
        .outerjoin(Incident, and_(Incident.id == c.incident_id, Incident.tenant_id == tenant_id))
        .outerjoin(Brand, and_(Brand.id == c.brand_id, Brand.tenant_id == tenant_id))
        .outerjoin(latest_mention, latest_mention.id == latest)
        .outerjoin(top_mention, top_mention.id == top)
        # "+ 0": look the ids up by primary key (SQLite without statistics would rather
        # walk an index of the tenant's conversations)
        .where((c.tenant_id + 0) == tenant_id, c.id.in_(bindparam("ids", expanding=True)))
    )
    assert set(columns) - {"sla"} <= {f.name for f in fields(InboxItem)}
    return cast("Select[Any]", stmt)


def _details(session: Session, tenant_id: int, ids: list[int]) -> dict[int, InboxItem]:
    if not ids:
        return {}
    out: dict[int, InboxItem] = {}
    for row in session.execute(_details_statement(), {"tenant_id": tenant_id, "ids": ids}):
        values = dict(row._mapping)
        sla = values.pop("sla")
        values["latest_text"] = _excerpt(values["latest_text"])
        values["flags"] = list(values["flags"] or [])
        values["tags"] = list(values["tags"] or [])
        values["priority_reasons"] = [str(r) for r in values["priority_reasons"] or []]
        values["author_verified"] = bool(values["author_verified"])
        values["sla_due"], values["sla_warn"], values["sla_paused"] = sla_times(sla)
        values["sla_clock"] = sla_clock(sla)
        out[values["id"]] = InboxItem(**values)
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


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def sla_clock(sla: dict[str, Any] | None) -> str | None:
    """The name of the running clock whose due time :func:`sla_times` gives."""
    return _earliest(sla)[0]


def sla_times(sla: dict[str, Any] | None) -> tuple[datetime | None, datetime | None, bool]:
    """``(due, warn, paused)`` of ``Conversation.sla`` (the format of :mod:`clameur.care.sla`:
    ``{"clocks": {name: {"state", "due_at", "warn_at", "warned_at"…}}}``): the earliest due
    time of the running clocks, when that clock turns amber (its ``warn_at``, or when the
    sweep warned it; None once breached or without a warning), and whether clocks exist
    but all are paused (waiting on the customer)."""
    _, due, warn, paused = _earliest(sla)
    return due, warn, paused and due is None


def _earliest(
    sla: dict[str, Any] | None,
) -> tuple[str | None, datetime | None, datetime | None, bool]:
    """(name, due, warn) of the running clock due first, and whether any clock is paused."""
    clocks = (sla or {}).get("clocks")
    if not isinstance(clocks, dict):
        return None, None, None, False
    best: tuple[str, datetime, datetime | None] | None = None
    paused = False
    for name, clock in clocks.items():
        if not isinstance(clock, dict):
            continue
        if clock.get("state") == "paused":
            paused = True
        if clock.get("state") != "running":
            continue
        due = _instant(clock.get("due_at"))
        if due is None:
            continue
        warn = _instant(clock.get("warn_at")) or _instant(clock.get("warned_at"))
        if best is None or due < best[1]:
            best = (str(name), due, warn)
    if best is None:
        return None, None, None, paused
    return best[0], best[1], best[2], paused


def sla_due(sla: dict[str, Any] | None) -> datetime | None:
    """The earliest due time of the running clocks of ``Conversation.sla``; None when no
    clock runs (none started, paused while waiting, or stopped)."""
    return sla_times(sla)[0]


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
