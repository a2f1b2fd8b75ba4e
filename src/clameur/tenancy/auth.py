"""Sign-in, sessions and API tokens.

- **Sign-in** checks the password with argon2id (a dummy hash for unknown accounts, so both
  take as long), throttles per account and per address (:data:`MAX_FAILURES` failures in
  :data:`WINDOW`, counted in the database so every process sees them), re-hashes old scrypt
  hashes, and writes the attempt to the audit log of the tenants the account serves.
- **Sessions** are rows keyed by the SHA-256 of a random secret the cookie carries; they
  expire after :data:`IDLE` without use and :data:`ABSOLUTE` after sign-in, and are revoked
  at sign-out. Each carries its CSRF token.
- **API tokens** are ``clm_<prefix>_<secret>``: stored as SHA-256, shown once, bound to
  one user and one tenant, revocable, optionally expiring; their last use is recorded.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from clameur.clock import Clock
from clameur.db.repository import TenantRepository
from clameur.errors import (
    InvalidInputError,
    NotFoundError,
    TooManyAttemptsError,
    UnauthenticatedError,
)
from clameur.tenancy.accounts import find_user, normalise_email
from clameur.tenancy.audit import audit
from clameur.tenancy.models import ApiToken, AuthSession, LoginAttempt, Membership, Tenant, User
from clameur.tenancy.passwords import hash_password, verify
from clameur.tenancy.principal import (
    SPANS_TENANTS,
    Principal,
    effective_role,
    resolve,
    tenants_of,
)

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)
IDLE = timedelta(hours=8)
"""A session unused this long is over (an agent's shift)."""
ABSOLUTE = timedelta(hours=24)
"""A session is over this long after sign-in, used or not."""
TOUCH_EVERY = timedelta(minutes=1)
"""``last_seen_at`` is written at most this often (not on every request)."""
TOKEN_PREFIX = "clm_"  # noqa: S105 - a label, not a secret


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# -- sign-in --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignIn:
    user: User
    secret: str
    """The cookie value (shown once, stored hashed)."""
    session: AuthSession


@dataclass(frozen=True, slots=True)
class SignInOutcome:
    """What :func:`sign_in` decided. A refusal is *returned*, not raised, so the caller
    commits the attempt (the throttle counts it) before it reports the refusal."""

    signed_in: SignIn | None = None
    refused: UnauthenticatedError | TooManyAttemptsError | None = None

    def accepted(self) -> SignIn:
        """The sign-in, or the refusal raised (call it after committing)."""
        if self.refused is not None:
            raise self.refused
        assert self.signed_in is not None
        return self.signed_in


def _failures(
    session: Session, clock: Clock, column: InstrumentedAttribute[str], value: str
) -> int:
    since = clock.now() - WINDOW
    stmt = select(func.count()).where(
        column == value,
        LoginAttempt.at >= since,
        LoginAttempt.success.is_(False),
    )
    return int(session.execute(stmt).scalar_one())


def throttled(session: Session, clock: Clock, email: str, address: str) -> bool:
    return (
        _failures(session, clock, LoginAttempt.email, email) >= MAX_FAILURES
        or _failures(session, clock, LoginAttempt.address, address) >= MAX_FAILURES
    )


def _audit_tenants(session: Session, user: User) -> Sequence[int]:
    stmt = select(Membership.tenant_id).where(Membership.user_id == user.id)
    return session.scalars(stmt.execution_options(**SPANS_TENANTS)).all()


def _log_attempt(
    session: Session, clock: Clock, email: str, address: str, user: User | None, outcome: str
) -> None:
    success = outcome == "success"
    session.add(LoginAttempt(at=clock.now(), email=email, address=address, success=success))
    if user is None:
        return
    for tenant_id in _audit_tenants(session, user):
        audit(
            session,
            tenant_id=tenant_id,
            at=clock.now(),
            actor_id=user.id,
            action="auth.sign_in" if success else "auth.sign_in_failed",
            object_type="user",
            object_id=user.id,
            data={"address": address, "outcome": outcome},
        )


def sign_in(
    session: Session,
    clock: Clock,
    email: str,
    password: str,
    *,
    address: str,
    user_agent: str | None = None,
    absolute: timedelta = ABSOLUTE,
) -> SignInOutcome:
    """A new session for the account, or a refusal: :class:`UnauthenticatedError` (never
    saying whether the e-mail or the password was wrong) or :class:`TooManyAttemptsError`.

    The caller commits in both cases (failed attempts are what the throttle counts), then
    calls ``outcome.accepted()`` to get the sign-in or raise the refusal."""
    address = address[:64]
    try:
        key = normalise_email(email)
    except InvalidInputError:
        key = email.strip().lower()[:320]
    if throttled(session, clock, key, address):
        verify(password, None)  # the same work as any answer
        user = find_user(session, key)
        _log_attempt(session, clock, key, address, user, "throttled")
        wait = TooManyAttemptsError(
            "too many failed sign-ins; try again in 15 minutes",
            retry_after=int(WINDOW.total_seconds()),
        )
        return SignInOutcome(refused=wait)
    user = find_user(session, key)
    ok, rehash = verify(password, user.password_hash if user is not None else None)
    if user is None or not ok or not user.active:
        _log_attempt(session, clock, key, address, user, "failure")
        return SignInOutcome(refused=UnauthenticatedError("wrong e-mail or password"))
    if rehash:
        user.password_hash = hash_password(password)
    _log_attempt(session, clock, key, address, user, "success")
    first = tenants_of(session, user)
    tenant_id = first[0][0].id if first else None
    secret, row = new_session(session, clock, user, tenant_id, absolute=absolute)
    row.address, row.user_agent = address, (user_agent or "")[:300] or None
    return SignInOutcome(signed_in=SignIn(user=user, secret=secret, session=row))


def instance_secret(session: Session, name: str) -> str:
    """A random key made once for the deployment and shared by all its processes."""
    from sqlalchemy.exc import IntegrityError

    from clameur.tenancy.models import InstanceSecret

    found = session.get(InstanceSecret, name)
    if found is not None:
        return found.value
    value = secrets.token_urlsafe(48)
    try:
        with session.begin_nested():
            session.add(InstanceSecret(name=name, value=value))
    except IntegrityError:  # another process made it first
        found = session.get(InstanceSecret, name)
        assert found is not None
        return found.value
    return value


# -- sessions -------------------------------------------------------------------------------


def new_session(
    session: Session,
    clock: Clock,
    user: User,
    tenant_id: int | None,
    *,
    absolute: timedelta = ABSOLUTE,
) -> tuple[str, AuthSession]:
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    row = AuthSession(
        id=_sha256(secret),
        user_id=user.id,
        tenant_id=tenant_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + absolute,
    )
    session.add(row)
    session.flush()
    return secret, row


def session_for(
    session: Session, clock: Clock, secret: str, *, idle: timedelta = IDLE
) -> tuple[AuthSession, User]:
    """The live session a cookie names, touched; otherwise :class:`UnauthenticatedError`."""
    row = session.get(AuthSession, _sha256(secret)) if secret else None
    now = clock.now()
    if row is None or row.revoked_at is not None:
        raise UnauthenticatedError("not signed in")
    if now >= row.expires_at or now - row.last_seen_at >= idle:
        raise UnauthenticatedError("the session has expired; sign in again")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise UnauthenticatedError("not signed in")
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row, user


def session_principal(session: Session, row: AuthSession, user: User) -> Principal | None:
    """The principal of a session in its current tenant (None: no tenant to work in)."""
    tenant = session.get(Tenant, row.tenant_id) if row.tenant_id is not None else None
    if tenant is None:
        return None
    try:
        return resolve(session, user, tenant, via="session", session_id=row.id)
    except NotFoundError:
        return None


def switch_tenant(session: Session, row: AuthSession, user: User, slug: str) -> Principal:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFoundError(f"tenant {slug!r} not found")
    principal = resolve(session, user, tenant, via="session", session_id=row.id)
    row.tenant_id = tenant.id
    return principal


def sign_out(session: Session, clock: Clock, secret: str) -> None:
    row = session.get(AuthSession, _sha256(secret)) if secret else None
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()


def revoke_sessions(session: Session, clock: Clock, user: User) -> int:
    rows = session.scalars(
        select(AuthSession).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = clock.now()
    return len(rows)


# -- API tokens -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewToken:
    token: str
    """Shown once; only its hash is kept."""
    row: ApiToken


def create_token(
    session: Session,
    clock: Clock,
    user: User,
    tenant: Tenant,
    *,
    name: str | None = None,
    expires_days: int | None = None,
) -> NewToken:
    """A token for the user in the tenant, where they must hold a role."""
    resolve(session, user, tenant)
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise InvalidInputError("between 1 and 3650 days", where="expires")
    label = (name or "").strip()[:100] or f"token of {user.email}"
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    now = clock.now()
    row = ApiToken(
        tenant_id=tenant.id,
        user_id=user.id,
        name=label,
        prefix=prefix,
        secret_hash=_sha256(token),
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        tenant_id=tenant.id,
        at=now,
        actor_id=user.id,
        action="token.create",
        object_type="api_token",
        object_id=row.id,
        data={"name": label, "prefix": prefix},
    )
    return NewToken(token=token, row=row)


def token_principal(session: Session, clock: Clock, token: str) -> Principal:
    """The principal a bearer token stands for; :class:`UnauthenticatedError` otherwise."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise UnauthenticatedError("not a Clameur API token")
    # One round trip: the token, its user, its tenant and the user's role there.
    role_there = and_(Membership.tenant_id == ApiToken.tenant_id, Membership.user_id == User.id)
    by_hash = (
        select(ApiToken, User, Tenant, Membership.role)
        .join(User, User.id == ApiToken.user_id)
        .join(Tenant, Tenant.id == ApiToken.tenant_id)
        .outerjoin(Membership, role_there)
        .where(ApiToken.secret_hash == _sha256(token))
        .execution_options(**SPANS_TENANTS)
    )
    found = session.execute(by_hash).first()
    now = clock.now()
    if found is None or found[0].revoked_at is not None:
        raise UnauthenticatedError("unknown or revoked token")
    row, user, tenant, held = found
    if row.expires_at is not None and now >= row.expires_at:
        raise UnauthenticatedError("the token has expired")
    role = effective_role(held, user)
    if not user.active or role is None:
        raise UnauthenticatedError("the token's user no longer holds a role here")
    principal = Principal(
        user_id=user.id,
        email=user.email,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=role,
        operator=user.operator,
        via="token",
        token_id=row.id,
    )
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
    return principal


class Tokens(TenantRepository[ApiToken]):
    model = ApiToken


def find_token(session: Session, tenant_id: int, prefix: str) -> ApiToken:
    """A token of the tenant by its visible prefix (``clm_1a2b3c4d`` or the bare prefix)."""
    key = prefix.removeprefix(TOKEN_PREFIX).split("_", 1)[0]
    tokens = Tokens(session, tenant_id)
    row: ApiToken | None = session.scalar(tokens.select().where(ApiToken.prefix == key))
    if row is None:
        raise NotFoundError(f"no token {prefix!r} in this tenant")
    return row


def revoke_token(session: Session, clock: Clock, row: ApiToken, actor_id: int | None) -> None:
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        audit(
            session,
            tenant_id=row.tenant_id,
            at=clock.now(),
            actor_id=actor_id,
            action="token.revoke",
            object_type="api_token",
            object_id=row.id,
            data={"prefix": row.prefix},
        )


def list_tokens(session: Session, tenant_id: int) -> Sequence[ApiToken]:
    tokens = Tokens(session, tenant_id)
    return tokens.all(tokens.select().order_by(ApiToken.id))
