"""What the conversation page's routes share: the principal, the channel, the view's
context, and the answers to a refused action (a page for a plain form, a toast for htmx).

Every write is a form post. Sent by htmx (``HX-Request``), it answers a fragment or an
empty body with ``HX-Trigger`` (a toast, and ``conv-changed`` so the page's live regions
read themselves again); sent by a browser without script, it answers a redirect back to
the conversation (post/redirect/get) or the page with the error shown.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from clameur.care.channels import Channel
from clameur.errors import ClameurError, ForbiddenError, InvalidInputError, NotFoundError
from clameur.tenancy.principal import Principal
from clameur.web import i18n
from clameur.web.auth import CSRF_HEADER, PageSession, channels_of, check_csrf, clock_of
from clameur.web.deps import db_session
from clameur.web.pages import conversation_view
from clameur.web.pages.common import forbidden, language, render, working_page
from clameur.web.pages.live import others_on
from clameur.web.problems import status_of

DbSession = Annotated[Session, Depends(db_session, scope="function")]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def gettext(request: Request, page: PageSession) -> i18n.Gettext:
    return i18n.gettext_for(language(request, page.user))


def channel_for(request: Request, source: str, tenant_id: int) -> Channel:
    """The channel that publishes the tenant's replies on ``source`` (what it allows:
    visibility, moderation)."""
    return channels_of(request).for_tenant(source, tenant_id)


def principal_of(
    request: Request, page: PageSession, session: Session
) -> tuple[PageSession, Principal] | HTMLResponse:
    found = working_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    return found, found.principal


def not_found(request: Request, page: PageSession, session: Session | None) -> Response:
    if is_htmx(request):
        _ = gettext(request, page)
        return toast_error(request, page, 404, _("This conversation is not in this client."))
    return render(
        request,
        "conversation/not_found.html",
        {"section": "inbox"},
        status_code=404,
        page=page,
        session=session,
    )


def check_form_csrf(
    request: Request, page: PageSession, session: Session, form_token: str
) -> Response | None:
    try:
        check_csrf(request, page.csrf_token, request.headers.get(CSRF_HEADER) or form_token)
    except ForbiddenError:
        return _csrf_answer(request, page, session)
    return None


def _csrf_answer(request: Request, page: PageSession, session: Session) -> Response:
    if is_htmx(request):
        _ = gettext(request, page)
        return toast_error(request, page, 403, _("This page has expired: reload it and try again."))
    return forbidden(request, page, session)


def toast_error(request: Request, page: PageSession, status: int, message: str) -> Response:
    """A refused htmx action: the status, and the message clameur.js shows as a toast."""
    return Response(
        status_code=status, headers={"X-Clameur-Message": quote(message[:500], safe="")}
    )


def error_message(request: Request, page: PageSession, exc: ClameurError) -> str:
    """What the agent reads when a service refuses (in their language where we know why)."""
    _ = gettext(request, page)
    if isinstance(exc, ForbiddenError):
        return _("Your role may not do this.")
    if isinstance(exc, NotFoundError):
        return _("This conversation, or what the action names, no longer exists.")
    if isinstance(exc, InvalidInputError):
        return _("Refused: %(reason)s", reason=exc.reason)
    return _("Refused: %(reason)s", reason=str(exc))


def done(
    request: Request,
    page: PageSession,
    conversation_id: int,
    message: str,
    *,
    anchor: str = "",
    events: dict[str, Any] | None = None,
) -> Response:
    """A successful action: htmx gets a toast and ``conv-changed``; a plain form a redirect
    back to the conversation."""
    if is_htmx(request):
        trigger = {"toast": message, "conv-changed": True, **(events or {})}
        return Response(status_code=200, headers={"HX-Trigger": json.dumps(trigger)})
    return RedirectResponse(f"/c/{conversation_id}{anchor}", status_code=303)


def refused(
    request: Request,
    page: PageSession,
    session: Session,
    conversation_id: int,
    exc: ClameurError,
) -> Response:
    """A service refused the action: a toast for htmx; for a plain form the page, with the
    message on top (GOV.UK's error summary), with the error's status."""
    if isinstance(exc, NotFoundError) and not is_htmx(request):
        return not_found(request, page, session)
    status = status_of(exc)
    message = error_message(request, page, exc)
    if is_htmx(request):
        return toast_error(request, page, status, message)
    return page_response(
        request, page, session, conversation_id, status_code=status, page_error=message
    )


def page_response(
    request: Request,
    page: PageSession,
    session: Session,
    conversation_id: int,
    *,
    status_code: int = 200,
    page_error: str | None = None,
    box: dict[str, Any] | None = None,
) -> Response:
    """The whole conversation page (404 outside the tenant)."""
    found = principal_of(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        view = load_view(request, session, principal, conversation_id, with_canned=True)
    except NotFoundError:
        return not_found(request, page, session)
    people = others_on(request, session, [view.conversation.id], principal.user_id)
    context = {
        "section": "inbox",
        "live": True,
        "people": people.get(view.conversation.id, []),
        "conversation_id": view.conversation.id,
        "v": view,
        "c": view.conversation,
        "box": box or reply_box_state(view),
        "page_error": page_error,
    }
    return render(
        request,
        "conversation.html",
        context,
        page=page,
        session=session,
        status_code=status_code,
    )


def load_view(
    request: Request,
    session: Session,
    principal: Principal,
    conversation_id: int,
    *,
    with_canned: bool = False,
) -> conversation_view.View:
    return conversation_view.load(
        session,
        principal,
        conversation_id,
        clock_of(request).now(),
        lambda source: channel_for(request, source, principal.tenant_id),
        with_canned=with_canned,
    )


def reply_box_state(
    view: conversation_view.View,
    *,
    text: str = "",
    visibility: str | None = None,
    lang: str | None = None,
    seen_reply_id: int | None = None,
    error: str | None = None,
    conflict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the reply box shows: the text kept, the choices, and a refusal to show."""
    default = "public" if view.supports_public else "private"
    return {
        "text": text,
        "visibility": visibility or default,
        "lang": lang or (view.conversation.lang or "").split("-")[0] or None,
        "seen_reply_id": seen_reply_id if seen_reply_id is not None else view.seen_reply_id,
        "error": error,
        "conflict": conflict,
    }
