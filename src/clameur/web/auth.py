"""Who is asking: one dependency resolves the request's principal.

- The API (``/api/v1``) takes ``Authorization: Bearer <token>``; a browser that is signed in
  may also call it with its session cookie, and then must send its CSRF token in
  ``X-CSRF-Token`` on every state-changing method.
- Pages take the session cookie (see :func:`page_session`); without one they redirect to
  ``/login``.

The cookie carries ``<secret>.<signature>``: the signature (HMAC-SHA256 with the
deployment's key) refuses forged cookies before any lookup; the database keeps only the
secret's SHA-256 (:mod:`clameur.tenancy.auth`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Final

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from clameur.care.channels import ChannelRegistry
from clameur.clock import Clock
from clameur.config import Settings
from clameur.db import bind_tenant
from clameur.errors import ForbiddenError, NotFoundError, UnauthenticatedError
from clameur.tenancy import auth
from clameur.tenancy.audit import audit
from clameur.tenancy.models import AuthSession, User
from clameur.tenancy.principal import Principal
from clameur.web.deps import db_session

COOKIE = "clameur_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A page was asked without a live session: the app answers with a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def clock_of(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def channels_of(request: Request) -> ChannelRegistry:
    """The channels replies leave through (the tenant's sources): what each allows."""
    channels: ChannelRegistry = request.app.state.channels
    return channels


def _key(request: Request, session: Session) -> bytes:
    key: bytes | None = getattr(request.app.state, "cookie_key", None)
    if key is None:
        configured = settings_of(request).secret_key
        key = (configured or auth.instance_secret(session, "cookie")).encode()
        request.app.state.cookie_key = key
    return key


def _signature(key: bytes, secret: str) -> str:
    digest = hmac.new(key, secret.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def cookie_secret(request: Request, session: Session) -> str | None:
    """The session secret of a validly signed cookie, else None."""
    raw = request.cookies.get(COOKIE, "")
    secret, _, signature = raw.rpartition(".")
    if not secret or len(raw) > 200:
        return None
    if not hmac.compare_digest(signature, _signature(_key(request, session), secret)):
        return None
    return secret


def is_https(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return settings_of(request).trust_proxy and forwarded == "https"


def client_address(request: Request) -> str:
    if settings_of(request).trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded[:64]
    return (request.client.host if request.client else "unknown")[:64]


def set_session_cookie(request: Request, response: Response, session: Session, secret: str) -> None:
    settings = settings_of(request)
    response.set_cookie(
        COOKIE,
        f"{secret}.{_signature(_key(request, session), secret)}",
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )


def idle(request: Request) -> timedelta:
    return timedelta(minutes=settings_of(request).session_idle_minutes)


def absolute(request: Request) -> timedelta:
    return timedelta(hours=settings_of(request).session_absolute_hours)


@dataclass(frozen=True, slots=True)
class PageSession:
    """A signed-in browser: its session row, the user, and the principal in the tenant it
    works in (None when the user holds no role anywhere)."""

    row: AuthSession
    user: User
    principal: Principal | None
    secret: str

    @property
    def csrf_token(self) -> str:
        return self.row.csrf_token


def _live_session(request: Request, session: Session) -> PageSession | None:
    secret = cookie_secret(request, session)
    if secret is None:
        return None
    try:
        row, user = auth.session_for(session, clock_of(request), secret, idle=idle(request))
    except UnauthenticatedError:
        return None
    principal = auth.session_principal(session, row, user)
    return PageSession(row=row, user=user, principal=principal, secret=secret)


def page_session(
    request: Request, session: Annotated[Session, Depends(db_session, scope="function")]
) -> PageSession:
    """The signed-in browser, or a redirect to ``/login`` (:class:`LoginRequired`)."""
    found = _live_session(request, session)
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    request.state.principal = found.principal
    if found.principal is not None:
        bind_tenant(session, found.principal.tenant_id)
    _check_path_ids(request)
    return found


PAGE_MAX_ID: Final = 2**63 - 1
"""Ids beyond the databases' 64-bit integers name nothing (SQLite's driver would raise)."""


def _check_path_ids(request: Request) -> None:
    """A page's ``…_id`` path parameters: one beyond 64 bits is a 404, as a missing one is."""
    for name, value in request.path_params.items():
        text = str(value)
        if name.endswith("_id") and text.isdigit() and int(text) > PAGE_MAX_ID:
            raise NotFoundError(f"{name.removesuffix('_id')} {text[:40]} not found")


def check_csrf(request: Request, expected: str, submitted: str | None) -> None:
    if request.method in SAFE_METHODS:
        return
    if not submitted or not hmac.compare_digest(submitted, expected):
        raise ForbiddenError("missing or wrong CSRF token; reload the page and try again")


def api_principal(
    request: Request, session: Annotated[Session, Depends(db_session, scope="function")]
) -> Principal:
    """The principal of an API request: its bearer token, or a signed-in browser's session
    (with the CSRF header on writes). 401 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if header:
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("use Authorization: Bearer <token>")
        principal = auth.token_principal(session, clock_of(request), token.strip())
        if request.method not in SAFE_METHODS:
            _audit_token_write(request, session, principal)
    else:
        found = _live_session(request, session)
        if found is None:
            raise UnauthenticatedError("authentication required: send a bearer token")
        if found.principal is None:
            raise UnauthenticatedError("this account holds no role in any tenant")
        check_csrf(request, found.csrf_token, request.headers.get(CSRF_HEADER))
        principal = found.principal
    request.state.principal = principal
    bind_tenant(session, principal.tenant_id)
    return principal


def _audit_token_write(request: Request, session: Session, principal: Principal) -> None:
    """A write made with a token, in the request's transaction (kept when it commits)."""
    from clameur.tenancy.models import ApiToken

    token = session.get(ApiToken, principal.token_id) if principal.token_id else None
    audit(
        session,
        tenant_id=principal.tenant_id,
        at=clock_of(request).now(),
        actor_id=principal.actor_id,
        action="token.write",
        object_type="api_token",
        object_id=principal.token_id,
        data={
            "via": "token",
            "token": f"clm_{token.prefix}" if token else None,
            "method": request.method,
            "path": request.url.path[:300],
        },
    )


CurrentPrincipal = Annotated[Principal, Depends(api_principal)]
CurrentPage = Annotated[PageSession, Depends(page_session)]
