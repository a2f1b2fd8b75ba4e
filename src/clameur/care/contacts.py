"""Contacts: one person across channels — history, suggestions, merge and split.

Every author (a handle on a source) is an identity of exactly one contact; the pipeline
makes a contact with an author's first conversation. Agents merge contacts they recognise
as one person (suggested by the same handle on two sources, the same e-mail or the same
name) and split an identity back out when they were wrong. Conversations follow their
author's identity, so a contact's history is always the conversations of its identities:
nothing is copied, nothing is lost by a merge or a split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from clameur.care.audit import audit
from clameur.care.models import Contact, ContactIdentity, Conversation, Reply
from clameur.care.repository import Contacts
from clameur.errors import InvalidInputError, NotFoundError
from clameur.listening.query.text import fold
from clameur.mentions.models import Author, Mention
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh


def _contact(session: Session, tenant_id: int, contact_id: int) -> Contact:
    try:
        return Contacts(session, tenant_id).get(contact_id)
    except NotFoundError:
        raise NotFoundError(f"no contact {contact_id}") from None


def identities(session: Session, tenant_id: int, contact_id: int) -> list[Author]:
    return list(
        session.scalars(
            select(Author)
            .join(ContactIdentity, ContactIdentity.author_id == Author.id)
            .where(ContactIdentity.tenant_id == tenant_id, ContactIdentity.contact_id == contact_id)
            .order_by(Author.source, Author.handle)
        )
    )


def history(session: Session, tenant_id: int, contact_id: int) -> dict[str, Any]:
    """The contact, its identities, and every conversation of every identity with its
    mentions and the brand's answers, oldest first."""
    contact = _contact(session, tenant_id, contact_id)
    authors = identities(session, tenant_id, contact_id)
    author_ids = [a.id for a in authors]
    conversations = (
        session.scalars(
            select(Conversation)
            .where(Conversation.tenant_id == tenant_id, Conversation.author_id.in_(author_ids))
            .order_by(Conversation.opened_at, Conversation.id)
        ).all()
        if author_ids
        else []
    )
    ids = [c.id for c in conversations]
    mentions: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    replies: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for m in session.scalars(
            select(Mention)
            .where(Mention.tenant_id == tenant_id, Mention.conversation_id.in_(ids))
            .order_by(Mention.created_at, Mention.id)
        ):
            assert m.conversation_id is not None
            mentions[m.conversation_id].append(
                {
                    "source": m.source,
                    "external_id": m.external_id,
                    "text": m.text,
                    "created_at": m.created_at.isoformat(),
                }
            )
        for r in session.scalars(
            select(Reply)
            .where(Reply.tenant_id == tenant_id, Reply.conversation_id.in_(ids))
            .order_by(Reply.created_at, Reply.id)
        ):
            replies[r.conversation_id].append(
                {"text": r.text, "status": r.status, "created_at": r.created_at.isoformat()}
            )
    return {
        "id": contact.id,
        "name": contact.name,
        "emails": list(contact.emails),
        "identities": [
            {"author_id": a.id, "source": a.source, "handle": a.handle} for a in authors
        ],
        "conversations": [
            {
                "id": c.id,
                "source": c.source,
                "status": c.status,
                "opened_at": c.opened_at.isoformat(),
                "mentions": mentions[c.id],
                "replies": replies[c.id],
            }
            for c in conversations
        ],
    }


def merge(
    session: Session, actor: Principal, into_id: int, other_id: int, *, at: datetime
) -> Contact:
    """Fold ``other`` into ``into``: identities, e-mails and conversations move; ``other``
    is deleted. The audit entry keeps what ``other`` was, so a split can undo it."""
    actor = refresh(session, actor)
    authorize(actor, "contacts.manage")
    tenant_id, actor_id = actor.tenant_id, actor.actor_id
    if into_id == other_id:
        raise InvalidInputError("cannot merge a contact with itself", where="contact")
    into = _contact(session, tenant_id, into_id)
    other = _contact(session, tenant_id, other_id)
    moved = [a.id for a in identities(session, tenant_id, other_id)]
    session.execute(
        update(ContactIdentity)
        .where(ContactIdentity.tenant_id == tenant_id, ContactIdentity.contact_id == other_id)
        .values(contact_id=into_id, linked_at=at, linked_by=actor_id)
    )
    session.execute(
        update(Conversation)
        .where(Conversation.tenant_id == tenant_id, Conversation.contact_id == other_id)
        .values(contact_id=into_id)
    )
    into.emails = list(dict.fromkeys([*into.emails, *other.emails]))
    if not into.name:
        into.name = other.name
    audit(
        session,
        tenant_id=tenant_id,
        at=at,
        actor_id=actor_id,
        action="contact.merge",
        object_type="contact",
        object_id=into_id,
        data={
            "merged": other_id,
            "name": other.name,
            "emails": list(other.emails),
            "authors": moved,
        },
    )
    session.delete(other)
    session.flush()
    return into


def split(
    session: Session,
    actor: Principal,
    contact_id: int,
    author_ids: list[int],
    *,
    at: datetime,
    name: str | None = None,
) -> Contact:
    """Move identities out of a contact into a new contact, with their conversations."""
    actor = refresh(session, actor)
    authorize(actor, "contacts.manage")
    tenant_id, actor_id = actor.tenant_id, actor.actor_id
    source = _contact(session, tenant_id, contact_id)
    current = {a.id for a in identities(session, tenant_id, contact_id)}
    unknown = sorted(set(author_ids) - current)
    if unknown:
        raise InvalidInputError(
            f"authors {unknown} are not identities of contact {contact_id}", where="authors"
        )
    if not author_ids or set(author_ids) == current:
        raise InvalidInputError(
            "a split moves some identities, not none or all of them", where="authors"
        )
    handles = [a.handle for a in identities(session, tenant_id, contact_id) if a.id in author_ids]
    fresh = Contact(
        tenant_id=tenant_id,
        name=name or handles[0],
        emails=[],
        created_at=at,
        origin_author_id=None,
    )
    session.add(fresh)
    session.flush()
    session.execute(
        update(ContactIdentity)
        .where(ContactIdentity.tenant_id == tenant_id, ContactIdentity.author_id.in_(author_ids))
        .values(contact_id=fresh.id, linked_at=at, linked_by=actor_id)
    )
    session.execute(
        update(Conversation)
        .where(Conversation.tenant_id == tenant_id, Conversation.author_id.in_(author_ids))
        .values(contact_id=fresh.id)
    )
    audit(
        session,
        tenant_id=tenant_id,
        at=at,
        actor_id=actor_id,
        action="contact.split",
        object_type="contact",
        object_id=source.id,
        data={"new_contact": fresh.id, "authors": sorted(author_ids)},
    )
    session.flush()
    return fresh


@dataclass(frozen=True, slots=True)
class Suggestion:
    contact_id: int
    other_id: int
    reason: str


_HANDLE = re.compile(r"[^a-z0-9]+")


def _handle_key(handle: str) -> str:
    """``Julie.Tech``, ``julie_tech``, ``@julie-tech.bsky.social`` → ``julietech``."""
    base = handle.lower().lstrip("@").split(".bsky.")[0]
    return _HANDLE.sub("", fold(base))


def suggestions(session: Session, tenant_id: int, contact_id: int) -> list[Suggestion]:
    """Contacts that may be the same person: same handle on another source, same e-mail,
    same (folded) name. Suggestions only: an agent decides."""
    contact = _contact(session, tenant_id, contact_id)
    mine = identities(session, tenant_id, contact_id)
    keys = {_handle_key(a.handle) for a in mine if len(_handle_key(a.handle)) >= 4}
    found: dict[int, str] = {}
    if keys:
        rows = session.execute(
            select(ContactIdentity.contact_id, Author.handle, Author.source)
            .join(Author, Author.id == ContactIdentity.author_id)
            .where(ContactIdentity.tenant_id == tenant_id, ContactIdentity.contact_id != contact_id)
        )
        for other, handle, source in rows:
            if _handle_key(handle) in keys:
                found.setdefault(other, f"same handle on {source} ({handle})")
    emails = {e.lower() for e in contact.emails}
    name = fold(contact.name or "").strip()
    candidates = session.scalars(
        select(Contact).where(Contact.tenant_id == tenant_id, Contact.id != contact_id)
    )
    for candidate in candidates:
        if emails & {e.lower() for e in candidate.emails}:
            found.setdefault(candidate.id, "same e-mail")
        elif len(name) >= 6 and " " in name and fold(candidate.name or "").strip() == name:
            found.setdefault(candidate.id, f"same name ({candidate.name})")
    return [Suggestion(contact_id, other, reason) for other, reason in sorted(found.items())]


def count(session: Session, tenant_id: int) -> int:
    stmt = select(func.count()).select_from(Contact).where(Contact.tenant_id == tenant_id)
    return int(session.execute(stmt).scalar_one())
