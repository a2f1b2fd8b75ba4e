"""The approvals view: ``/approvals`` lists the replies waiting for approval, oldest first,
each with its context — the customer's message, the draft, who wrote it and why it needs
approval — and Approve / Reject (with a reason) for those who may approve
(``replies.approve``: supervisors, admins and the client's own viewers). Supervisors also
see the incidents' holding answers waiting for their approval. Live on ``sse:approvals``.

Everything goes through :mod:`clameur.care.replies` and :mod:`clameur.care.incidents` with
the page's principal: an agent sees the list but no buttons, and the service refuses them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care import replies as care_replies
from clameur.care.models import Conversation, ConversationEvent, Incident, Reply
from clameur.care.repository import Incidents
from clameur.db.repository import TenantRepository
from clameur.errors import ClameurError, NotFoundError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand, User
from clameur.tenancy.policy import allowed, authorize
from clameur.tenancy.principal import Principal
from clameur.web.auth import (
    CSRF_FIELD,
    CurrentPage,
    PageSession,
    channels_of,
    clock_of,
    page_session,
)
from clameur.web.pages.alerts_common import (
    DbSession,
    acting_page,
    bad_token,
    csrf_valid,
    is_htmx,
    refusal,
    toast,
    translator,
)
from clameur.web.pages.common import N_, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

SHOWN = 50
"""Replies listed, oldest first (the section's count says how many wait in all)."""
HOLDING_SHOWN = 20
REASON_LABELS = {
    "all": N_("every reply of this client is approved first"),
    "brand": N_("this brand's replies are approved first"),
    "p1": N_("a P1 conversation"),
    "incident": N_("an incident is open"),
}


def _by_id(session: Session, principal: Principal, model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    repo: TenantRepository[Any] = TenantRepository.of(session, principal, model)
    return {row.id: row for row in repo.all(repo.select().where(model.id.in_(sorted(ids))))}


def _users(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(sorted(ids))))
    return {uid: name or email for uid, name, email in rows}


def _reasons(session: Session, principal: Principal, pending: list[Reply]) -> dict[int, list[str]]:
    """Why each reply waits: what the timeline recorded when it was submitted."""
    conversation_ids = sorted({r.conversation_id for r in pending})
    if not conversation_ids:
        return {}
    events: TenantRepository[ConversationEvent] = TenantRepository.of(
        session, principal, ConversationEvent
    )
    wanted = {r.id for r in pending}
    out: dict[int, list[str]] = {}
    for event in events.all(
        events.select()
        .where(
            ConversationEvent.conversation_id.in_(conversation_ids),
            ConversationEvent.kind == "reply_submitted",
        )
        .order_by(ConversationEvent.id)
    ):
        data = event.data or {}
        reply_id = data.get("reply_id")
        if reply_id in wanted:
            out[reply_id] = [str(r) for r in data.get("reasons") or []]
    return out


def _messages(
    session: Session, principal: Principal, pending: list[Reply]
) -> dict[tuple[int, str], Mention]:
    """The customer's message each reply answers, in one statement."""
    keys = {(r.conversation_id, r.in_reply_to) for r in pending if r.in_reply_to}
    if not keys:
        return {}
    repo: TenantRepository[Mention] = TenantRepository.of(session, principal, Mention)
    rows = repo.all(
        repo.select().where(
            Mention.conversation_id.in_(sorted({c for c, _ in keys})),
            Mention.external_id.in_(sorted({e for _, e in keys if e})),
        )
    )
    found = {(m.conversation_id or 0, m.external_id): m for m in rows}
    return {key: found[key] for key in keys if key in found}


def items(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """The replies waiting for approval with their context, a few statements in all."""
    pending = list(care_replies.pending_approvals(session, principal.tenant_id, limit=SHOWN))
    conversations = _by_id(session, principal, Conversation, {r.conversation_id for r in pending})
    authors = _by_id(session, principal, Author, {c.author_id for c in conversations.values()})
    brands = _by_id(
        session, principal, Brand, {c.brand_id for c in conversations.values() if c.brand_id}
    )
    incidents = _by_id(
        session, principal, Incident, {r.incident_id for r in pending if r.incident_id}
    )
    writers = _users(session, {r.author_id for r in pending if r.author_id})
    messages = _messages(session, principal, pending)
    reasons = _reasons(session, principal, pending)
    out = []
    for reply in pending:
        conversation = conversations.get(reply.conversation_id)
        if conversation is None:
            continue
        brand = brands.get(conversation.brand_id or 0)
        incident = incidents.get(reply.incident_id or 0)
        out.append(
            {
                "reply": reply,
                "conversation": conversation,
                "author": authors.get(conversation.author_id),
                "brand": brand.name if brand is not None else None,
                "incident": incident,
                "writer": writers.get(reply.author_id or 0),
                "message": messages.get((reply.conversation_id, reply.in_reply_to or "")),
                "reasons": reasons.get(reply.id, []),
                "error": None,
                "reason_text": "",
            }
        )
    return out


def _holding(session: Session, principal: Principal) -> list[Incident]:
    """Open incidents whose holding answer waits for a supervisor (supervisors only)."""
    if not allowed(principal, "incidents.manage"):
        return []
    repo = Incidents.of(session, principal)
    return list(
        repo.all(
            repo.select()
            .where(
                Incident.status == "open",
                Incident.holding_answer.is_not(None),
                Incident.approved_by.is_(None),
            )
            .order_by(Incident.id)
            .limit(HOLDING_SHOWN)
        )
    )


def _context(
    request: Request, page: PageSession, session: Session, principal: Principal
) -> dict[str, Any]:
    _ = translator(request, page)
    authorize(principal, "conversations.read")
    return {
        "section": "approvals",
        "live": True,
        "items": items(session, principal),
        "holding": _holding(session, principal),
        "shown": SHOWN,
        "reason_name": lambda r: _(REASON_LABELS[r]) if r in REASON_LABELS else r,
        "errors": [],
    }


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, page: CurrentPage, session: DbSession) -> HTMLResponse:
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        context = _context(request, page, session, principal)
    except ClameurError as exc:
        return refusal(request, page, session, exc)
    return render(request, "approvals.html", context, page=page, session=session)


@router.get("/approvals/list", response_class=HTMLResponse)
def approvals_list(request: Request, page: CurrentPage, session: DbSession) -> HTMLResponse:
    """The list alone (fetched again on ``sse:approvals``)."""
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        context = _context(request, page, session, principal)
    except ClameurError as exc:
        return refusal(request, page, session, exc)
    return render(request, "approvals/_list.html", context, page=page, session=session)


Token = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


def _decided(
    request: Request, page: PageSession, session: Session, reply: Reply, message: str
) -> Response:
    if is_htmx(request):
        context = {"reply": reply, "message": message}
        return render(
            request,
            "approvals/_done.html",
            context,
            page=page,
            session=None,
            headers=toast(message),
        )
    return RedirectResponse("/approvals", status_code=303)


@router.post("/approvals/{reply_id}/approve", response_class=HTMLResponse)
def approve(
    request: Request, reply_id: int, page: CurrentPage, session: DbSession, csrf_token: Token = ""
) -> Response:
    """Approve the reply; it is sent at once (``replies.approve``)."""
    if not csrf_valid(request, page, csrf_token):
        return bad_token(request, page, session, back="/approvals")
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        channels = channels_of(request)
        reply = care_replies.approve_reply(
            session, clock_of(request), principal, reply_id, channels=channels
        )
    except ClameurError as exc:
        return refusal(request, page, session, exc, back="/approvals")
    _ = translator(request, page)
    message = _("Reply approved: it is on its way to the customer.")
    return _decided(request, page, session, reply, message)


@router.post("/approvals/{reply_id}/reject", response_class=HTMLResponse)
def reject(
    request: Request,
    reply_id: int,
    page: CurrentPage,
    session: DbSession,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Token = "",
) -> Response:
    """Send the reply back to its writer with a reason (``replies.approve``)."""
    if not csrf_valid(request, page, csrf_token):
        return bad_token(request, page, session, back="/approvals")
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    _ = translator(request, page)
    if not reason.strip():
        return _reason_missing(request, page, session, principal, reply_id)
    try:
        reply = care_replies.reject_reply(session, clock_of(request), principal, reply_id, reason)
    except ClameurError as exc:
        return refusal(request, page, session, exc, back="/approvals")
    return _decided(request, page, session, reply, _("Reply sent back to its writer."))


def _reason_missing(
    request: Request, page: PageSession, session: Session, principal: Principal, reply_id: int
) -> Response:
    """The reply's form again with the message beside the reason (GOV.UK)."""
    _ = translator(request, page)
    message = _("Say why you send this reply back: its writer reads it.")
    try:
        context = _context(request, page, session, principal)
    except ClameurError as exc:
        return refusal(request, page, session, exc, back="/approvals")
    chosen = next((i for i in context["items"] if i["reply"].id == reply_id), None)
    if chosen is None:
        gone = NotFoundError(f"reply {reply_id} is not waiting for approval")
        return refusal(request, page, session, gone, back="/approvals")
    chosen["error"] = message
    if is_htmx(request):  # htmx swaps only a 2xx: the item comes back with its message
        context["item"] = chosen
        return render(request, "approvals/_item.html", context, page=page, session=None)
    context["errors"] = [(f"reason-{reply_id}", message)]
    return render(request, "approvals.html", context, page=page, session=session, status_code=422)
