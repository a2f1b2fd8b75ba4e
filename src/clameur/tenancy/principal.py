"""The principal: who acts (user), where (tenant) and as what (role).

Every action on behalf of a person takes one. It is resolved once per request, token or
command from the database (:func:`resolve`), never taken from what a client says, and
services re-check it with :func:`refresh` where an action writes, so a role revoked a
moment ago no longer acts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.db.repository import ALL_TENANTS
from clameur.errors import NotFoundError
from clameur.tenancy.models import Membership, Tenant, User

SPANS_TENANTS = {ALL_TENANTS: True}
"""Who the principal is, and where else they work, is read across tenants."""


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    email: str
    tenant_id: int
    tenant_slug: str
    role: str
    operator: bool = False
    via: str = "cli"
    """session, token, cli or system: how the principal was authenticated."""
    token_id: int | None = None
    session_id: str | None = None

    @property
    def actor_id(self) -> int | None:
        """The user id written to the audit log (None for the system)."""
        return None if self.via == "system" else self.user_id

    def describe(self) -> str:
        return f"{self.email} ({self.role} in {self.tenant_slug})"


def membership_role(session: Session, user: User, tenant_id: int) -> str | None:
    """The user's role in the tenant: their membership, or admin for an operator."""
    role = session.scalar(
        select(Membership.role)
        .where(Membership.tenant_id == tenant_id, Membership.user_id == user.id)
        .execution_options(**SPANS_TENANTS)
    )
    return effective_role(role, user)


def effective_role(held: str | None, user: User) -> str | None:
    """The role a user acts with where they hold ``held`` (None: no membership there): an
    operator is admin in every tenant."""
    if held is None and user.operator:
        return "admin"
    return held


def resolve(
    session: Session,
    user: User,
    tenant: Tenant,
    *,
    via: str = "cli",
    token_id: int | None = None,
    session_id: str | None = None,
) -> Principal:
    """The principal of an active user in a tenant they hold a role in; otherwise
    :class:`NotFoundError` (a tenant one may not see is indistinguishable from none)."""
    if not user.active:
        raise NotFoundError(f"user {user.email} is deactivated")
    role = membership_role(session, user, tenant.id)
    if role is None:
        raise NotFoundError(f"tenant {tenant.slug!r} not found for {user.email}")
    return Principal(
        user_id=user.id,
        email=user.email,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=role,
        operator=user.operator,
        via=via,
        token_id=token_id,
        session_id=session_id,
    )


def refresh(session: Session, principal: Principal) -> Principal:
    """The same principal read again: raises when the user was deactivated or lost their
    role in the tenant since it was resolved; carries the current role otherwise."""
    user = session.get(User, principal.user_id)
    tenant = session.get(Tenant, principal.tenant_id)
    if user is None or tenant is None:
        raise NotFoundError(f"{principal.describe()}: no longer exists")
    return resolve(
        session,
        user,
        tenant,
        via=principal.via,
        token_id=principal.token_id,
        session_id=principal.session_id,
    )


def tenants_of(session: Session, user: User) -> list[tuple[Tenant, str]]:
    """The tenants a user may open, with their role there (every tenant for an operator)."""
    rows = session.execute(
        select(Tenant, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user.id)
        .order_by(Tenant.slug)
        .execution_options(**SPANS_TENANTS)
    ).all()
    found = [(tenant, role) for tenant, role in rows]
    if user.operator:
        held = {tenant.id for tenant, _ in found}
        others = session.scalars(select(Tenant).order_by(Tenant.slug)).all()
        found += [(tenant, "admin") for tenant in others if tenant.id not in held]
        found.sort(key=lambda pair: pair[0].slug)
    return found


def system_principal(tenant: Tenant) -> Principal:
    """The pipeline and background loops acting for a tenant (no person; user id 0)."""
    return Principal(
        user_id=0,
        email="system",
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role="admin",
        via="system",
    )
