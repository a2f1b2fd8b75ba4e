"""What the conversation page shows, read in a bounded number of queries.

The page reads through the care services where they exist (timeline, SLA clocks, holder,
canned replies, suggestions) and through the tenant repository otherwise; nothing here
decides a rule (who may reply, what needs approval): the services do, when the agent acts.
Every list is bounded (:data:`MAX_ITEMS` messages, :data:`MAX_EVENTS` events, and the
contact's other conversations), so a long thread costs the same few queries. The side
pane's parts are in :mod:`clameur.web.pages.conversation_parts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care import conversations as care
from clameur.care import handover
from clameur.care.channels import Channel
from clameur.care.models import (
    STATUSES,
    Contact,
    Conversation,
    ConversationEvent,
    Incident,
    Queue,
    Reply,
    Team,
)
from clameur.care.replies import approval_reasons
from clameur.care.repository import Conversations, Replies
from clameur.db.repository import TenantRepository
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand, User
from clameur.tenancy.policy import allowed
from clameur.tenancy.principal import Principal
from clameur.web.pages.conversation_parts import (
    Clock,
    Person,
    agents,
    analysis,
    canned_for,
    clocks,
    contact_of,
    person_of,
)

MAX_ITEMS = 300
"""Messages shown (the newest); older ones are counted, not shown."""
MAX_EVENTS = 200


@dataclass(slots=True)
class Message:
    """One item of the thread: a customer's mention (``in``) or a reply (``out``)."""

    direction: str
    id: int
    at: datetime
    text: str
    # in
    author: Person | None = None
    external_id: str | None = None
    url: str | None = None
    lang: str | None = None
    sentiment: str | None = None
    intent: str | None = None
    toxicity: float | None = None
    rating: int | None = None
    moderation: list[dict[str, Any]] = field(default_factory=list)
    # out
    status: str | None = None
    visibility: str | None = None
    agent: str | None = None
    error: str | None = None
    sent_at: datetime | None = None
    approved_by: str | None = None
    rejected_reason: str | None = None
    approval_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: datetime
    kind: str
    actor: str | None
    data: dict[str, Any]


@dataclass(slots=True)
class View:
    """Everything the page (and its fragments) render."""

    conversation: Conversation
    customer: Person
    brand: Brand | None
    queue: Queue | None
    assignee: User | None
    holder: handover.Holder
    holder_due_at: datetime | None
    incident: Incident | None
    messages: list[Message]
    hidden_messages: int
    parent: Message | None
    parent_external_id: str | None
    seen_reply_id: int | None
    analysis: dict[str, Any]
    clocks: list[Clock]
    sla_due: Clock | None
    sla_paused: bool
    events: list[Event]
    notes: list[Event]
    contact: Contact | None
    identities: list[Person]
    others: list[dict[str, Any]]
    statuses: list[str]
    custom_statuses: list[str]
    teams: list[Team]
    agents: list[tuple[int, str]]
    approval_needed: list[str]
    supports_public: bool
    supports_private: bool
    moderation_actions: frozenset[str]
    canned: list[dict[str, Any]] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(wanted)))
    return {uid: (name or "").strip() or email for uid, name, email in rows}


def _mention(m: Mention, author: Person | None) -> Message:
    return Message(
        direction="in",
        id=m.id,
        at=m.created_at,
        text=m.text,
        author=author,
        external_id=m.external_id,
        url=m.url,
        lang=m.lang,
        sentiment=m.sentiment,
        intent=m.intent,
        toxicity=m.toxicity,
        rating=m.rating,
    )


def thread(
    session: Session, principal: Principal, conversation: Conversation, events: list[Event]
) -> tuple[list[Message], int, int | None, list[Mention]]:
    """The thread in time order (customer's mentions and replies), how many older messages
    are not shown, the newest reply's id (what the reply box has seen), and the mentions."""
    mentions: TenantRepository[Mention] = TenantRepository.of(session, principal, Mention)
    rows = session.execute(
        mentions.select(Mention, Author, steer=False)
        .join(Author, Author.id == Mention.author_id)
        .where(Mention.conversation_id == conversation.id)
        .order_by(Mention.created_at.desc(), Mention.id.desc())
        .limit(MAX_ITEMS + 1)
    ).all()
    repo = Replies.of(session, principal)
    replies = list(
        repo.all(
            repo.select()
            .where(Reply.conversation_id == conversation.id)
            .order_by(Reply.id.desc())
            .limit(MAX_ITEMS + 1)
        )
    )
    hidden = max(len(rows) - MAX_ITEMS, 0) + max(len(replies) - MAX_ITEMS, 0)
    rows, replies = rows[:MAX_ITEMS], replies[:MAX_ITEMS]
    people: dict[int, Person] = {}
    found: list[Mention] = []
    out: list[Message] = []
    moderation: dict[int, list[dict[str, Any]]] = {}
    rejected: dict[int, str] = {}
    submitted: dict[int, list[str]] = {}
    for event in events:
        data = event.data
        if event.kind == "moderation" and isinstance(data.get("mention_id"), int):
            moderation.setdefault(data["mention_id"], []).append(
                {"action": data.get("action"), "actor": event.actor, "at": event.at}
            )
        elif event.kind == "reply_rejected" and isinstance(data.get("reply_id"), int):
            rejected[data["reply_id"]] = str(data.get("reason") or "")
        elif event.kind == "reply_submitted" and isinstance(data.get("reply_id"), int):
            submitted[data["reply_id"]] = [str(r) for r in data.get("reasons") or []]
    for mention, author in rows:
        person = people.setdefault(author.id, person_of(author))
        message = _mention(mention, person)
        message.moderation = moderation.get(mention.id, [])
        found.append(mention)
        out.append(message)
    names = _names(session, {r.author_id for r in replies} | {r.approved_by for r in replies})
    for reply in replies:
        out.append(
            Message(
                direction="out",
                id=reply.id,
                at=reply.created_at,
                text=reply.text,
                status=reply.status,
                visibility=reply.visibility,
                agent=names.get(reply.author_id) if reply.author_id else None,
                error=reply.error,
                sent_at=reply.sent_at,
                approved_by=names.get(reply.approved_by) if reply.approved_by else None,
                rejected_reason=rejected.get(reply.id) if reply.status == "rejected" else None,
                approval_reasons=submitted.get(reply.id, []),
            )
        )
    out.sort(key=lambda m: (m.at, m.direction == "out", m.id))
    seen = max((r.id for r in replies), default=None)
    return out, hidden, seen, found


def _parent(
    session: Session, principal: Principal, conversation: Conversation, mentions: list[Mention]
) -> tuple[Message | None, str | None]:
    """The public post the conversation's first mention answers (someone else's, or the
    brand's), with its author: who, reach, link. Its id alone when it is not stored."""
    if not mentions:
        return None, None
    first = min(mentions, key=lambda m: (m.created_at, m.id))
    if not first.in_reply_to:
        return None, None
    own = {m.external_id for m in mentions}
    if first.in_reply_to in own:
        return None, None
    repo: TenantRepository[Mention] = TenantRepository.of(session, principal, Mention)
    row = session.execute(
        repo.select(Mention, Author)
        .join(Author, Author.id == Mention.author_id)
        .where(Mention.source == conversation.source, Mention.external_id == first.in_reply_to)
    ).first()
    if row is None:
        return None, first.in_reply_to
    mention, author = row
    message = _mention(mention, person_of(author))
    return message, first.in_reply_to


def events_of(session: Session, principal: Principal, conversation_id: int) -> list[Event]:
    """The timeline (:func:`clameur.care.conversations.timeline`), newest last, with who
    did it (and, for an assignment, to whom)."""
    rows = care.timeline(session, principal.tenant_id, conversation_id)[-MAX_EVENTS:]
    people: set[int | None] = {e.actor_id for e in rows}
    for e in rows:
        if e.kind in ("assign", "unassign"):
            people |= {v for v in ((e.data or {}).get("to"), (e.data or {}).get("from"))}
    names = _names(session, {p for p in people if isinstance(p, int)})
    return [_event(e, names) for e in rows]


_TIMES = ("until", "due_at")
"""Event data holding ISO times (shown in the agent's zone)."""


def _event(event: ConversationEvent, names: dict[int, str]) -> Event:
    actor = names.get(event.actor_id) if event.actor_id is not None else None
    data = dict(event.data or {})
    for key in _TIMES:
        value = data.get(key)
        if isinstance(value, str):
            try:
                data[key] = datetime.fromisoformat(value)
            except ValueError:
                data[key] = None
    for key in ("to", "from"):
        if event.kind in ("assign", "unassign") and isinstance(data.get(key), int):
            data[f"{key}_name"] = names.get(data[key])
    return Event(event.id, event.at, event.kind, actor, data)


def load(
    session: Session,
    principal: Principal,
    conversation_id: int,
    now: datetime,
    channel_for: Callable[[str], Channel],
    *,
    with_canned: bool = False,
) -> View:
    """The conversation as the page shows it (404 outside the principal's tenant)."""
    conversation = Conversations.of(session, principal).get(conversation_id)
    channel = channel_for(conversation.source)
    author = session.get(Author, conversation.author_id)
    assert author is not None  # conversations cascade with their author
    events = events_of(session, principal, conversation.id)
    messages, hidden, seen, mentions = thread(session, principal, conversation, events)
    parent, parent_id = _parent(session, principal, conversation, mentions)
    sla_clocks, due, paused = clocks(session, conversation, now)
    contact, identities, others = contact_of(session, principal, conversation)
    brand = (
        session.scalars(
            TenantRepository.of(session, principal, Brand)
            .select()
            .where(Brand.id == conversation.brand_id)
        ).first()
        if conversation.brand_id is not None
        else None
    )
    queue = (
        session.scalars(
            TenantRepository.of(session, principal, Queue)
            .select()
            .where(Queue.id == conversation.queue_id)
        ).first()
        if conversation.queue_id is not None
        else None
    )
    incident = (
        session.scalars(
            TenantRepository.of(session, principal, Incident)
            .select()
            .where(Incident.id == conversation.incident_id)
        ).first()
        if conversation.incident_id is not None
        else None
    )
    holder = handover.holder(session, conversation)
    teams = list(
        session.scalars(
            TenantRepository.of(session, principal, Team)
            .select()
            .where(Team.kind == "back_office")
            .order_by(Team.name)
        )
    )
    acting = allowed(principal, "replies.write")
    canned, languages = (
        canned_for(session, principal, conversation) if with_canned and acting else ([], [])
    )
    customer_lang = (conversation.lang or "").split("-")[0]
    if customer_lang and customer_lang not in languages:
        languages = sorted([*languages, customer_lang])
    return View(
        conversation=conversation,
        customer=person_of(author),
        brand=brand,
        queue=queue,
        assignee=session.get(User, conversation.assignee_id) if conversation.assignee_id else None,
        holder=holder,
        holder_due_at=holder.due_at,
        incident=incident,
        messages=messages,
        hidden_messages=hidden,
        parent=parent,
        parent_external_id=parent_id,
        seen_reply_id=seen,
        analysis=analysis(session, conversation, mentions),
        clocks=sla_clocks,
        sla_due=due,
        sla_paused=paused,
        events=events,
        notes=[e for e in events if e.kind == "note"],
        contact=contact,
        identities=identities,
        others=others,
        statuses=list(STATUSES),
        custom_statuses=sorted(care.custom_statuses(session, principal.tenant_id)),
        teams=teams,
        agents=agents(session, principal),
        approval_needed=approval_reasons(session, principal.tenant_id, conversation)
        if acting
        else [],
        supports_public=channel.supports_public,
        supports_private=channel.supports_private,
        moderation_actions=channel.moderation_actions,
        canned=canned,
        languages=languages,
    )
