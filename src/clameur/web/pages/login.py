"""``/login`` and ``/logout``.

There is no session before sign-in, so the sign-in form's CSRF token is a signed
double-submit: a random value in a short-lived cookie (``HttpOnly``, ``SameSite=Lax``) and
its HMAC under the deployment's key in the form. A cross-site page can neither read the
cookie nor compute the HMAC, so it cannot sign a victim into another account (login CSRF).

Every answer to a wrong e-mail or a wrong password is the same page, and both take one
argon2 verification (:func:`clameur.tenancy.auth.sign_in`). Failed attempts are written in
the request's unit of work, which is committed at the edge (the error page is a normal
response, not an exception), so the throttle counts them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from clameur.errors import ForbiddenError, TooManyAttemptsError
from clameur.tenancy import auth
from clameur.web.auth import (
    CSRF_FIELD,
    CurrentPage,
    absolute,
    check_csrf,
    clear_session_cookie,
    client_address,
    clock_of,
    cookie_secret,
    is_https,
    set_session_cookie,
    settings_of,
)
from clameur.web.deps import db_session
from clameur.web.i18n import gettext_for
from clameur.web.pages.common import forbidden, language, local_path, render

router = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "clameur_login_csrf"
LOGIN_COOKIE_SECONDS = 2 * 3600
"""How long a sign-in form stays usable."""


def _login_key(request: Request, session: Session) -> bytes:
    key: bytes | None = getattr(request.app.state, "login_csrf_key", None)
    if key is None:
        configured = settings_of(request).secret_key
        secret = f"login-csrf:{configured}" if configured else None
        key = (secret or auth.instance_secret(session, "login_csrf")).encode()
        request.app.state.login_csrf_key = key
    return key


def _form_token(key: bytes, nonce: str) -> str:
    digest = hmac.new(key, f"login:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def login_csrf_ok(request: Request, session: Session, submitted: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not submitted or len(nonce) > 100:
        return False
    return hmac.compare_digest(submitted, _form_token(_login_key(request, session), nonce))


def _form(
    request: Request,
    session: Session,
    *,
    email: str = "",
    next_path: str = "/",
    errors: list[tuple[str, str]] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The sign-in form with a fresh pre-session CSRF token (and its cookie)."""
    nonce = secrets.token_urlsafe(24)
    context = {
        "email": email,
        "next": next_path,
        "csrf_token": _form_token(_login_key(request, session), nonce),
        "errors": errors or [],
        "field_errors": {field: message for field, message in errors or [] if field},
    }
    response = render(request, "login.html", context, status_code=status_code, headers=headers)
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    session: Annotated[Session, Depends(db_session, scope="function")],
    next: str = "/",  # noqa: A002 - the query parameter's name
) -> HTMLResponse:
    return _form(request, session, next_path=local_path(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: Annotated[Session, Depends(db_session, scope="function")],
    email: Annotated[str, Form(max_length=400)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",  # noqa: A002 - the form field's name
) -> Response:
    _ = gettext_for(language(request))
    target = local_path(next)
    email = email.strip()

    def again(errors: list[tuple[str, str]], status: int, **headers: str) -> HTMLResponse:
        return _form(
            request,
            session,
            email=email,
            next_path=target,
            errors=errors,
            status_code=status,
            headers=headers or None,
        )

    if not login_csrf_ok(request, session, csrf_token):
        expired = _("The form has expired. Enter your e-mail address and password again.")
        return again([("", expired)], 403)
    missing = [
        (field, message)
        for field, value, message in (
            ("email", email, _("Enter your e-mail address.")),
            ("password", password, _("Enter your password.")),
        )
        if not value
    ]
    if missing:
        return again(missing, 422)
    outcome = auth.sign_in(
        session,
        clock_of(request),
        email,
        password,
        address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        absolute=absolute(request),
    )
    refused = outcome.refused
    if isinstance(refused, TooManyAttemptsError):
        minutes = max(1, math.ceil(refused.retry_after / 60))
        message = _("Too many sign-in attempts. Try again in %(minutes)s minutes.", minutes=minutes)
        return again([("", message)], 429, **{"Retry-After": str(refused.retry_after)})
    if refused is not None or outcome.signed_in is None:
        return again([("", _("The e-mail address or the password is wrong."))], 401)
    signed = outcome.signed_in
    previous = cookie_secret(request, session)
    if previous:  # the browser's earlier session ends here
        auth.sign_out(session, clock_of(request), previous)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, session, signed.secret)
    response.delete_cookie(
        LOGIN_COOKIE, path="/login", httponly=True, samesite="lax", secure=is_https(request)
    )
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(
    request: Request,
    page: CurrentPage,
    session: Annotated[Session, Depends(db_session, scope="function")],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    try:
        check_csrf(request, page.csrf_token, csrf_token)
    except ForbiddenError:
        return forbidden(request, page, session)
    auth.sign_out(session, clock_of(request), page.secret)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(request, response)
    return response
