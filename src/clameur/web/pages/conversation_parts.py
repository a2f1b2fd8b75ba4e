"""The conversation page's side pane, read in a few queries: the contact and their other
conversations across channels, the analysis of the latest message (with why it is
actionable), the SLA clocks, who a supervisor may assign, the canned replies at hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import tuple_
from sqlalchemy.orm import Session

from clameur.analysis.actionability import ActionabilityInput, classify_one
from clameur.care import sla
from clameur.care.canned import conversation_variables, list_canned_replies, render
from clameur.care.models import Contact, ContactIdentity, Conversation
from clameur.care.repository import Conversations
from clameur.db.repository import TenantRepository
from clameur.errors import InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.accounts import members
from clameur.tenancy.policy import allowed, roles_for
from clameur.tenancy.principal import Principal

MAX_OTHERS = 10
"""Other conversations of the contact shown (the newest)."""
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


def person_of(author: Author) -> Person:
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


def analysis(
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


def clocks(
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


def contact_of(
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
    identities = [person_of(a) for a in authors]
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


def agents(session: Session, principal: Principal) -> list[tuple[int, str]]:
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
