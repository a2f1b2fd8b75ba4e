"""Errors as problem JSON (RFC 9457) on the API; a redirect to ``/login`` for pages."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from clameur.errors import (
    AlreadyExistsError,
    ClameurError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    TooManyAttemptsError,
    UnauthenticatedError,
)
from clameur.web.auth import LoginRequired

MEDIA_TYPE = "application/problem+json"
_STATUS: tuple[tuple[type[ClameurError], int], ...] = (
    (UnauthenticatedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (AlreadyExistsError, 409),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (TooManyAttemptsError, 429),
)


def problem(status: int, detail: str, *, kind: str | None = None, **extra: Any) -> JSONResponse:
    title = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"https://clameur.dev/problems/{kind or title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="clameur"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(exc: ClameurError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


async def _clameur_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClameurError)
    status = status_of(exc)
    extra: dict[str, Any] = {}
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        extra["errors"] = [detail]
    elif isinstance(exc, InvalidInputError) and exc.where:
        extra["errors"] = [{"loc": [exc.where], "msg": exc.reason}]
    if isinstance(exc, ForbiddenError) and exc.action:
        extra["action"] = exc.action
    if status in (403, 404) and _wants_html(request):  # a person followed a link or typed it
        page = _FORBIDDEN_PAGE if status == 403 else _NOT_FOUND_PAGE
        return HTMLResponse(page, status_code=status)
    response = problem(status, str(exc), **extra)
    if isinstance(exc, TooManyAttemptsError):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


_NOT_FOUND_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Page introuvable — Clameur</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/clameur.css"></head>
<body><main class="narrow"><h1>Page introuvable / Page not found</h1>
<p><a href="/">Retour à l'accueil / Back to the start page</a></p></main></body></html>
"""


_FORBIDDEN_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Accès refusé — Clameur</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/clameur.css"></head>
<body><main class="narrow"><h1>Accès refusé / Access denied</h1>
<p>Votre rôle dans ce client ne donne pas accès à cette page. Demandez à un superviseur ou
à un administrateur si vous en avez besoin.</p>
<p lang="en">Your role in this client does not give access to this page. Ask a supervisor
or an administrator if you need it.</p>
<p><a href="/">Retour à la boîte de réception / Back to the inbox</a></p></main></body></html>
"""


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(("/api/", "/static/")) and "text/html" in request.headers.get(
        "accept", ""
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and _wants_html(request):
        return HTMLResponse(_NOT_FOUND_PAGE, status_code=404)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    response = problem(exc.status_code, detail)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(error.get("loc", ())),
            "msg": str(error.get("msg", "")),
            "type": error.get("type"),
        }
        for error in exc.errors()
    ]
    return problem(422, "the request is not valid", kind="validation", errors=errors)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    target = exc.next_path if exc.next_path.startswith("/") else "/"
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ClameurError, _clameur_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(LoginRequired, _login_required)
