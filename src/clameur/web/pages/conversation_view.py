"""What the conversation page shows, read in a bounded number of queries.

The page reads through the care services where they exist (timeline, SLA clocks, holder,
canned replies, suggestions) and through the tenant repository otherwise; nothing here
decides a rule (who may reply, what needs approval): the services do, when the agent acts.
Every list is bounded (:data:`MAX_ITEMS` messages, :data:`MAX_EVENTS` events,
:data:`MAX_OTHERS` other conversations), so a long thread costs the same few queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from clameur.analysis.actionability import ActionabilityInput, classify_one
from clameur.care import conversations as care
from clameur.care import handover, sla
from clameur.care.canned import conversation_variables, list_canned_replies, render
from clameur.care.channels import Channel
from clameur.care.models import (
    STATUSES,
    Contact,
    ContactIdentity,
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
from clameur.errors import InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.accounts import members
from clameur.tenancy.models import Brand, User
from clameur.tenancy.policy import allowed, roles_for
from clameur.tenancy.principal import Principal

MAX_ITEMS = 300
"""Messages shown (the newest); older ones are counted, not shown."""
MAX_EVENTS = 200
MAX_OTHERS = 10
ACTING_ROLES = roles_for("conversations.act")


@dataclass(frozen=True, slots=True)
class Person:
    """An author of a mention (the customer, or whoever wrote the parent post)."""

    id: int
    handle: str
    name: str | None
    source: str
    followers: int | None
    verified: bool
    url: str | None
    account_created_at: datetime | None


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
class Clock:
    name: str
    state: str
    due_at: datetime | None
    warn_at: datetime | None
    remaining_seconds: float
    target_seconds: int
    breached_at: datetime | None
    met: bool | None


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


def _person(author: Author) -> Person:
    return Person(
        author.id,
        author.handle,
        author.name,
        author.source,
        author.followers,
        bool(author.verified),
        author.url,
        author.account_created_at,
    )


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
        person = people.setdefault(author.id, _person(author))
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
    message = _mention(mention, _person(author))
    return message, first.in_reply_to


def actionability_reason(mention: Mention, author: Author | None) -> dict[str, Any]:
    """Why the analysis called the mention actionable, an opinion or an attack: the parts
    of :func:`clameur.analysis.actionability.classify_one` (a pure function of the text
    and the author), read again for the agent."""
    result = classify_one(
        ActionabilityInput(
            text=mention.text,
            toxicity=mention.toxicity or 0.0,
            author_handle=author.handle if author else None,
            author_name=author.name if author else None,
            author_followers=author.followers if author else None,
            author_created_at=author.account_created_at if author else None,
            created_at=mention.created_at,
        )
    )
    return {
        "first_person": result.first_person,
        "concrete": result.concrete,
        "specific": result.specific,
        "hearsay": result.hearsay,
        "anonymous": result.anonymous,
    }


def _analysis(
    session: Session, conversation: Conversation, mentions: list[Mention]
) -> dict[str, Any]:
    """The analysis of the customer's latest message, and the priority's reasons of the
    message that set the conversation's priority."""
    if not mentions:
        return {}
    latest = max(mentions, key=lambda m: (m.created_at, m.id))
    top = max(mentions, key=lambda m: (m.priority or -1.0, m.created_at, m.id))
    author = session.get(Author, latest.author_id)
    return {
        "mention_id": latest.id,
        "lang": latest.lang or conversation.lang,
        "sentiment": latest.sentiment,
        "sentiment_score": latest.sentiment_score,
        "intent": latest.intent,
        "intent_score": latest.intent_score,
        "toxicity": latest.toxicity,
        "toxicity_labels": list(latest.toxicity_labels or []),
        "actionability": latest.actionability,
        "actionability_reason": actionability_reason(latest, author)
        if latest.actionability
        else None,
        "reach": latest.reach,
        "priority": top.priority,
        "priority_level": top.priority_level or conversation.priority_level,
        "priority_reasons": list(top.priority_reasons or []),
    }


def _clocks(
    session: Session, conversation: Conversation, now: datetime
) -> tuple[list[Clock], Clock | None, bool]:
    """The SLA clocks (:func:`clameur.care.sla.clock_states`) with their warning times, the
    running one due first, and whether the clocks are paused."""
    raw = (conversation.sla or {}).get("clocks", {})
    states = sla.clock_states(session, conversation.tenant_id, conversation.id, now)
    out: list[Clock] = []
    for name in sla.CLOCKS:
        state = states.get(name)
        if state is None:
            continue
        warn = (raw.get(name) or {}).get("warn_at")
        out.append(
            Clock(
                name=name,
                state=state.state,
                due_at=state.due_at,
                warn_at=datetime.fromisoformat(warn) if isinstance(warn, str) else None,
                remaining_seconds=state.remaining_seconds,
                target_seconds=state.target_seconds,
                breached_at=state.breached_at,
                met=state.met,
            )
        )
    running = [c for c in out if c.state == "running" and c.due_at is not None]
    due = min(running, key=lambda c: c.due_at or now, default=None)
    paused = any(c.state == "paused" for c in out) and due is None
    return out, due, paused


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


def _contact(
    session: Session, principal: Principal, conversation: Conversation
) -> tuple[Contact | None, list[Person], list[dict[str, Any]]]:
    """The contact, their identities (merged authors across channels) and their other
    conversations, newest first, each with the text that opened it."""
    if conversation.contact_id is None:
        return None, [], []
    contact = session.scalars(
        TenantRepository.of(session, principal, Contact)
        .select()
        .where(Contact.id == conversation.contact_id)
    ).first()
    if contact is None:
        return None, [], []
    authors = session.scalars(
        TenantRepository.of(session, principal, Author)
        .select(Author, steer=False)
        .join(ContactIdentity, ContactIdentity.author_id == Author.id)
        .where(ContactIdentity.contact_id == contact.id)
        .order_by(Author.source, Author.handle)
    ).all()
    identities = [_person(a) for a in authors]
    ids = [a.id for a in authors] or [conversation.author_id]
    repo = Conversations.of(session, principal)
    others = list(
        repo.all(
            repo.select()
            .where(Conversation.author_id.in_(ids), Conversation.id != conversation.id)
            .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
            .limit(MAX_OTHERS)
        )
    )
    texts: dict[tuple[str, str], str] = {}
    if others:
        keys = [(c.source, c.root_external_id) for c in others]
        rows = session.execute(
            TenantRepository.of(session, principal, Mention)
            .select(Mention.source, Mention.external_id, Mention.text)
            .where(tuple_(Mention.source, Mention.external_id).in_(keys))
        )
        texts = {(s, e): t for s, e, t in rows}
    handles = {a.id: a.handle for a in authors}
    listed = [
        {
            "id": c.id,
            "source": c.source,
            "status": c.status,
            "custom_status": c.custom_status,
            "opened_at": c.opened_at,
            "last_activity_at": c.last_activity_at,
            "handle": handles.get(c.author_id),
            "text": texts.get((c.source, c.root_external_id)),
            "mention_count": c.mention_count,
        }
        for c in others
    ]
    return contact, identities, listed


def _agents(session: Session, principal: Principal) -> list[tuple[int, str]]:
    """Who a supervisor may hand the conversation to: the tenant's acting members."""
    if not allowed(principal, "conversations.assign_others"):
        return []
    found = [
        (user.id, (user.name or "").strip() or user.email)
        for user, role in members(session, principal.tenant_id)
        if role in ACTING_ROLES and user.active
    ]
    return sorted(found, key=lambda item: item[1].casefold())


def canned_for(
    session: Session, principal: Principal, conversation: Conversation
) -> tuple[list[dict[str, Any]], list[str]]:
    """The canned replies the agent may use here (the team's and their own), each rendered
    with the conversation's variables; and the languages they come in."""
    if not allowed(principal, "replies.write"):
        return [], []
    rows = list_canned_replies(session, principal, brand_id=conversation.brand_id)
    variables = conversation_variables(
        session, principal.tenant_id, conversation.id, agent_id=principal.user_id
    )
    out: list[dict[str, Any]] = []
    for row in rows:
        try:
            text, complete = render(row.text, variables), True
        except InvalidInputError:
            text, complete = row.text, False  # a variable this conversation cannot fill
        out.append(
            {
                "id": row.id,
                "name": row.name,
                "shortcode": row.shortcode,
                "lang": row.lang,
                "personal": row.owner_id is not None,
                "text": text,
                "complete": complete,
            }
        )
    languages = sorted({c["lang"].split("-")[0] for c in out})
    return out, languages


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
    clocks, due, paused = _clocks(session, conversation, now)
    contact, identities, others = _contact(session, principal, conversation)
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
        customer=_person(author),
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
        analysis=_analysis(session, conversation, mentions),
        clocks=clocks,
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
        agents=_agents(session, principal),
        approval_needed=approval_reasons(session, principal.tenant_id, conversation)
        if acting
        else [],
        supports_public=channel.supports_public,
        supports_private=channel.supports_private,
        moderation_actions=channel.moderation_actions,
        canned=canned,
        languages=languages,
    )


def newest_reply_id(session: Session, principal: Principal, conversation_id: int) -> int | None:
    """The newest reply of the conversation (any status): what a fresh reply box has seen."""
    repo = Replies.of(session, principal)
    found: int | None = session.scalar(
        repo.select(func.max(Reply.id)).where(Reply.conversation_id == conversation_id)
    )
    return found
