"""Threading mentions into conversations, in event time.

A conversation is a thread with one customer on one channel. A new mention joins:

1. the conversation of the mention it replies to, when that mention is by the same author
   (a customer following up on their own post);
2. otherwise the author's open conversation on the same source whose activity lies within
   ``conversation_window_hours`` of the mention (event time);
3. otherwise a new conversation.

So replies from 2,000 customers under one celebrity's post make 2,000 conversations, one
per customer — each customer is answered on their own. Only event time is used: a replayed
file gives the same conversations whatever the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select, tuple_

from clameur.care.models import OPEN_STATUSES, Conversation
from clameur.db.bulk import insert_returning_ids, update_by_id
from clameur.mentions.draft import Draft, StepContext
from clameur.mentions.models import Mention

_LEVELS = ("P1", "P2", "P3", "P4")
_CHUNK = 500
_TABLE = cast(Table, Conversation.__table__)


def _higher(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if _LEVELS.index(a) <= _LEVELS.index(b) else b


@dataclass(slots=True)
class _Thread:
    """A conversation while the batch is threaded (written back in bulk at the end)."""

    tenant_id: int
    author_id: int
    source: str
    root_external_id: str
    opened_at: datetime
    last_activity_at: datetime
    mention_count: int = 0
    brand_id: int | None = None
    priority_level: str | None = None
    id: int | None = None
    dirty: bool = False
    drafts: list[Draft] = field(default_factory=list)

    def add(self, draft: Draft) -> None:
        created = draft.mention.created_at
        self.last_activity_at = max(self.last_activity_at, created)
        self.opened_at = min(self.opened_at, created)
        level = draft.analysis.priority_level if draft.analysis else None
        self.priority_level = _higher(self.priority_level, level)
        if self.brand_id is None and draft.brand_ids:
            self.brand_id = draft.brand_ids[0]
        self.mention_count += 1
        self.dirty = True
        self.drafts.append(draft)

    def values(self) -> dict[str, Any]:
        return {
            "last_activity_at": self.last_activity_at, "opened_at": self.opened_at,
            "priority_level": self.priority_level, "brand_id": self.brand_id,
            "mention_count": self.mention_count,
        }  # fmt: skip


def assign_conversations(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    new = sorted(
        (d for d in drafts if d.existing_id is None),
        key=lambda d: (d.mention.created_at, d.mention.source, d.mention.external_id),
    )
    if not new:
        return drafts
    window = timedelta(hours=ctx.conversation_window_hours)
    parents = _stored_parents(ctx, new)
    threads = _open_threads(ctx, new)

    latest: dict[tuple[int, int, str], _Thread] = {}
    for open_thread in threads.values():
        key = (open_thread.tenant_id, open_thread.author_id, open_thread.source)
        if key not in latest or latest[key].last_activity_at <= open_thread.last_activity_at:
            latest[key] = open_thread
    by_mention: dict[tuple[int, str, str], _Thread] = {}
    created: list[_Thread] = []
    for draft in new:
        m = draft.mention
        tenant_id, author_id = cast(int, draft.tenant_id), cast(int, draft.author_id)
        thread: _Thread | None = None
        if m.in_reply_to:
            parent_key = (tenant_id, m.source, m.in_reply_to)
            parent = by_mention.get(parent_key)
            if parent is not None:
                thread = parent if parent.author_id == author_id else None
            elif parent_key in parents:
                parent_author, conversation_id = parents[parent_key]
                if parent_author == author_id and conversation_id is not None:
                    thread = threads.get(conversation_id)
        author_key = (tenant_id, author_id, m.source)
        if thread is None:
            candidate = latest.get(author_key)
            if candidate is not None and abs(m.created_at - candidate.last_activity_at) <= window:
                thread = candidate
        if thread is None:
            thread = _Thread(tenant_id, author_id, m.source, m.external_id, m.created_at,
                             m.created_at)  # fmt: skip
            created.append(thread)
        thread.add(draft)
        latest[author_key] = thread
        by_mention[(tenant_id, m.source, m.external_id)] = thread

    _write(ctx, created, [t for t in threads.values() if t.dirty])
    for written in [*created, *threads.values()]:
        for draft in written.drafts:
            draft.conversation_id = written.id
    return drafts


def _stored_parents(
    ctx: StepContext, new: list[Draft]
) -> dict[tuple[int, str, str], tuple[int, int | None]]:
    """Author and conversation of the stored mentions this batch replies to."""
    keys = list({(d.tenant_id, d.mention.source, d.mention.in_reply_to)
                 for d in new if d.mention.in_reply_to})  # fmt: skip
    out: dict[tuple[int, str, str], tuple[int, int | None]] = {}
    for i in range(0, len(keys), _CHUNK):
        stmt = select(
            Mention.tenant_id, Mention.source, Mention.external_id, Mention.author_id,
            Mention.conversation_id,
        ).where(tuple_(Mention.tenant_id, Mention.source, Mention.external_id).in_(
            keys[i : i + _CHUNK]))  # fmt: skip
        for row in ctx.session.execute(stmt):
            out[(row.tenant_id, row.source, row.external_id)] = (row.author_id, row.conversation_id)
    return out


def _open_threads(ctx: StepContext, new: list[Draft]) -> dict[int, _Thread]:
    """The open conversations of the batch's authors on the batch's sources."""
    keys = list({(d.tenant_id, d.author_id, d.mention.source) for d in new})
    window = timedelta(hours=ctx.conversation_window_hours)
    since = min(d.mention.created_at for d in new) - window  # older ones cannot be joined
    c = Conversation
    out: dict[int, _Thread] = {}
    for i in range(0, len(keys), _CHUNK):
        stmt = select(
            c.id, c.tenant_id, c.author_id, c.source, c.root_external_id, c.opened_at,
            c.last_activity_at, c.mention_count, c.brand_id, c.priority_level,
        ).where(
            tuple_(c.tenant_id, c.author_id, c.source).in_(keys[i : i + _CHUNK]),
            c.status.in_(OPEN_STATUSES),
            c.last_activity_at >= since,
        )  # fmt: skip
        for r in ctx.session.execute(stmt):
            out[r.id] = _Thread(
                r.tenant_id, r.author_id, r.source, r.root_external_id, r.opened_at,
                r.last_activity_at, r.mention_count, r.brand_id, r.priority_level, id=r.id,
            )  # fmt: skip
    return out


def _write(ctx: StepContext, created: list[_Thread], changed: list[_Thread]) -> None:
    if created:
        rows = [
            {"tenant_id": t.tenant_id, "author_id": t.author_id, "source": t.source,
             "root_external_id": t.root_external_id, "status": "open", "flags": [],
             **t.values()}
            for t in created
        ]  # fmt: skip
        ids = insert_returning_ids(
            ctx.session, _TABLE, rows, ("tenant_id", "source", "root_external_id")
        )
        for thread, new_id in zip(created, ids, strict=True):
            thread.id = new_id
    update_by_id(ctx.session, _TABLE, [{"id": t.id, **t.values()} for t in changed])
