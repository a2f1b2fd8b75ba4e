"""API tokens: anyone lists, creates and revokes their own (``tokens.own``); an admin sees
and revokes every token of the tenant (``tokens.manage``). A new token is shown once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.errors import NotFoundError
from clameur.tenancy import auth
from clameur.tenancy.models import ApiToken, Tenant, User
from clameur.tenancy.policy import allowed
from clameur.tenancy.principal import Principal
from clameur.web.api_v1.common import ClockDep, SessionDep, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["tokens"])

Prefix = Annotated[
    str,
    Path(description="The token's visible prefix (`1a2b3c4d` or `clm_1a2b3c4d`).", max_length=64),
]


class TokenOut(BaseModel):
    prefix: str
    name: str
    user: str = Field(description="The e-mail of the user it acts as.")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenOut]


class TokenIn(BaseModel):
    name: str | None = Field(None, max_length=100, description="What it is for.")
    expires_days: int | None = Field(None, ge=1, le=3650, description="null: never expires.")


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret: shown this once, stored only as a hash.")


def _out(row: ApiToken, email: str) -> TokenOut:
    return TokenOut(
        prefix=row.prefix,
        name=row.name,
        user=email,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _visible(session: Session, principal: Principal, prefix: str) -> ApiToken:
    """A token of the tenant the principal may handle: their own, or any for an admin.
    Someone else's is as unknown to a non-admin as a token that does not exist."""
    row = auth.find_token(session, principal.tenant_id, prefix)
    if row.user_id != principal.user_id and not allowed(principal, "tokens.manage"):
        raise NotFoundError(f"no token {prefix!r} in this tenant")
    return row


@router.get(
    "/tokens",
    response_model=TokenList,
    summary="Tokens: one's own (an admin: every token of the tenant)",
    **operation("tokens.own"),
)
def list_tokens(session: SessionDep, principal: CurrentPrincipal) -> TokenList:
    rows = auth.list_tokens(session, principal.tenant_id)
    if not allowed(principal, "tokens.manage"):
        rows = [row for row in rows if row.user_id == principal.user_id]
    ids = {row.user_id for row in rows}
    found = session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    emails = {user_id: email for user_id, email in found}
    return TokenList(items=[_out(row, emails.get(row.user_id, "?")) for row in rows])


@router.post(
    "/tokens",
    response_model=NewTokenOut,
    status_code=201,
    summary="A new token for oneself in this tenant (its secret is shown once)",
    **operation("tokens.own"),
)
def create_token(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, body: TokenIn
) -> NewTokenOut:
    user = session.get(User, principal.user_id)
    tenant = session.get(Tenant, principal.tenant_id)
    if user is None or tenant is None:
        raise NotFoundError("the principal no longer exists")
    made = auth.create_token(
        session, clock, user, tenant, name=body.name, expires_days=body.expires_days
    )
    return NewTokenOut(token=made.token, **_out(made.row, user.email).model_dump())


@router.get(
    "/tokens/{prefix}",
    response_model=TokenOut,
    summary="One token (never its secret)",
    **operation("tokens.own", 404),
)
def show_token(session: SessionDep, principal: CurrentPrincipal, prefix: Prefix) -> TokenOut:
    row = _visible(session, principal, prefix)
    user = session.get(User, row.user_id)
    return _out(row, user.email if user is not None else "?")


@router.delete(
    "/tokens/{prefix}",
    status_code=204,
    summary="Revoke a token (it answers 401 from now on)",
    **operation("tokens.own", 404),
)
def revoke_token(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, prefix: Prefix
) -> Response:
    row = _visible(session, principal, prefix)
    auth.revoke_token(session, clock, row, principal.actor_id)
    return Response(status_code=204)
