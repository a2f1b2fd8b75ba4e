"""What every REST v1 route shares: the session, the clock, the role check, the documented
errors and security, and the audit tag of writes.

A route declares its policy action once, in its decorator::

    @router.post("/alerts/{alert_id}/resolve", **operation("alerts.manage", 404, 422))

:func:`operation` adds a dependency that resolves the principal and checks the action
against the policy table (so a role that may not act gets 403 before its input is even
read), documents the problem responses (401, 403 and the listed codes) and the bearer
scheme, and records the action in the spec as ``x-clameur-action`` (the access test reads it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyCookie, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import event
from sqlalchemy.orm import Session

from clameur.care.channels import ChannelRegistry
from clameur.clock import Clock
from clameur.errors import InvalidInputError
from clameur.tenancy.models import ApiToken, AuditEntry
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal
from clameur.web.auth import COOKIE, SAFE_METHODS, CurrentPrincipal, channels_of, clock_of
from clameur.web.deps import db_session
from clameur.web.problems import MEDIA_TYPE

ACTION_KEY = "x-clameur-action"
"""The spec's extension naming an operation's policy action (absent: any signed-in role)."""

SessionDep = Annotated[Session, Depends(db_session, scope="function")]
MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID, description="A numeric id.")]
"""A path id: within the database's 64-bit integers."""


def _clock(request: Request) -> Clock:
    return clock_of(request)


ClockDep = Annotated[Clock, Depends(_clock)]


def _channels(request: Request) -> ChannelRegistry:
    return channels_of(request)


ChannelsDep = Annotated[ChannelRegistry, Depends(_channels)]
"""The channels replies leave through: what each network allows (visibility, moderation)."""

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token: `clameur token create --tenant SLUG --user EMAIL` or "
    "POST /api/v1/tokens. The token's user and tenant decide what it sees.",
)
session_cookie = APIKeyCookie(
    name=COOKIE,
    auto_error=False,
    scheme_name="session",
    description="A signed-in browser's session (writes also need the X-CSRF-Token header).",
)


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str = Field(description="What went wrong, for a person.")
    errors: list[dict[str, Any]] | None = Field(
        None, description='Where: `loc` (e.g. ["body", "queries", 0]), `msg`, maybe `column`.'
    )
    action: str | None = Field(None, description="403: the policy action that was refused.")


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error codes, each a problem JSON."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted(set(codes)):
        out[code] = {
            "model": Problem,
            "description": HTTPStatus(code).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


def _tag_audit(session: Session, principal: Principal) -> None:
    """Every audit entry this request writes says how its actor came in (and which token)."""
    tag: dict[str, Any] = {"via": principal.via}
    if principal.via == "token" and principal.token_id is not None:
        token = session.get(ApiToken, principal.token_id)
        if token is not None:
            tag["token"] = f"clm_{token.prefix}"

    def before_flush(flushing: Session, context: Any, instances: Any) -> None:
        for obj in flushing.new:
            if isinstance(obj, AuditEntry) and "via" not in (obj.data or {}):
                obj.data = {**(obj.data or {}), **tag}

    event.listen(session, "before_flush", before_flush)


async def _no_nul(request: Request) -> None:
    """NUL characters are refused anywhere in the request (PostgreSQL cannot store them in
    text, and no legitimate query, name or message holds one)."""
    if "%00" in request.url.path or "%00" in request.url.query or "\x00" in request.url.path:
        raise InvalidInputError("NUL characters are not accepted", where="request")
    body = await request.body()
    if b"\x00" in body or b"\\u0000" in body:
        raise InvalidInputError("NUL characters are not accepted", where="body")


@cache
def _authorizer(action: str | None) -> Callable[..., Principal]:
    def check(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Principal:
        if action is not None:
            authorize(principal, action)
        if request.method not in SAFE_METHODS:
            _tag_audit(session, principal)
        return principal

    check.__name__ = f"authorize_{(action or 'any').replace('.', '_')}"
    return check


def operation(action: str | None, *codes: int, **extra: Any) -> dict[str, Any]:
    """Decorator arguments of a route needing ``action`` (None: any role): the role check,
    the problem responses (401, 403 and ``codes``), the security schemes."""
    openapi_extra = {ACTION_KEY: action} if action is not None else {}
    openapi_extra.update(extra.pop("openapi_extra", {}))
    responses = problems(401, 422, *codes, *((403,) if action is not None else ()))
    responses.update(extra.pop("responses", {}))
    return {
        "dependencies": [
            Depends(bearer),
            Depends(session_cookie),
            Depends(_authorizer(action)),
            Depends(_no_nul),
        ],
        "responses": responses,
        "openapi_extra": openapi_extra,
        **extra,
    }


def audit_write(
    session: Session,
    principal: Principal,
    at: datetime,
    action: str,
    object_type: str,
    object_id: int | None,
    data: dict[str, Any] | None = None,
) -> None:
    """An admin action in the audit log (the request adds how the actor came in)."""
    from clameur.tenancy.audit import audit

    audit(
        session,
        tenant_id=principal.tenant_id,
        at=at,
        actor_id=principal.actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        data=data,
    )
