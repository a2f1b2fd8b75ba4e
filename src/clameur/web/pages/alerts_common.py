"""What the supervision pages share (alerts, campaign review, incidents, approvals): the
request's session, how an action answers a plain form and an htmx request, and how a
refusal is shown.

An action answers an htmx request with a fragment (and a toast in ``HX-Trigger``); a plain
form (no JavaScript) with a redirect to the page it came from. A refused action answers
htmx with its status and the message in ``X-Clameur-Message`` (``clameur.js`` shows it as
a toast) and a plain form with a short page saying why (:func:`refused`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from clameur.errors import ClameurError, ForbiddenError, InvalidInputError, NotFoundError
from clameur.tenancy.principal import Principal
from clameur.web import i18n
from clameur.web.auth import CSRF_HEADER, PageSession, check_csrf
from clameur.web.deps import db_session
from clameur.web.pages.common import language, local_path, render, working_page

DbSession = Annotated[Session, Depends(db_session, scope="function")]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request", "").lower() == "true"


def translator(request: Request, page: PageSession) -> i18n.Gettext:
    """``_`` in the page's language (for messages made in Python: toasts, errors)."""
    return i18n.gettext_for(language(request, page.user))


def toast(message: str) -> dict[str, str]:
    """The ``HX-Trigger`` header that shows ``message`` as a toast (ASCII-escaped JSON)."""
    return {"HX-Trigger": json.dumps({"toast": message})}


def csrf_valid(request: Request, page: PageSession, form_token: str | None) -> bool:
    try:
        check_csrf(request, page.csrf_token, request.headers.get(CSRF_HEADER) or form_token)
    except ForbiddenError:
        return False
    return True


def acting_page(
    request: Request, page: PageSession, session: Session
) -> tuple[PageSession, Principal] | HTMLResponse:
    """The page session and its principal, or the page to answer instead (no role)."""
    found = working_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    return found, found.principal


def message_of(request: Request, page: PageSession, exc: ClameurError) -> str:
    """What to tell the person about a refused action, in their language where the
    refusal is a known one (a service's own reason otherwise)."""
    _ = translator(request, page)
    if isinstance(exc, ForbiddenError):
        return _("Your role does not allow this action.")
    if isinstance(exc, NotFoundError):
        return _("It no longer exists, or it belongs to another client.")
    if isinstance(exc, InvalidInputError):
        return exc.reason
    return str(exc)


def status_for(exc: ClameurError) -> int:
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    return 422


def refused(
    request: Request,
    page: PageSession,
    session: Session,
    *,
    status_code: int,
    message: str,
    back: str = "/",
) -> HTMLResponse:
    """A refused action: the status and message for htmx, a short page for a plain form."""
    if is_htmx(request):
        return HTMLResponse(
            "", status_code=status_code, headers={"X-Clameur-Message": quote(message)}
        )
    context = {"message": message, "back": local_path(back), "section": None}
    return render(
        request,
        "alerts_refused.html",
        context,
        page=page,
        session=session,
        status_code=status_code,
    )


def refusal(
    request: Request, page: PageSession, session: Session, exc: ClameurError, *, back: str = "/"
) -> HTMLResponse:
    return refused(
        request,
        page,
        session,
        status_code=status_for(exc),
        message=message_of(request, page, exc),
        back=back,
    )


def bad_token(
    request: Request, page: PageSession, session: Session, *, back: str = "/"
) -> HTMLResponse:
    _ = translator(request, page)
    message = _(
        "This form has expired or did not come from this page. Reload the page and try again."
    )
    return refused(request, page, session, status_code=403, message=message, back=back)


def missing(request: Request, page: PageSession, session: Session, what: str) -> HTMLResponse:
    """The 404 page of the supervision areas (another tenant's ids too: the same page)."""
    context = {"what": what, "section": None}
    return render(
        request, "alerts_missing.html", context, page=page, session=session, status_code=404
    )


def done(
    request: Request,
    page: PageSession,
    session: Session,
    *,
    back: str,
    message: str,
    fragment: str | None = None,
    context: dict[str, Any] | None = None,
) -> Response:
    """A successful action: the fragment (htmx, with a toast) or a redirect to ``back``."""
    if is_htmx(request) and fragment is not None:
        return render(
            request,
            fragment,
            context or {},
            page=page,
            session=session,
            headers=toast(message),
        )
    return RedirectResponse(local_path(back), status_code=303)


def parse_time(value: Any) -> datetime | None:
    """An ISO time from a service's JSON-like item (None when absent or malformed)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
