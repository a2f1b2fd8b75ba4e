"""Incident mode: conversations grouped around one alert, answered together.

When detection raises an influencer or spike alert, :func:`open_for_alert` opens one incident
for it (calling it again returns the same one) and attaches the conversations of the alert's
mentions. A supervisor approves one holding answer (a template with ``{name}``, ``{handle}``,
``{brand}``, ``{agent}``…); agents then send it with :func:`bulk_reply`: one reply per
*author* — a customer with two conversations in the incident is answered once, in their
latest — skipping authors this incident already answered, each reply on its conversation's
timeline and in the audit log. While approval is required (the tenant's
``care.approval.incident``, on by default, or any of the other approval reasons for one of
the conversations) a bulk reply is refused entirely until the holding answer is approved;
the approval of the holding answer stands for the approval of each reply made from it.
:func:`bulk_progress` follows a bulk reply as the outbox sends it: one row per author.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from clameur.care.audit import audit, record
from clameur.care.canned import MAX_TEXT, parse_template, render
from clameur.care.channels import (
    REPLY_EVENT,
    Channel,
    ChannelRegistry,
    check_visibility,
    default_channels,
    default_visibility,
)
from clameur.care.incident_names import incident_title
from clameur.care.models import OPEN_STATUSES, Conversation, Incident, Reply
from clameur.care.replies import approval_policy
from clameur.care.repository import Incidents as Incidents
from clameur.clock import Clock
from clameur.core.outbox import enqueue
from clameur.detection.models import Alert, AlertMention
from clameur.errors import InvalidInputError, NotFoundError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand, Tenant, User
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

INCIDENT_KINDS = ("influencer", "volume_spike", "negative_spike")
"""Alert kinds that open an incident (a campaign is flagged, not answered)."""
ANSWERED = ("pending_approval", "approved", "queued", "sent", "failed")
"""Statuses of an incident reply that count as "this author was answered"."""
_CHUNK = 500


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield list(ids[i : i + _CHUNK])


def new_incident(session: Session, alert: Alert) -> Incident:
    """A new open incident for ``alert``, named after it, opened at its time (flushed)."""
    incident = Incident(
        tenant_id=alert.tenant_id,
        alert_id=alert.id,
        brand_id=alert.brand_id,
        title=incident_title(session, alert),
        status="open",
        opened_at=alert.triggered_at,
    )
    session.add(incident)
    session.flush()
    return incident


def open_for_alert(session: Session, clock: Clock, tenant_id: int, alert_id: int) -> Incident:
    """The alert's incident, opened on first call, with the conversations of the alert's
    mentions attached (again on each call: an alert grows while it lasts)."""
    alert = session.scalars(
        select(Alert)
        .where(Alert.tenant_id == tenant_id, Alert.id == alert_id)
        .with_for_update()  # PostgreSQL: two workers opening the same incident take turns
    ).first()
    if alert is None:
        raise NotFoundError(f"alert {alert_id} not found in this tenant")
    if alert.kind not in INCIDENT_KINDS:
        raise InvalidInputError(
            f"alert {alert_id} is a {alert.kind} alert: incidents open for "
            f"{', '.join(INCIDENT_KINDS)} alerts"
        )
    incident = session.scalars(
        select(Incident)
        .where(Incident.tenant_id == tenant_id, Incident.alert_id == alert_id)
        .order_by(Incident.id)
        .limit(1)
    ).first()
    if incident is None:
        incident = new_incident(session, alert)
        audit(
            session,
            tenant_id=tenant_id,
            at=clock.now(),
            actor_id=None,
            action="incident.open",
            object_type="incident",
            object_id=incident.id,
            data={"alert_id": alert_id, "kind": alert.kind},
        )
    if incident.status == "open":
        ids = session.scalars(
            select(Mention.conversation_id)
            .join(
                AlertMention,
                and_(
                    AlertMention.tenant_id == Mention.tenant_id,
                    AlertMention.source == Mention.source,
                    AlertMention.external_id == Mention.external_id,
                ),
            )
            .where(
                AlertMention.alert_id == alert_id,
                Mention.tenant_id == tenant_id,
                Mention.conversation_id.is_not(None),
            )
            .distinct()
        ).all()
        _attach(
            session, clock, tenant_id, incident.id, [i for i in ids if i is not None], actor_id=None
        )
    return incident


def attach_conversations(
    session: Session,
    clock: Clock,
    actor: Principal,
    incident_id: int,
    conversation_ids: Iterable[int],
    *,
    move: bool = False,
) -> list[int]:
    """A person attaches conversations to an open incident; returns those newly attached.

    A conversation already in another incident stays there unless ``move`` (an agent's
    explicit choice). The system attaches an alert's conversations in :func:`open_for_alert`.
    """
    actor = refresh(session, actor)
    authorize(actor, "conversations.act")
    return _attach(
        session,
        clock,
        actor.tenant_id,
        incident_id,
        conversation_ids,
        actor_id=actor.actor_id,
        move=move,
    )


def _attach(
    session: Session,
    clock: Clock,
    tenant_id: int,
    incident_id: int,
    conversation_ids: Iterable[int],
    *,
    actor_id: int | None,
    move: bool = False,
) -> list[int]:
    """:func:`attach_conversations` once the actor is checked (``actor_id`` None: the
    system)."""
    incident = Incidents(session, tenant_id).get(incident_id)
    if incident.status != "open":
        raise InvalidInputError(f"incident {incident_id} is {incident.status}")
    wanted = sorted(set(conversation_ids))
    found: list[Conversation] = []
    for chunk in _chunks(wanted):
        found.extend(
            session.scalars(
                select(Conversation).where(
                    Conversation.tenant_id == tenant_id, Conversation.id.in_(chunk)
                )
            )
        )
    missing = sorted(set(wanted) - {c.id for c in found})
    if missing:
        shown = ", ".join(map(str, missing[:10])) + ("…" if len(missing) > 10 else "")
        raise NotFoundError(f"conversations not found in this tenant: {shown}")
    attached = []
    now = clock.now()
    for conversation in sorted(found, key=lambda c: c.id):
        previous = conversation.incident_id
        if previous == incident.id or (previous is not None and not move):
            continue
        conversation.incident_id = incident.id
        attached.append(conversation.id)
        record(
            session,
            tenant_id=tenant_id,
            conversation_id=conversation.id,
            at=now,
            actor_id=actor_id,
            kind="incident",
            data={"incident_id": incident.id, "from": previous},
        )
    session.flush()
    return attached


def set_holding_answer(
    session: Session, clock: Clock, actor: Principal, incident_id: int, text: str
) -> Incident:
    """Propose (or change) the holding answer (``replies.write``); any earlier approval is
    withdrawn."""
    actor = refresh(session, actor)
    authorize(actor, "replies.write")
    incident = _open(session, actor.tenant_id, incident_id)
    incident.holding_answer = _template(text)
    incident.approved_by, incident.approved_at = None, None
    _audit(session, clock, incident, actor.actor_id, "incident.holding_answer", {"text": text})
    return incident


def approve_holding_answer(
    session: Session, clock: Clock, actor: Principal, incident_id: int, text: str
) -> Incident:
    """A supervisor sets and approves the holding answer agents will send in bulk
    (``incidents.manage``)."""
    actor = refresh(session, actor)
    authorize(actor, "incidents.manage")
    incident = _open(session, actor.tenant_id, incident_id)
    incident.holding_answer = _template(text)
    incident.approved_by, incident.approved_at = actor.user_id, clock.now()
    _audit(session, clock, incident, actor.actor_id, "incident.approve", {"text": text})
    return incident


def close_incident(session: Session, clock: Clock, actor: Principal, incident_id: int) -> Incident:
    """End incident mode (``incidents.manage``): approval for the brand's replies follows
    the usual rules again."""
    actor = refresh(session, actor)
    authorize(actor, "incidents.manage")
    incident = _open(session, actor.tenant_id, incident_id)
    incident.status = "closed"
    _audit(session, clock, incident, actor.actor_id, "incident.close", {})
    return incident


@dataclass(frozen=True, slots=True)
class Recipient:
    """One author to answer, as ``personalise`` sees it."""

    author_id: int
    handle: str
    name: str | None
    conversation_id: int
    source: str
    message: str | None
    """The customer's latest message in that conversation."""
    variables: Mapping[str, str]
    """The standard variables (``name``, ``handle``, ``brand``, ``agent``, ``conversation``)."""


@dataclass
class BulkReply:
    replies: list[int] = field(default_factory=list)
    """Ids of the replies created (queued), one per author."""
    skipped_authors: list[int] = field(default_factory=list)
    """Authors this incident had already answered."""


def bulk_reply(
    session: Session,
    clock: Clock,
    actor: Principal,
    incident_id: int,
    personalise: Callable[[Recipient], Mapping[str, str]] | None = None,
    *,
    visibility: str | None = None,
    channels: ChannelRegistry | None = None,
) -> BulkReply:
    """Answer every author of the incident once with the holding answer (``replies.write``:
    agents send it; the approval of the holding answer stands for each reply's).

    ``personalise`` returns extra (or overriding) variables for one recipient; the approved
    text itself is never changed. Every text is rendered before anything is written, so a
    template that cannot be filled for one author refuses the whole bulk reply.
    """
    actor = refresh(session, actor)
    authorize(actor, "replies.write")
    tenant_id = actor.tenant_id
    agent_id = actor.user_id
    agent = session.get(User, agent_id)
    agent_name = agent.name if agent is not None else actor.email
    incident = session.scalars(
        Incidents(session, tenant_id)
        .select()
        .where(Incident.id == incident_id)
        .with_for_update()  # PostgreSQL: two bulk replies of one incident take turns
    ).first()
    if incident is None:
        raise NotFoundError(f"incident {incident_id} not found")
    if incident.status != "open":
        raise InvalidInputError(f"incident {incident_id} is {incident.status}")
    if not incident.holding_answer:
        raise InvalidInputError(f"incident {incident_id} has no holding answer yet")
    conversations = session.scalars(
        select(Conversation).where(
            Conversation.tenant_id == tenant_id, Conversation.incident_id == incident.id
        )
    ).all()
    reasons = _approval_reasons(session, tenant_id, incident, conversations)
    if reasons and incident.approved_by is None:
        raise InvalidInputError(
            f"incident {incident_id}: the holding answer needs a supervisor's approval "
            f"({', '.join(reasons)}); nothing was sent"
        )
    answered = set(
        session.scalars(
            select(Conversation.author_id)
            .join(Reply, Reply.conversation_id == Conversation.id)
            .where(
                Reply.tenant_id == tenant_id,
                Reply.incident_id == incident.id,
                Reply.status.in_(ANSWERED),
            )
        ).all()
    )
    chosen: dict[int, Conversation] = {}
    for c in conversations:  # per author: an open conversation first, then the latest
        key = (c.status in OPEN_STATUSES, c.last_activity_at, c.id)
        best = chosen.get(c.author_id)
        if best is None or key > (best.status in OPEN_STATUSES, best.last_activity_at, best.id):
            chosen[c.author_id] = c
    result = BulkReply(skipped_authors=sorted(a for a in chosen if a in answered))
    todo = [chosen[a] for a in sorted(chosen) if a not in answered]
    authors = _authors(session, tenant_id, [c.author_id for c in todo])
    brands = {
        b.id: b.name for b in session.scalars(select(Brand).where(Brand.tenant_id == tenant_id))
    }
    latest = _latest_mentions(session, tenant_id, [c.id for c in todo])
    registry = channels or default_channels()
    resolved: dict[str, Channel] = {}
    planned: list[tuple[Conversation, str, str, str | None]] = []
    for conversation in todo:
        author = authors[conversation.author_id]
        variables = {
            "handle": author.handle,
            "name": (author.name or "").strip() or author.handle,
            "agent": agent_name,
            "conversation": str(conversation.id),
        }
        brand_id = conversation.brand_id or incident.brand_id
        if brand_id in brands:
            variables["brand"] = brands[brand_id]
        mention = latest.get(conversation.id)
        if personalise is not None:
            recipient = Recipient(
                author.id,
                author.handle,
                author.name,
                conversation.id,
                conversation.source,
                mention.text if mention else None,
                dict(variables),
            )
            variables.update({str(k): str(v) for k, v in personalise(recipient).items()})
        text = render(incident.holding_answer, variables).strip()
        if not text or len(text) > MAX_TEXT:
            raise InvalidInputError(
                f"the holding answer for author {author.handle!r} is empty or longer than "
                f"{MAX_TEXT} characters; nothing was sent"
            )
        channel = resolved.get(conversation.source)
        if channel is None:  # once per network: a connector's channel reads the database
            channel = resolved[conversation.source] = registry.for_tenant(
                conversation.source, tenant_id
            )
        shown = check_visibility(channel, visibility or default_visibility(channel))
        planned.append((conversation, text, shown, mention.external_id if mention else None))

    now = clock.now()
    replies = [
        Reply(
            tenant_id=tenant_id,
            conversation_id=conversation.id,
            author_id=agent_id,
            text=text,
            visibility=shown,
            status="queued",
            approved_by=incident.approved_by,
            incident_id=incident.id,
            in_reply_to=in_reply_to,
            channel=resolved[conversation.source].name,
            created_at=now,
        )
        for conversation, text, shown, in_reply_to in planned
    ]
    session.add_all(replies)
    session.flush()
    for reply in replies:
        enqueue(
            session, clock, REPLY_EVENT, {"tenant_id": tenant_id, "reply_id": reply.id}, tenant_id
        )
        record(
            session,
            tenant_id=tenant_id,
            conversation_id=reply.conversation_id,
            at=now,
            actor_id=actor.actor_id,
            kind="reply_queued",
            data={
                "reply_id": reply.id,
                "status": "queued",
                "incident_id": incident.id,
                "bulk": True,
                "approved_by": incident.approved_by,
            },
        )
        result.replies.append(reply.id)
    summary = {"replies": len(result.replies), "skipped_authors": len(result.skipped_authors)}
    _audit(session, clock, incident, actor.actor_id, "incident.bulk_reply", summary)
    session.flush()
    return result


def _approval_reasons(
    session: Session, tenant_id: int, incident: Incident, conversations: Sequence[Conversation]
) -> list[str]:
    """Why replies of this (open) incident need approval, computed once for the batch."""
    tenant = session.get(Tenant, tenant_id)
    policy = approval_policy(tenant.settings if tenant else None)
    reasons = []
    if policy.all:
        reasons.append("all")
    brands = {c.brand_id for c in conversations} | {incident.brand_id}
    if policy.brands & {b for b in brands if b is not None}:
        reasons.append("brand")
    if policy.p1 and any(c.priority_level == "P1" for c in conversations):
        reasons.append("p1")
    if policy.incident:
        reasons.append("incident")
    return reasons


def _authors(session: Session, tenant_id: int, ids: Sequence[int]) -> dict[int, Author]:
    out: dict[int, Author] = {}
    for chunk in _chunks(sorted(set(ids))):
        for author in session.scalars(
            select(Author).where(Author.tenant_id == tenant_id, Author.id.in_(chunk))
        ):
            out[author.id] = author
    return out


def _latest_mentions(
    session: Session, tenant_id: int, conversation_ids: Sequence[int]
) -> dict[int, Mention]:
    """Each conversation's latest mention (event time), in a few queries."""
    out: dict[int, Mention] = {}
    for chunk in _chunks(sorted(set(conversation_ids))):
        rows = session.scalars(
            select(Mention)
            .where(Mention.tenant_id == tenant_id, Mention.conversation_id.in_(chunk))
            .order_by(Mention.created_at, Mention.id)
        )
        for mention in rows:
            assert mention.conversation_id is not None
            out[mention.conversation_id] = mention  # the last one wins
    return out


def _open(session: Session, tenant_id: int, incident_id: int) -> Incident:
    incident = Incidents(session, tenant_id).get(incident_id)
    if incident.status != "open":
        raise InvalidInputError(f"incident {incident_id} is {incident.status}")
    return incident


def _template(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise InvalidInputError(f"a holding answer is 1–{MAX_TEXT} characters", where="text")
    parse_template(text)
    return text


def _audit(
    session: Session,
    clock: Clock,
    incident: Incident,
    actor_id: int | None,
    action: str,
    data: dict[str, Any],
) -> None:
    audit(
        session,
        tenant_id=incident.tenant_id,
        at=clock.now(),
        actor_id=actor_id,
        action=action,
        object_type="incident",
        object_id=incident.id,
        data=data,
    )
    session.flush()


PROGRESS_STATUSES = (*ANSWERED, "unanswered")
"""What a row of :func:`bulk_progress` may say (``unanswered``: no reply yet)."""


def bulk_progress(session: Session, principal: Principal, incident_id: int) -> dict[str, Any]:
    """How the incident's answers are going (``incidents.read``), for a progress bar.

    ``authors``: how many authors the incident's conversations have; ``totals``: authors
    per status of their reply (``unanswered`` when none); ``done``: sent or failed; one
    row per author (``handle``, ``name``, ``conversation_id``, ``reply_id``, ``status``,
    ``error``, ``sent_at``), the answered first in reply order, then the others by handle.
    A few queries, whatever the number of authors.
    """
    principal = refresh(session, principal)
    authorize(principal, "incidents.read")
    incident = Incidents.of(session, principal).get(incident_id)
    tenant_id = principal.tenant_id
    answers = session.execute(
        select(Reply.id, Reply.status, Reply.error, Reply.sent_at, Reply.conversation_id)
        .add_columns(Conversation.author_id)
        .join(Conversation, Conversation.id == Reply.conversation_id)
        .where(
            Reply.tenant_id == tenant_id,
            Conversation.tenant_id == tenant_id,
            Reply.incident_id == incident.id,
            Reply.status.in_(ANSWERED),
        )
        .order_by(Reply.id)
    ).all()
    members = session.execute(
        select(Conversation.author_id, Conversation.id, Author.handle, Author.name)
        .join(Author, Author.id == Conversation.author_id)
        .where(Conversation.tenant_id == tenant_id, Conversation.incident_id == incident.id)
        .order_by(Conversation.last_activity_at, Conversation.id)
    ).all()
    people: dict[int, tuple[str, str | None, int]] = {}
    for author_id, conversation_id, handle, name in members:
        people[author_id] = (handle, name, conversation_id)  # the latest conversation last
    latest: dict[int, Any] = {}
    for row in answers:
        latest[row.author_id] = row  # a later reply of the same author replaces it
    moved = _authors(session, tenant_id, sorted(set(latest) - set(people)))
    for author in moved.values():  # answered, then moved to another incident: still theirs
        people[author.id] = (author.handle, author.name, latest[author.id].conversation_id)
    rows: list[dict[str, Any]] = []
    for author_id, row in sorted(latest.items(), key=lambda item: item[1].id):
        handle, name, _ = people[author_id]
        rows.append(
            {
                "author_id": author_id,
                "handle": handle,
                "name": name,
                "conversation_id": row.conversation_id,
                "reply_id": row.id,
                "status": row.status,
                "error": row.error,
                "sent_at": row.sent_at,
            }
        )
    for author_id, (handle, name, conversation_id) in sorted(
        people.items(), key=lambda item: item[1][0]
    ):
        if author_id not in latest:
            rows.append(
                {
                    "author_id": author_id,
                    "handle": handle,
                    "name": name,
                    "conversation_id": conversation_id,
                    "reply_id": None,
                    "status": "unanswered",
                    "error": None,
                    "sent_at": None,
                }
            )
    totals = dict.fromkeys(PROGRESS_STATUSES, 0)
    for row_out in rows:
        totals[row_out["status"]] += 1
    return {
        "incident_id": incident.id,
        "status": incident.status,
        "authors": len(rows),
        "totals": totals,
        "done": totals["sent"] + totals["failed"],
        "rows": rows,
    }


def incident_of(session: Session, tenant_id: int, incident_id: int) -> Incident:
    return Incidents(session, tenant_id).get(incident_id)
