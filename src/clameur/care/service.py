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

from datetime import timedelta

from sqlalchemy import select, tuple_

from clameur.care.models import OPEN_STATUSES, Conversation
from clameur.mentions.draft import Draft, StepContext
from clameur.mentions.models import Mention

_LEVELS = ("P1", "P2", "P3", "P4")


def _higher(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if _LEVELS.index(a) <= _LEVELS.index(b) else b


def assign_conversations(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    new = sorted(
        (d for d in drafts if d.existing_id is None),
        key=lambda d: (d.mention.created_at, d.mention.source, d.mention.external_id),
    )
    if not new:
        return drafts
    window = timedelta(hours=ctx.conversation_window_hours)
    session = ctx.session

    # Parents this batch replies to, stored earlier (one query).
    parent_keys = {
        (d.tenant_id, d.mention.source, d.mention.in_reply_to) for d in new if d.mention.in_reply_to
    }
    parents: dict[tuple[int | None, str, str], tuple[int, int | None]] = {}
    keys = list(parent_keys)
    for i in range(0, len(keys), 500):
        stmt = select(
            Mention.tenant_id, Mention.source, Mention.external_id, Mention.author_id,
            Mention.conversation_id,
        ).where(
            tuple_(Mention.tenant_id, Mention.source, Mention.external_id).in_(keys[i : i + 500])
        )  # fmt: skip
        for row in session.execute(stmt):
            parents[(row.tenant_id, row.source, row.external_id)] = (
                row.author_id,
                row.conversation_id,
            )

    # The latest open conversation of each author of the batch on each source (one query).
    author_keys = list({(d.tenant_id, d.author_id, d.mention.source) for d in new})
    latest: dict[tuple[int | None, int | None, str], Conversation] = {}
    for i in range(0, len(author_keys), 500):
        stmt_c = (
            select(Conversation)
            .where(
                tuple_(Conversation.tenant_id, Conversation.author_id, Conversation.source).in_(
                    author_keys[i : i + 500]
                ),
                Conversation.status.in_(OPEN_STATUSES),
            )
            .order_by(Conversation.last_activity_at)
        )
        for found in session.scalars(stmt_c):
            latest[(found.tenant_id, found.author_id, found.source)] = found

    by_key: dict[tuple[int | None, str, str], Conversation] = {}
    touched: list[tuple[Draft, Conversation]] = []
    for draft in new:
        m = draft.mention
        conv: Conversation | None = None
        if m.in_reply_to:
            parent_key = (draft.tenant_id, m.source, m.in_reply_to)
            parent = by_key.get(parent_key)
            if parent is not None and parent.author_id == draft.author_id:
                conv = parent
            elif parent is None and parent_key in parents:
                author_id, conversation_id = parents[parent_key]
                if author_id == draft.author_id and conversation_id is not None:
                    conv = session.get(Conversation, conversation_id)
        author_key = (draft.tenant_id, draft.author_id, m.source)
        if conv is None:
            candidate = latest.get(author_key)
            if (
                candidate is not None
                and candidate.last_activity_at - window <= m.created_at
                and m.created_at <= candidate.last_activity_at + window
            ):
                conv = candidate
        level = draft.analysis.priority_level if draft.analysis else None
        if conv is None:
            assert draft.tenant_id is not None
            assert draft.author_id is not None
            conv = Conversation(
                tenant_id=draft.tenant_id,
                source=m.source,
                author_id=draft.author_id,
                brand_id=draft.brand_ids[0] if draft.brand_ids else None,
                status="open",
                priority_level=level,
                root_external_id=m.external_id,
                opened_at=m.created_at,
                last_activity_at=m.created_at,
                mention_count=0,
                flags=[],
            )
            session.add(conv)
        else:
            conv.last_activity_at = max(conv.last_activity_at, m.created_at)
            conv.opened_at = min(conv.opened_at, m.created_at)
            conv.priority_level = _higher(conv.priority_level, level)
            if conv.brand_id is None and draft.brand_ids:
                conv.brand_id = draft.brand_ids[0]
        conv.mention_count += 1
        latest[author_key] = conv
        by_key[(draft.tenant_id, m.source, m.external_id)] = conv
        touched.append((draft, conv))
    session.flush()
    for draft, conv in touched:
        draft.conversation_id = conv.id
    return drafts
