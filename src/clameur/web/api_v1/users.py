"""The tenant's people and their roles (``users.manage``). Removing a user removes their
role in this tenant only; their tokens and sessions here stop working at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from clameur.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clameur.tenancy.accounts import (
    add_member,
    check_role,
    find_user,
    grant,
    members,
    normalise_email,
    revoke,
    role_in,
)
from clameur.tenancy.models import User
from clameur.tenancy.passwords import MAX_LENGTH
from clameur.tenancy.principal import Principal
from clameur.web.api_v1.common import ClockDep, SessionDep, audit_write, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["users"])

Email = Annotated[str, Path(description="The user's e-mail.", max_length=320)]


class UserOut(BaseModel):
    email: str
    name: str
    role: str = Field(description="admin, supervisor, agent or viewer (in this tenant).")
    active: bool


class UserList(BaseModel):
    items: list[UserOut]


class UserIn(BaseModel):
    email: str = Field(max_length=320)
    role: str = Field(description="admin, supervisor, agent or viewer.")
    name: str | None = Field(None, max_length=200)
    password: str | None = Field(
        None,
        max_length=MAX_LENGTH,
        description="For a new user: 12 characters at least, not a common password. Without "
        "one they cannot sign in until it is set. Ignored for an existing user.",
    )


class RoleIn(BaseModel):
    role: str = Field(description="admin, supervisor, agent or viewer.")


def _out(user: User, role: str) -> UserOut:
    return UserOut(email=user.email, name=user.name, role=role, active=user.active)


def _member(session: Session, principal: Principal, email: str) -> tuple[User, str]:
    """A user holding a role in this tenant; otherwise 404 (whether they exist elsewhere
    is not this tenant's business)."""
    try:
        key = normalise_email(email)
    except InvalidInputError:
        raise NotFoundError(f"no user {email!r} in this tenant") from None
    user = find_user(session, key)
    role = role_in(session, principal.tenant_id, user.id) if user is not None else None
    if user is None or role is None:
        raise NotFoundError(f"no user {email!r} in this tenant")
    return user, role


def _keep_an_admin(session: Session, principal: Principal, user: User) -> None:
    admins = [u for u, role in members(session, principal.tenant_id) if role == "admin"]
    if [u.id for u in admins if u.active] == [user.id]:
        raise InvalidInputError(
            f"{user.email} is the tenant's last admin: make someone else admin first",
            where="role",
        )


@router.get(
    "/users",
    response_model=UserList,
    summary="The people holding a role in the tenant",
    **operation("users.manage"),
)
def list_users(session: SessionDep, principal: CurrentPrincipal) -> UserList:
    return UserList(items=[_out(u, role) for u, role in members(session, principal.tenant_id)])


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    summary="Give a person a role in the tenant (a new user is created)",
    **operation("users.manage", 409),
)
def create_user(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, body: UserIn
) -> UserOut:
    email = normalise_email(body.email)
    check_role(body.role)
    existing = find_user(session, email)
    if existing is not None and role_in(session, principal.tenant_id, existing.id) is not None:
        raise AlreadyExistsError(f"{email} already holds a role here (PATCH it to change it)")
    user, created = add_member(
        session,
        clock,
        email,
        principal.tenant_id,
        body.role,
        name=body.name,
        password=body.password or None,
    )
    data = {"email": user.email, "role": body.role, "created": created}
    audit_write(session, principal, clock.now(), "user.grant", "user", user.id, data)
    return _out(user, body.role)


@router.get(
    "/users/{email}",
    response_model=UserOut,
    summary="One member of the tenant",
    **operation("users.manage", 404),
)
def show_user(session: SessionDep, principal: CurrentPrincipal, email: Email) -> UserOut:
    return _out(*_member(session, principal, email))


@router.patch(
    "/users/{email}",
    response_model=UserOut,
    summary="Change a member's role",
    **operation("users.manage", 404),
)
def change_role(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    email: Email,
    body: RoleIn,
) -> UserOut:
    user, role = _member(session, principal, email)
    check_role(body.role)
    if role == "admin" and body.role != "admin":
        _keep_an_admin(session, principal, user)
    grant(session, clock, user, principal.tenant_id, body.role)
    data = {"email": user.email, "from": role, "role": body.role}
    audit_write(session, principal, clock.now(), "user.grant", "user", user.id, data)
    return _out(user, body.role)


@router.delete(
    "/users/{email}",
    status_code=204,
    summary="Remove a member's role in this tenant (the user stays in other tenants)",
    **operation("users.manage", 404),
)
def remove_user(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, email: Email
) -> Response:
    user, role = _member(session, principal, email)
    if role == "admin":
        _keep_an_admin(session, principal, user)
    revoke(session, user, principal.tenant_id)
    data = {"email": user.email, "role": role}
    audit_write(session, principal, clock.now(), "user.revoke", "user", user.id, data)
    return Response(status_code=204)
