"""Users and their memberships (a role in each tenant they serve)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.clock import Clock
from clameur.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clameur.tenancy.models import Membership, User
from clameur.tenancy.passwords import check_new_password, hash_password
from clameur.tenancy.policy import ROLES


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, _, domain = cleaned.partition("@")
    if not local or not domain or len(cleaned) > 320 or any(c.isspace() for c in cleaned):
        raise InvalidInputError(f"not an e-mail address: {email!r}", where="email")
    return cleaned


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInputError(f"role is one of {', '.join(ROLES)}, got {role!r}", where="role")
    return role


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFoundError(f"no user {email!r}")
    return user


def add_user(
    session: Session,
    clock: Clock,
    email: str,
    *,
    name: str | None = None,
    password: str | None = None,
    operator: bool = False,
    home_tenant_id: int | None = None,
) -> User:
    """A new person (no role anywhere yet: :func:`grant` gives them one)."""
    email = normalise_email(email)
    if find_user(session, email) is not None:
        raise AlreadyExistsError(f"user {email!r} already exists")
    user = User(
        email=email,
        name=(name or "").strip() or email.split("@")[0],
        home_tenant_id=home_tenant_id,
        password_hash=hash_password(check_new_password(password)) if password else None,
        active=True,
        operator=operator,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    return user


def grant(session: Session, clock: Clock, user: User, tenant_id: int, role: str) -> Membership:
    """Give ``user`` ``role`` in the tenant (replacing the role they had there)."""
    check_role(role)
    found = session.scalars(
        select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user.id)
    ).first()
    if found is not None:
        found.role = role
        return found
    membership = Membership(tenant_id=tenant_id, user_id=user.id, role=role, created_at=clock.now())
    session.add(membership)
    session.flush()
    return membership


def revoke(session: Session, user: User, tenant_id: int) -> bool:
    found = session.scalars(
        select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user.id)
    ).first()
    if found is None:
        return False
    session.delete(found)
    session.flush()
    return True


def add_member(
    session: Session,
    clock: Clock,
    email: str,
    tenant_id: int,
    role: str,
    *,
    name: str | None = None,
    password: str | None = None,
) -> tuple[User, bool]:
    """``clameur user add``: the user (created when new, with ``password``; without one
    they cannot sign in until it is set) gets ``role`` in the tenant. Returns the user and
    whether they were created."""
    check_role(role)
    user = find_user(session, email)
    created = user is None
    if user is None:
        user = add_user(session, clock, email, name=name, password=password)
    grant(session, clock, user, tenant_id, role)
    return user, created


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(check_new_password(password))
    session.flush()


def role_in(session: Session, tenant_id: int, user_id: int) -> str | None:
    """The role an active user holds in the tenant (None: none, or deactivated)."""
    role: str | None = session.scalar(
        select(Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.user_id == user_id,
            User.active.is_(True),
        )
    )
    return role


def members(session: Session, tenant_id: int) -> Sequence[tuple[User, str]]:
    rows = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(User.email)
    ).all()
    return [(user, role) for user, role in rows]


def member_ids(session: Session, tenant_id: int, roles: Sequence[str] = ROLES) -> list[int]:
    """Active users holding one of ``roles`` in the tenant."""
    return list(
        session.scalars(
            select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.tenant_id == tenant_id,
                Membership.role.in_(list(roles)),
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    )
