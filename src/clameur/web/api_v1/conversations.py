"""Conversations: list (items as ``clameur conversations list --json``), get with its
messages and timeline, and the agents' actions through the care services (each refreshes
the principal and checks the policy table itself; the route checks first so that a role
that may not act gets 403 before its input is read)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care import collision, replies, routing
from clameur.care import conversations as care
from clameur.care.canned import MAX_TEXT, expand_shortcodes
from clameur.care.models import Conversation, ConversationEvent, Reply
from clameur.care.repository import Conversations, Queues, Replies
from clameur.db.repository import TenantRepository
from clameur.errors import InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.accounts import find_user, role_in
from clameur.tenancy.models import Brand, User
from clameur.tenancy.principal import Principal
from clameur.tenancy.service import get_brand
from clameur.web.api_v1 import conversation_list
from clameur.web.api_v1.common import MAX_ID, ChannelsDep, ClockDep, Id, SessionDep, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["conversations"])

MAX_PAGE = 200
OUT_STATUSES = ("pending_approval", "queued", "sent", "failed")
"""Replies shown as messages (drafts, rejections and approvals are in the timeline)."""


class ConversationItem(BaseModel):
    """As ``clameur conversations list --json`` prints it."""

    id: int
    status: str
    priority: str | None = Field(description="P1…P4.")
    priority_score: float | None = Field(description="0–100: the inbox order.")
    source: str
    author: str = Field(description="The customer's handle.")
    mentions: list[str] = Field(description="External ids, in event-time order.")
    incident: int | None
    flags: list[str] = Field(description="e.g. campaign.")


class ConversationPage(BaseModel):
    items: list[ConversationItem] = Field(description="Highest priority first, then oldest.")
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class Message(BaseModel):
    id: int = Field(description="The mention's id (in) or the reply's id (out).")
    direction: str = Field(description="in: the customer's; out: a reply.")
    text: str
    created_at: datetime
    author: str | None = Field(description="The customer's handle, or the agent's e-mail.")
    status: str | None = Field(description="out: pending_approval, queued, sent or failed.")
    external_id: str | None = Field(description="The post's id on its network, once known.")
    visibility: str | None = Field(
        default=None, description="out: public (a reply in the open) or private (a message)."
    )
    error: str | None = Field(
        default=None, description="out: why publishing failed (status failed), else null."
    )


class Event(BaseModel):
    id: int
    at: datetime
    kind: str = Field(description="note, status, assign, tag, reply_queued, sla_breach…")
    actor: str | None = Field(description="E-mail of who did it; null: the system.")
    data: dict[str, Any]


class ConversationOut(ConversationItem):
    custom_status: str | None
    brand: str | None
    lang: str | None
    queue: str | None
    assignee: str | None = Field(description="E-mail of the agent holding it.")
    tags: list[str]
    opened_at: datetime
    last_activity_at: datetime


class ConversationDetail(ConversationOut):
    messages: list[Message] = Field(description="In time order.")
    timeline: list[Event]


class AssignIn(BaseModel):
    user: str | None = Field(
        description='An agent\'s e-mail, "me", or null: back to the queue.', max_length=320
    )


class StatusIn(BaseModel):
    status: str = Field(
        description="open, pending, waiting, escalated, resolved, closed, or one of the "
        "tenant's own labels.",
        max_length=40,
    )
    reason: str | None = Field(None, max_length=care.MAX_REASON, description="Why.")


class SnoozeIn(BaseModel):
    until: datetime | None = Field(None, description="When it wakes up (with a time zone).")
    minutes: int | None = Field(
        None, ge=1, le=care.MAX_SNOOZE.days * 24 * 60, description="Or: minutes from now."
    )
    reason: str | None = Field(None, max_length=care.MAX_REASON)


class ExpandIn(BaseModel):
    text: str = Field(max_length=MAX_TEXT, description="What the agent typed, /shortcodes in.")


class ExpandOut(BaseModel):
    text: str = Field(description="Each known /shortcode replaced by its canned reply.")


class ReplyNowIn(BaseModel):
    text: str = Field(max_length=10_000)
    public: bool | None = Field(
        None,
        description="In the thread (true) or a direct message (false); null: the "
        "channel's default.",
    )
    seen_reply_id: int | None = Field(
        ge=1,
        le=MAX_ID,
        description="The newest reply the agent's screen showed when the box opened (null: "
        "none). A reply sent since refuses this one (409).",
    )
    confirm_other_assignee: bool = Field(
        False, description="The agent confirmed replying to a colleague's conversation."
    )


class NoteIn(BaseModel):
    text: str = Field(description="Internal; @name mentions a colleague.", max_length=10_000)


class TagsIn(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


class ReplyIn(BaseModel):
    text: str = Field(max_length=10_000)
    public: bool | None = Field(
        None,
        description="In the thread (true) or a direct message (false); null: the "
        "channel's default.",
    )


class RejectIn(BaseModel):
    reason: str = Field("", max_length=1000)


def _emails(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(wanted)))
    return {user_id: email for user_id, email in rows}


def _out(session: Session, principal: Principal, conversation: Conversation) -> dict[str, Any]:
    (item,) = conversation_list.items(session, principal, [conversation.id])
    brand = session.get(Brand, conversation.brand_id) if conversation.brand_id else None
    queue = (
        Queues.of(session, principal).get(conversation.queue_id) if conversation.queue_id else None
    )
    assignee = _emails(session, {conversation.assignee_id})
    return {
        **item,
        "custom_status": conversation.custom_status,
        "brand": brand.slug if brand is not None else None,
        "lang": conversation.lang,
        "queue": queue.name if queue is not None else None,
        "assignee": assignee.get(conversation.assignee_id) if conversation.assignee_id else None,
        "tags": list(conversation.tags or []),
        "opened_at": conversation.opened_at,
        "last_activity_at": conversation.last_activity_at,
    }


def _message(reply: Reply, emails: dict[int, str]) -> Message:
    return Message(
        id=reply.id,
        direction="out",
        text=reply.text,
        created_at=reply.created_at,
        author=emails.get(reply.author_id) if reply.author_id else None,
        status=reply.status,
        external_id=reply.external_id,
        visibility=reply.visibility,
        error=reply.error,
    )


def _messages(session: Session, principal: Principal, conversation_id: int) -> list[Message]:
    found = session.execute(
        TenantRepository.of(session, principal, Mention)
        .select(Mention, Author.handle, steer=False)
        .join(Author, Author.id == Mention.author_id)
        .where(Mention.conversation_id == conversation_id)
    ).all()
    incoming = [
        Message(
            id=m.id,
            direction="in",
            text=m.text,
            created_at=m.created_at,
            author=handle,
            status=None,
            external_id=m.external_id,
        )
        for m, handle in found
    ]
    repo = Replies.of(session, principal)
    rows = repo.all(
        repo.select().where(
            Reply.conversation_id == conversation_id, Reply.status.in_(OUT_STATUSES)
        )
    )
    emails = _emails(session, {r.author_id for r in rows})
    outgoing = [_message(r, emails) for r in rows]
    return sorted([*incoming, *outgoing], key=lambda m: (m.created_at, m.direction, m.id))


def _timeline(session: Session, principal: Principal, conversation_id: int) -> list[Event]:
    events = care.timeline(session, principal.tenant_id, conversation_id)
    emails = _emails(session, {e.actor_id for e in events})
    return [_event(e, emails) for e in events]


def _event(event: ConversationEvent, emails: dict[int, str]) -> Event:
    return Event(
        id=event.id,
        at=event.at,
        kind=event.kind,
        actor=emails.get(event.actor_id) if event.actor_id else None,
        data=dict(event.data or {}),
    )


def _user_id(session: Session, principal: Principal, email: str, where: str = "user") -> int:
    """A member of the tenant by e-mail ("me": oneself); 422 naming the field otherwise."""
    if email == "me":
        return principal.user_id
    user = find_user(session, email)
    if user is None or role_in(session, principal.tenant_id, user.id) is None:
        raise InvalidInputError(f"no member {email!r} in this tenant", where=where)
    return user.id


@router.get(
    "/conversations",
    response_model=ConversationPage,
    summary="The tenant's conversations, highest priority first",
    **operation("conversations.read"),
)
def list_conversations(
    session: SessionDep,
    principal: CurrentPrincipal,
    status: Annotated[str | None, Query(description="open, pending, waiting…")] = None,
    queue: Annotated[int | None, Query(ge=1, le=MAX_ID, description="A queue's id.")] = None,
    assignee: Annotated[
        str | None,
        Query(description='An agent\'s e-mail, "me", or "none" (unassigned).', max_length=320),
    ] = None,
    priority: Annotated[str | None, Query(description="P1, P2, P3 or P4.")] = None,
    source: Annotated[str | None, Query(max_length=20)] = None,
    brand: Annotated[str | None, Query(description="A brand's slug.", max_length=63)] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
) -> ConversationPage:
    if queue is not None:
        Queues.of(session, principal).get(queue)  # another tenant's queue: 404
    if assignee == "none":
        assignee_id, unassigned = None, True
    elif assignee is not None:
        assignee_id, unassigned = _user_id(session, principal, assignee, "assignee"), False
    else:
        assignee_id, unassigned = None, False
    filters = conversation_list.Filters(
        status=status,
        queue_id=queue,
        assignee_id=assignee_id,
        unassigned=unassigned,
        priority=priority,
        source=source,
        brand_id=get_brand(session, principal.tenant_id, brand).id if brand else None,
        tag=tag,
    )
    items, next_cursor = conversation_list.page(
        session, principal, filters, limit=limit, cursor=cursor
    )
    return ConversationPage(
        items=[ConversationItem.model_validate(i) for i in items], next=next_cursor
    )


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    summary="A conversation with its messages (in time order) and its timeline",
    **operation("conversations.read", 404),
)
def show_conversation(
    session: SessionDep, principal: CurrentPrincipal, conversation_id: Id
) -> ConversationDetail:
    conversation = Conversations.of(session, principal).get(conversation_id)
    return ConversationDetail(
        **_out(session, principal, conversation),
        messages=_messages(session, principal, conversation.id),
        timeline=_timeline(session, principal, conversation.id),
    )


@router.post(
    "/conversations/{conversation_id}/assign",
    response_model=ConversationOut,
    summary="Assign to oneself or (supervisors) to a colleague; null: back to the queue",
    **operation("conversations.assign", 404),
)
def assign(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    conversation_id: Id,
    body: AssignIn,
) -> ConversationOut:
    Conversations.of(session, principal).get(conversation_id)  # 404 before the body's checks
    target = _user_id(session, principal, body.user) if body.user is not None else None
    conversation = routing.assign(session, clock, principal, conversation_id, target)
    return ConversationOut.model_validate(_out(session, principal, conversation))


@router.post(
    "/conversations/{conversation_id}/status",
    response_model=ConversationOut,
    summary="Set the status (or one of the tenant's own labels)",
    **operation("conversations.act", 404),
)
def set_status(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    conversation_id: Id,
    body: StatusIn,
) -> ConversationOut:
    conversation = care.set_status(
        session, principal, conversation_id, body.status, at=clock.now(), reason=body.reason
    )
    return ConversationOut.model_validate(_out(session, principal, conversation))


@router.post(
    "/conversations/{conversation_id}/snooze",
    response_model=ConversationOut,
    summary="Put aside (pending) until a time or for some minutes; it wakes up by itself",
    **operation("conversations.act", 404),
)
def snooze(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    conversation_id: Id,
    body: SnoozeIn,
) -> ConversationOut:
    Conversations.of(session, principal).get(conversation_id)  # 404 before the body's checks
    now = clock.now()
    if (body.until is None) == (body.minutes is None):
        raise InvalidInputError("give until or minutes (one of them)", where="until")
    until = body.until if body.until is not None else now + timedelta(minutes=body.minutes or 0)
    conversation = care.snooze(
        session, principal, conversation_id, until, at=now, reason=body.reason
    )
    return ConversationOut.model_validate(_out(session, principal, conversation))


@router.post(
    "/conversations/{conversation_id}/expand",
    response_model=ExpandOut,
    summary="Replace /shortcodes by canned replies (the reply box's preview)",
    **operation("replies.write", 404),
)
def expand(
    session: SessionDep, principal: CurrentPrincipal, conversation_id: Id, body: ExpandIn
) -> ExpandOut:
    return ExpandOut(text=expand_shortcodes(session, principal, conversation_id, body.text))


@router.post(
    "/conversations/{conversation_id}/notes",
    response_model=Event,
    status_code=201,
    summary="An internal note (never sent to the customer)",
    **operation("conversations.act", 404),
)
def add_note(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    conversation_id: Id,
    body: NoteIn,
) -> Event:
    event = care.add_note(session, principal, conversation_id, body.text, at=clock.now())
    session.flush()
    return _event(event, _emails(session, {event.actor_id}))


@router.post(
    "/conversations/{conversation_id}/tags",
    response_model=ConversationOut,
    summary="Add and remove tags",
    **operation("conversations.act", 404),
)
def tag(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    conversation_id: Id,
    body: TagsIn,
) -> ConversationOut:
    conversation = care.tag(
        session, principal, conversation_id, add=body.add, remove=body.remove, at=clock.now()
    )
    return ConversationOut.model_validate(_out(session, principal, conversation))


@router.post(
    "/conversations/{conversation_id}/replies",
    response_model=Message,
    status_code=201,
    summary="Reply: 201 once queued for publishing, 202 when it waits for approval",
    **operation(
        "replies.write",
        404,
        responses={202: {"model": Message, "description": "Waits for a supervisor's approval"}},
    ),
)
def reply(
    session: SessionDep,
    clock: ClockDep,
    channels: ChannelsDep,
    principal: CurrentPrincipal,
    conversation_id: Id,
    body: ReplyIn,
) -> Any:
    visibility = None if body.public is None else ("public" if body.public else "private")
    draft = replies.draft_reply(
        session,
        clock,
        principal,
        conversation_id,
        body.text,
        visibility=visibility,
        channels=channels,
    )
    sent = replies.send_reply(session, clock, principal, draft.id, channels=channels)
    message = _message(sent, {principal.user_id: principal.email})
    if sent.status == "pending_approval":
        return JSONResponse(message.model_dump(mode="json"), status_code=202)
    return message


@router.post(
    "/conversations/{conversation_id}/reply-now",
    response_model=Message,
    status_code=201,
    summary="The reply box's send: refused (409) when a colleague replied meanwhile or holds it",
    **operation(
        "replies.write",
        404,
        409,
        responses={202: {"model": Message, "description": "Waits for a supervisor's approval"}},
    ),
)
def reply_now(
    session: SessionDep,
    clock: ClockDep,
    channels: ChannelsDep,
    principal: CurrentPrincipal,
    conversation_id: Id,
    body: ReplyNowIn,
) -> Any:
    """409's ``errors[0]``: ``{"conflict": "newer_reply", "reply": {id, author, text,
    status, created_at}}``, or ``{"conflict": "confirm" | "refuse", "assignee": {id, name,
    email}}`` (confirm: send again with ``confirm_other_assignee``)."""
    visibility = None if body.public is None else ("public" if body.public else "private")
    sent = collision.reply_now(
        session,
        clock,
        principal,
        conversation_id,
        body.text,
        seen_reply_id=body.seen_reply_id,
        visibility=visibility,
        confirm_other_assignee=body.confirm_other_assignee,
        channels=channels,
    )
    message = _message(sent, {principal.user_id: principal.email})
    if sent.status == "pending_approval":
        return JSONResponse(message.model_dump(mode="json"), status_code=202)
    return message


@router.post(
    "/replies/{reply_id}/approve",
    response_model=Message,
    summary="Approve a reply waiting for approval (it is queued at once)",
    **operation("replies.approve", 404),
)
def approve(
    session: SessionDep,
    clock: ClockDep,
    channels: ChannelsDep,
    principal: CurrentPrincipal,
    reply_id: Id,
) -> Message:
    approved = replies.approve_reply(session, clock, principal, reply_id, channels=channels)
    return _message(approved, _emails(session, {approved.author_id}))


@router.post(
    "/replies/{reply_id}/reject",
    response_model=Message,
    summary="Refuse a reply waiting for approval, saying why",
    **operation("replies.approve", 404),
)
def reject(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    reply_id: Id,
    body: RejectIn,
) -> Message:
    rejected = replies.reject_reply(session, clock, principal, reply_id, body.reason)
    return _message(rejected, _emails(session, {rejected.author_id}))
