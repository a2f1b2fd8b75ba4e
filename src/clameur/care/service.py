"""Triage and threading: which mentions become work, and in which conversation (event time).

**Triage.** Only actionable mentions open a conversation: complaints, questions, requests,
churn threats, first-hand facts (actionability ``actionable``), negative mentions, and
anything written to the brand privately (e-mail), and every mention detection attached to
an incident (a reply to an influencer's complaint is a customer to answer even when the
models misread its words); confident spam never does. Praise and ordinary chatter do not
open one, but they join the author's conversation when there is one (a customer's "thanks,
it works now" belongs in the thread). Suspected campaign posts (detection's ``campaign``
flag) get a conversation flagged ``campaign`` and grouped under the campaign's incident —
never queued as ordinary work. A customer writing in a snoozed conversation wakes it up
(:func:`clameur.care.conversations.wake_conversations`).

**Incidents.** A mention detection attached to an alert (an influencer's post and its
replies, a spike, a campaign) puts its conversation in that alert's incident: one
:class:`Incident` per alert, so 2,000 customers answering one celebrity make 2,000
conversations under one incident.

**Contacts.** Each author is an identity of a contact (created with the author's first
conversation); agents merge and split contacts (:mod:`clameur.care.contacts`).

A new mention joins:

1. the conversation of the mention it replies to, when that mention is by the same author
   (a customer following up on their own post);
2. otherwise the author's open conversation on the same source about the same brand whose
   activity lies within ``conversation_window_hours`` of the mention (event time): a
   customer writing about two brands of one client has a conversation with each;
3. otherwise a new conversation.

So replies from 2,000 customers under one celebrity's post make 2,000 conversations, one
per customer — each customer is answered on their own. Only event time is used: a replayed
file gives the same conversations whatever the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, select

from clameur.care import conversations, routing, sla_rows
from clameur.care.campaigns import flag_earlier_members
from clameur.care.incident_names import incident_title
from clameur.care.models import (
    OPEN_STATUSES,
    Contact,
    ContactIdentity,
    Conversation,
    Incident,
    Queue,
)
from clameur.db.bulk import (
    insert_missing_returning_ids,
    insert_returning_ids,
    keys_in,
    update_by_id,
)
from clameur.detection.models import Alert
from clameur.mentions.draft import Draft, StepContext
from clameur.mentions.models import Author, Mention

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
    priority: float | None = None
    lang: str | None = None
    flags: list[str] = field(default_factory=list)
    incident_id: int | None = None
    contact_id: int | None = None
    snoozed: bool = False

    def add(self, draft: Draft) -> None:
        created = draft.mention.created_at
        self.last_activity_at = max(self.last_activity_at, created)
        self.opened_at = min(self.opened_at, created)
        level = draft.analysis.priority_level if draft.analysis else None
        self.priority_level = _higher(self.priority_level, level)
        if self.brand_id is None and draft.brand_ids:
            self.brand_id = draft.brand_ids[0]
        score = draft.analysis.priority if draft.analysis else None
        if score is not None and (self.priority is None or score > self.priority):
            self.priority = score
        if self.lang is None and draft.analysis is not None:
            self.lang = draft.analysis.lang
        for flag in draft.flags:
            if flag not in self.flags:
                self.flags.append(flag)
        self.mention_count += 1
        self.dirty = True
        self.drafts.append(draft)

    def values(self) -> dict[str, Any]:
        return {
            "last_activity_at": self.last_activity_at,
            "opened_at": self.opened_at,
            "priority_level": self.priority_level,
            "brand_id": self.brand_id,
            "mention_count": self.mention_count,
            "priority": self.priority,
            "lang": self.lang,
            "flags": self.flags,
            "incident_id": self.incident_id,
            "last_customer_at": self.last_activity_at,
        }


def _later(thread: _Thread, held: _Thread | None) -> bool:
    return held is None or held.last_activity_at <= thread.last_activity_at


class _Latest:
    """The author's latest conversation per source and brand, as the batch is threaded: a
    customer writing about two brands of one client has two conversations (each brand has
    its own team, queues and SLAs). A mention no brand claimed (imported with ``--tenant``)
    joins the author's latest conversation on the source, and a conversation no brand had
    claimed takes the brand of the first mention that names one."""

    def __init__(self) -> None:
        self._by_brand: dict[tuple[int, int, str, int | None], _Thread] = {}
        self._any: dict[tuple[int, int, str], _Thread] = {}

    def offer(self, thread: _Thread) -> None:
        """A stored open conversation: kept when it is the latest of its key."""
        key = (thread.tenant_id, thread.author_id, thread.source)
        branded = (*key, thread.brand_id)
        if _later(thread, self._by_brand.get(branded)):
            self._by_brand[branded] = thread
        if _later(thread, self._any.get(key)):
            self._any[key] = thread

    def get(
        self, tenant_id: int, author_id: int, source: str, brand_id: int | None
    ) -> _Thread | None:
        if brand_id is None:
            return self._any.get((tenant_id, author_id, source))
        found = self._by_brand.get((tenant_id, author_id, source, brand_id))
        return found or self._by_brand.get((tenant_id, author_id, source, None))

    def put(self, thread: _Thread) -> None:
        key = (thread.tenant_id, thread.author_id, thread.source)
        if thread.brand_id is not None and self._by_brand.get((*key, None)) is thread:
            del self._by_brand[(*key, None)]  # it has a brand now
        self._by_brand[(*key, thread.brand_id)] = thread
        self._any[key] = thread


ACTIONABLE_INTENTS = frozenset({"complaint", "question", "request", "churn_threat"})
PRIVATE_SOURCES = frozenset({"email"})


def opens_conversation(draft: Draft) -> bool:
    """Triage: whether this mention is work for an agent on its own."""
    if "campaign" in draft.flags:
        return True  # grouped and flagged, kept out of the queues by routing
    if draft.alert_ids:
        return True  # part of an incident (a reply to an influencer, a spike): answered
    if draft.mention.source in PRIVATE_SOURCES:
        return True
    a = draft.analysis
    if a is None:
        return True  # not analysed (no analyzer): a human decides
    if a.intent == "spam" and (a.intent_score or 0) >= 0.8 and a.sentiment != "negative":
        return False
    return (
        a.intent in ACTIONABLE_INTENTS
        or a.actionability == "actionable"
        or a.sentiment == "negative"  # an unhappy customer is work, whatever the intent
    )


def _retro_flag(ctx: StepContext) -> None:
    """Campaigns recognised by this batch's detection: their posts stored earlier leave the
    queues now, in the batch's transaction (:func:`campaigns.flag_earlier_members`)."""
    for retro in ctx.retro_flags:
        flag_earlier_members(ctx.session, retro.tenant_id, retro.alert_id, retro.members, retro.at)
    ctx.retro_flags.clear()


def assign_conversations(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    _retro_flag(ctx)
    new = sorted(
        (d for d in drafts if d.existing_id is None),
        key=lambda d: (d.mention.created_at, d.mention.source, d.mention.external_id),
    )
    if not new:
        return drafts
    window = timedelta(hours=ctx.conversation_window_hours)
    parents = _stored_parents(ctx, new)
    threads = _open_threads(ctx, new, joined={c for _, c in parents.values() if c is not None})
    incidents = _incidents(ctx, new)

    latest = _Latest()
    for open_thread in threads.values():
        latest.offer(open_thread)
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
        if thread is None:
            brand_id = draft.brand_ids[0] if draft.brand_ids else None
            candidate = latest.get(tenant_id, author_id, m.source, brand_id)
            if candidate is not None and abs(m.created_at - candidate.last_activity_at) <= window:
                thread = candidate
        if thread is None:
            if not opens_conversation(draft):
                continue  # praise, chatter: stored, no conversation
            thread = _Thread(
                tenant_id, author_id, m.source, m.external_id, m.created_at, m.created_at
            )
            created.append(thread)
        if thread.incident_id is None and draft.alert_ids:
            thread.incident_id = incidents.get((tenant_id, draft.alert_ids[0]))
        thread.add(draft)
        latest.put(thread)
        by_mention[(tenant_id, m.source, m.external_id)] = thread

    _link_contacts(ctx, created)
    _write(ctx, created, [t for t in threads.values() if t.dirty])
    messages: dict[int, list[tuple[int, datetime]]] = {}
    for written in [*created, *threads.values()]:
        for draft in written.drafts:
            draft.conversation_id = written.id
            messages.setdefault(written.tenant_id, []).append(
                (cast(int, written.id), draft.mention.created_at)
            )
    woken: dict[int, list[tuple[int, datetime]]] = {}
    for thread in threads.values():
        if thread.snoozed and thread.drafts:
            woken.setdefault(thread.tenant_id, []).extend(
                (cast(int, thread.id), d.mention.created_at) for d in thread.drafts
            )
    for tenant_id, batch in woken.items():
        conversations.wake_conversations(ctx.session, tenant_id, batch)  # open again
    for tenant_id, batch in messages.items():
        sla_rows.record_customer_messages(ctx.session, tenant_id, batch)  # SLA clocks start or run
    _route(ctx, created)
    return drafts


def _route(ctx: StepContext, created: list[_Thread]) -> None:
    """New conversations go to their queue (assignment to agents is the dispatcher's)."""
    by_tenant: dict[int, list[int]] = {}
    for thread in created:
        by_tenant.setdefault(thread.tenant_id, []).append(cast(int, thread.id))
    with_queues = set(
        ctx.session.scalars(
            select(Queue.tenant_id).where(Queue.tenant_id.in_(list(by_tenant))).distinct()
        )
    )
    for tenant_id, ids in by_tenant.items():
        if tenant_id not in with_queues:
            continue  # nothing to route to: skip loading the conversations
        for i in range(0, len(ids), _CHUNK):
            batch = ctx.session.scalars(
                select(Conversation).where(Conversation.id.in_(ids[i : i + _CHUNK]))
            ).all()
            routing.route_conversations(ctx.session, tenant_id, batch)


def _stored_parents(
    ctx: StepContext, new: list[Draft]
) -> dict[tuple[int, str, str], tuple[int, int | None]]:
    """Author and conversation of the stored mentions this batch replies to."""
    keys = list(
        {
            (d.tenant_id, d.mention.source, d.mention.in_reply_to)
            for d in new
            if d.mention.in_reply_to
        }
    )
    out: dict[tuple[int, str, str], tuple[int, int | None]] = {}
    key_columns = (Mention.tenant_id, Mention.source, Mention.external_id)
    for condition in keys_in(ctx.session, key_columns, keys, chunk=_CHUNK):
        stmt = select(
            Mention.tenant_id,
            Mention.source,
            Mention.external_id,
            Mention.author_id,
            Mention.conversation_id,
        ).where(condition)
        for row in ctx.session.execute(stmt):
            out[(row.tenant_id, row.source, row.external_id)] = (row.author_id, row.conversation_id)
    return out


def _open_threads(
    ctx: StepContext, new: list[Draft], joined: set[int] | None = None
) -> dict[int, _Thread]:
    """The open conversations of the batch's authors on the batch's sources, and the open
    ones among ``joined`` — those the batch's replies point at (``in_reply_to``), however
    long ago their last activity: an e-mail answered a week later stays in its thread."""
    keys = list({(d.tenant_id, d.author_id, d.mention.source) for d in new})
    window = timedelta(hours=ctx.conversation_window_hours)
    since = min(d.mention.created_at for d in new) - window  # older ones cannot be joined
    c = Conversation
    out: dict[int, _Thread] = {}
    wanted = sorted(joined or ())
    # one statement for any number of keys on PostgreSQL (``bulk.keys_in``), chunks on SQLite
    conditions = [
        and_(keyed, c.last_activity_at >= since)
        for keyed in keys_in(ctx.session, (c.tenant_id, c.author_id, c.source), keys, chunk=_CHUNK)
    ] + [c.id.in_(wanted[i : i + _CHUNK]) for i in range(0, len(wanted), _CHUNK)]
    for condition in conditions:
        stmt = select(
            c.id,
            c.tenant_id,
            c.author_id,
            c.source,
            c.root_external_id,
            c.opened_at,
            c.last_activity_at,
            c.mention_count,
            c.brand_id,
            c.priority_level,
            c.priority,
            c.lang,
            c.flags,
            c.incident_id,
            c.contact_id,
            c.snoozed_until,
        ).where(condition, c.status.in_(OPEN_STATUSES))
        for r in ctx.session.execute(stmt):
            out[r.id] = _Thread(
                r.tenant_id,
                r.author_id,
                r.source,
                r.root_external_id,
                r.opened_at,
                r.last_activity_at,
                r.mention_count,
                r.brand_id,
                r.priority_level,
                id=r.id,
                priority=r.priority,
                lang=r.lang,
                flags=list(r.flags or []),
                incident_id=r.incident_id,
                contact_id=r.contact_id,
                snoozed=r.snoozed_until is not None,
            )
    return out


def _write(ctx: StepContext, created: list[_Thread], changed: list[_Thread]) -> None:
    if created:
        rows = [
            {
                "tenant_id": t.tenant_id,
                "author_id": t.author_id,
                "source": t.source,
                "root_external_id": t.root_external_id,
                "status": "open",
                "tags": [],
                "sla": {},
                "contact_id": t.contact_id,
                **t.values(),
            }
            for t in created
        ]
        ids = insert_returning_ids(
            ctx.session, _TABLE, rows, ("tenant_id", "source", "root_external_id")
        )
        for thread, new_id in zip(created, ids, strict=True):
            thread.id = new_id
    update_by_id(ctx.session, _TABLE, [{"id": t.id, **t.values()} for t in changed])


def _incidents(ctx: StepContext, new: list[Draft]) -> dict[tuple[int, int], int]:
    """The incident of each alert the batch's mentions were attached to (made if new)."""
    wanted = {(cast(int, d.tenant_id), d.alert_ids[0]) for d in new if d.alert_ids}
    if not wanted:
        return {}
    out: dict[tuple[int, int], int] = {}
    rows = ctx.session.execute(
        select(Incident.tenant_id, Incident.alert_id, Incident.id).where(
            Incident.alert_id.in_(sorted({a for _, a in wanted}))
        )
    )
    for tenant_id, alert_id, incident_id in rows:
        if alert_id is not None:
            out[(tenant_id, alert_id)] = incident_id
    for tenant_id, alert_id in sorted(wanted - set(out)):
        alert = ctx.session.get(Alert, alert_id)
        if alert is None or alert.tenant_id != tenant_id:
            continue
        incident = Incident(
            tenant_id=tenant_id,
            alert_id=alert_id,
            brand_id=alert.brand_id,
            title=incident_title(ctx.session, alert),
            status="open",
            opened_at=alert.triggered_at,
        )
        ctx.session.add(incident)
        ctx.session.flush()
        out[(tenant_id, alert_id)] = incident.id
    return out


def _link_contacts(ctx: StepContext, created: list[_Thread]) -> None:
    """Each new conversation's contact: the author's, or a new one for a new author."""
    if not created:
        return
    author_ids = sorted({t.author_id for t in created})
    known: dict[int, int] = {}
    for i in range(0, len(author_ids), _CHUNK):
        rows = ctx.session.execute(
            select(ContactIdentity.author_id, ContactIdentity.contact_id).where(
                ContactIdentity.author_id.in_(author_ids[i : i + _CHUNK])
            )
        )
        known.update({author: contact for author, contact in rows})
    missing = [t for t in created if t.author_id not in known]
    if missing:
        firsts: dict[int, _Thread] = {}
        for t in missing:
            firsts.setdefault(t.author_id, t)
        names: dict[int, str] = {
            author_id: name
            for author_id, name in ctx.session.execute(
                select(Author.id, func.coalesce(Author.name, Author.handle)).where(
                    Author.id.in_(list(firsts))
                )
            )
        }
        contact_rows: list[dict[str, Any]] = [
            {
                "tenant_id": t.tenant_id,
                "name": names.get(a),
                "emails": [],
                "created_at": t.opened_at,
                "origin_author_id": a,
            }
            for a, t in firsts.items()
        ]
        ids = insert_returning_ids(
            ctx.session,
            cast(Table, Contact.__table__),
            contact_rows,
            ("tenant_id", "origin_author_id"),
        )
        identity_rows: list[dict[str, Any]] = [
            {"tenant_id": t.tenant_id, "author_id": a, "contact_id": cid, "linked_at": t.opened_at}
            for (a, t), cid in sorted(zip(firsts.items(), ids, strict=True), key=lambda p: p[0][0])
        ]
        linked = insert_missing_returning_ids(
            ctx.session,
            cast(Table, ContactIdentity.__table__),
            identity_rows,
            ("author_id",),
            id_column="author_id",
        )
        raced = [row for row, done in zip(identity_rows, linked, strict=True) if done is None]
        known.update({row["author_id"]: row["contact_id"] for row in identity_rows})
        if raced:  # a concurrent import linked these authors first: use its contacts
            ctx.session.execute(
                delete(Contact).where(Contact.id.in_([row["contact_id"] for row in raced]))
            )
            rows = ctx.session.execute(
                select(ContactIdentity.author_id, ContactIdentity.contact_id).where(
                    ContactIdentity.author_id.in_([row["author_id"] for row in raced])
                )
            )
            known.update({author: contact for author, contact in rows})
    for t in created:
        t.contact_id = known[t.author_id]
