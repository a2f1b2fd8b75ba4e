"""The conversation page (``/c/{id}``): the thread, the reply box, the contact beside it.

``GET /c/{id}`` is the page; ``GET /c/{id}/live`` its live regions (the thread, with the
header and the side pane out of band) that the page reads again on the SSE event
``conv-<id>`` and after each of the agent's actions; ``GET /c/{id}/suggestions`` the
suggested replies (read after the page, they cost a ranking); ``GET /c/{id}/canned`` the
canned replies. ``POST /c/{id}/reply`` sends through
:func:`clameur.care.collision.reply_now`: a colleague's reply sent meanwhile, a colleague
holding the conversation (confirm or refuse, per team) come back to the reply box with the
agent's text kept. ``POST /c/{id}/expand`` expands ``/shortcodes`` for the box's script.
The other actions (status, snooze, assignment, notes, tags, handover, moderation,
approvals) are in :mod:`clameur.web.pages.conversation_actions`.
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from clameur.care.canned import MAX_TEXT, conversation_variables, expand_shortcodes, render
from clameur.care.collision import AssignedToOther, ConfirmationRequired, NewerReply, reply_now
from clameur.care.repository import Conversations
from clameur.care.suggest import suggest_for_conversation
from clameur.errors import ClameurError, ForbiddenError, InvalidInputError, NotFoundError
from clameur.tenancy.policy import authorize
from clameur.web.auth import (
    CSRF_FIELD,
    CurrentPage,
    PageSession,
    channels_of,
    clock_of,
    page_session,
)
from clameur.web.pages import conversation_actions
from clameur.web.pages.common import render as render_page
from clameur.web.pages.conversation_base import (
    DbSession,
    check_form_csrf,
    error_message,
    gettext,
    is_htmx,
    load_view,
    not_found,
    page_response,
    principal_of,
    reply_box_state,
    toast_error,
)
from clameur.web.problems import status_of

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])
router.include_router(conversation_actions.router)

SUGGESTIONS = 4
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


@router.get("/c/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request, conversation_id: int, page: CurrentPage, session: DbSession
) -> Response:
    return page_response(request, page, session, conversation_id)


@router.get("/c/{conversation_id}/live", response_class=HTMLResponse)
def live_regions(
    request: Request, conversation_id: int, page: CurrentPage, session: DbSession
) -> Response:
    """The thread, with the header and the side pane out of band (``hx-swap-oob``)."""
    found = principal_of(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        view = load_view(request, session, principal, conversation_id)
    except NotFoundError:
        return not_found(request, page, None)
    context = {"v": view, "c": view.conversation, "oob": True}
    return render_page(request, "conversation/live.html", context, page=page, session=None)


@router.get("/c/{conversation_id}/suggestions", response_class=HTMLResponse)
def suggestions(
    request: Request, conversation_id: int, page: CurrentPage, session: DbSession
) -> Response:
    """Suggested replies for the customer's latest message (past answers and canned
    replies, :func:`clameur.care.suggest.suggest_for_conversation`), filled in for this
    customer and agent."""
    found = principal_of(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        authorize(principal, "replies.write")
        conversation = Conversations.of(session, principal).get(conversation_id)
    except ForbiddenError:
        return Response(status_code=204)
    except NotFoundError:
        return not_found(request, page, None)
    found_suggestions = suggest_for_conversation(
        session, principal.tenant_id, conversation.id, k=SUGGESTIONS
    )
    variables = conversation_variables(
        session, principal.tenant_id, conversation.id, agent_id=principal.user_id
    )
    items: list[dict[str, Any]] = []
    for s in found_suggestions:
        text = s.text
        with contextlib.suppress(InvalidInputError):  # unfillable: shown as written
            text = render(s.text, variables)
        items.append(
            {"text": text, "source": s.source, "name": s.name, "uses": s.uses, "score": s.score}
        )
    context = {"suggestions": items, "conversation_id": conversation.id}
    return render_page(request, "conversation/suggestions.html", context, page=page, session=None)


@router.get("/c/{conversation_id}/canned", response_class=HTMLResponse)
def canned(
    request: Request, conversation_id: int, page: CurrentPage, session: DbSession
) -> Response:
    found = principal_of(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        view = load_view(request, session, principal, conversation_id, with_canned=True)
    except NotFoundError:
        return not_found(request, page, None)
    context = {"v": view, "c": view.conversation, "box": reply_box_state(view)}
    return render_page(request, "conversation/canned.html", context, page=page, session=None)


@router.post("/c/{conversation_id}/expand")
def expand(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """``text`` with its ``/shortcodes`` replaced (:func:`clameur.care.canned.expand_shortcodes`):
    JSON ``{"text": …}``."""
    refused = check_form_csrf(request, page, session, csrf_token)
    if refused is not None:
        return refused
    found = principal_of(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        expanded = expand_shortcodes(session, principal, conversation_id, text)
    except ClameurError as exc:
        return JSONResponse(
            {"error": error_message(request, page, exc)}, status_code=status_of(exc)
        )
    return JSONResponse({"text": expanded})


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) <= 18 else None


@router.post("/c/{conversation_id}/reply", response_class=HTMLResponse)
def send_reply(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    text: Annotated[str, Form(max_length=MAX_TEXT + 1000)] = "",
    visibility: Annotated[str, Form(max_length=16)] = "",
    lang: Annotated[str, Form(max_length=8)] = "",
    seen_reply_id: Annotated[str, Form(max_length=20)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Draft and send in one step, under the collision rules (see the module)."""
    refused = check_form_csrf(request, page, session, csrf_token)
    if refused is not None:
        return refused
    found = principal_of(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    _ = gettext(request, page)
    seen = _int(seen_reply_id)
    kept: dict[str, Any] = {
        "text": text,
        "visibility": visibility or None,
        "lang": lang or None,
        "seen_reply_id": seen,
    }
    status, conflict, error = 200, None, None
    try:
        if not text.strip():
            authorize(principal, "replies.write")  # a viewer is refused before the form
            raise InvalidInputError(_("Write a reply before sending."), where="text")
        expanded = expand_shortcodes(session, principal, conversation_id, text)
        sent = reply_now(
            session,
            clock_of(request),
            principal,
            conversation_id,
            expanded,
            seen_reply_id=seen,
            visibility=visibility or None,
            confirm_other_assignee=confirm == "1",
            channels=channels_of(request),
        )
    except NewerReply as exc:
        status = 409
        conflict = {"kind": "newer_reply", "reply": exc.reply}
        kept["seen_reply_id"] = exc.reply.get("id")  # now seen: sending again goes out
    except ConfirmationRequired as exc:
        status = 409
        conflict = {"kind": "confirm", "assignee": _who(exc)}
    except AssignedToOther as exc:
        status = 409
        conflict = {"kind": "refuse", "assignee": _who(exc)}
    except InvalidInputError as exc:
        status = 422
        error = exc.reason if exc.where == "text" and not text.strip() else None
        error = error or error_message(request, page, exc)
    except NotFoundError:
        return not_found(request, page, session)
    except ForbiddenError as exc:
        if is_htmx(request):
            return toast_error(request, page, 403, error_message(request, page, exc))
        return page_response(
            request,
            page,
            session,
            conversation_id,
            status_code=403,
            page_error=error_message(request, page, exc),
        )
    if status != 200:  # refused before anything was written: the text comes back
        return _box(request, page, session, conversation_id, status, kept, conflict, error)
    if sent.status == "pending_approval":
        message = _("Your reply waits for a supervisor's approval.")
    else:
        message = _("Reply sent: it is being published.")
    if not is_htmx(request):
        return RedirectResponse(f"/c/{conversation_id}#reply", status_code=303)
    view = load_view(request, session, principal, conversation_id, with_canned=True)
    box = reply_box_state(view, lang=lang or None, seen_reply_id=sent.id)
    trigger = {"toast": message, "conv-changed": True, "reply-sent": conversation_id}
    return render_page(
        request,
        "conversation/reply_box.html",
        {"v": view, "c": view.conversation, "box": box},
        page=page,
        session=None,
        headers={"HX-Trigger": json.dumps(trigger)},
    )


def _who(exc: AssignedToOther) -> str:
    person = exc.assignee or {}
    return str(person.get("name") or person.get("email") or person.get("id") or "?")


def _box(
    request: Request,
    page: PageSession,
    session: Session,
    conversation_id: int,
    status: int,
    kept: dict[str, Any],
    conflict: dict[str, Any] | None,
    error: str | None,
) -> Response:
    """The reply box again, the agent's text kept, with why it did not go."""
    found = principal_of(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        view = load_view(request, session, principal, conversation_id, with_canned=True)
    except NotFoundError:
        return not_found(request, page, session)
    box = reply_box_state(view, error=error, conflict=conflict, **kept)
    if not is_htmx(request):
        return page_response(request, page, session, conversation_id, status_code=status, box=box)
    return render_page(
        request,
        "conversation/reply_box.html",
        {"v": view, "c": view.conversation, "box": box},
        page=page,
        session=None,
        status_code=status,
    )
