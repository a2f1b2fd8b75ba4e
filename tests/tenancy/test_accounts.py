"""Accounts: passwords, memberships, the principal, the policy table, sign-in, sessions and
API tokens — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    TooManyAttemptsError,
    UnauthenticatedError,
)
from clameur.tenancy import (
    POLICY,
    ROLES,
    AuditEntry,
    Principal,
    add_member,
    allowed,
    authorize,
    get_user,
    refresh,
    resolve,
    revoke,
    tenants_of,
)
from clameur.tenancy import auth as tenancy_auth
from clameur.tenancy.accounts import add_user, role_in
from clameur.tenancy.models import User
from clameur.tenancy.passwords import check_new_password, legacy_scrypt_hash, verify
from tests.conftest import Database, make_tenant

PASSWORD = "correct horse battery staple"


# -- passwords -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weak",
    [
        "short1!",
        "password2024!",
        "azertyuiop123",
        "motdepasse!!!!",
        "123456789012",
        "aaaaaaaaaaaaa",
    ],
)
def test_weak_or_common_passwords_are_refused(weak: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_new_password(weak)
    assert refused.value.where == "password"


def test_a_long_uncommon_password_is_accepted_and_hashed_with_argon2id() -> None:
    from clameur.tenancy.passwords import hash_password

    assert check_new_password(PASSWORD) == PASSWORD
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify(PASSWORD, stored) == (True, False)
    assert verify(PASSWORD + "x", stored) == (False, False)
    assert verify(PASSWORD, None) == (False, False), "no hash never matches"


def test_legacy_scrypt_hashes_verify_and_ask_for_a_rehash() -> None:
    old = legacy_scrypt_hash(PASSWORD, b"0123456789abcdef")
    assert verify(PASSWORD, old) == (True, True)
    assert verify("wrong " + PASSWORD, old) == (False, True)


# -- memberships, principals, policy -------------------------------------------------------


def test_a_user_may_hold_different_roles_in_several_tenants(
    db: Database, clock: FrozenClock
) -> None:
    acme = make_tenant(db, clock, "acme", {})
    beta = make_tenant(db, clock, "beta", {})
    make_tenant(db, clock, "gamma", {})
    with session_scope(db.factory) as session:
        user, created = add_member(
            session, clock, "Ana@BPO.example", acme.id, "agent", password=PASSWORD
        )
        assert created
        assert user.email == "ana@bpo.example"
        again, created_again = add_member(session, clock, "ana@bpo.example", beta.id, "supervisor")
        assert again.id == user.id
        assert not created_again
        assert [(t.slug, role) for t, role in tenants_of(session, user)] == [
            ("acme", "agent"),
            ("beta", "supervisor"),
        ]
        principal = resolve(session, user, session.get(type(acme), beta.id))
        assert (principal.role, principal.tenant_slug) == ("supervisor", "beta")
        with pytest.raises(NotFoundError):
            resolve(session, user, session.get(type(acme), acme.id + 2))  # gamma: no role
        assert role_in(session, acme.id, user.id) == "agent"
        user.active = False
        session.flush()
        assert role_in(session, acme.id, user.id) is None


def test_refresh_refuses_a_forged_or_revoked_principal(db: Database, clock: FrozenClock) -> None:
    acme = make_tenant(db, clock, "acme", {})
    beta = make_tenant(db, clock, "beta", {})
    with session_scope(db.factory) as session:
        bob, _ = add_member(session, clock, "bob@beta.example", beta.id, "admin")
        forged = Principal(
            user_id=bob.id, email=bob.email, tenant_id=acme.id, tenant_slug="acme", role="admin"
        )
        with pytest.raises(NotFoundError):
            refresh(session, forged)
        real = resolve(session, bob, session.get(type(beta), beta.id))
        assert refresh(session, real).role == "admin"
        revoke(session, bob, beta.id)
        with pytest.raises(NotFoundError):
            refresh(session, real)


def test_operators_act_as_admin_in_every_tenant(db: Database, clock: FrozenClock) -> None:
    acme = make_tenant(db, clock, "acme", {})
    make_tenant(db, clock, "beta", {})
    with session_scope(db.factory) as session:
        boss = add_user(session, clock, "boss@bpo.example", password=PASSWORD, operator=True)
        assert [(t.slug, r) for t, r in tenants_of(session, boss)] == [
            ("acme", "admin"),
            ("beta", "admin"),
        ]
        principal = resolve(session, boss, session.get(type(acme), acme.id))
        assert principal.operator
        assert allowed(principal, "tenants.manage")
        agent, _ = add_member(session, clock, "a@bpo.example", acme.id, "agent")
        assert not allowed(
            resolve(session, agent, session.get(type(acme), acme.id)), "tenants.manage"
        )


def _principal(role: str) -> Principal:
    return Principal(user_id=1, email="x@y.z", tenant_id=1, tenant_slug="t", role=role)


def test_the_policy_table_is_the_one_role_check() -> None:
    viewer, agent = _principal("viewer"), _principal("agent")
    authorize(viewer, "conversations.read")
    authorize(viewer, "replies.approve")  # the client approves where the brand requires it
    with pytest.raises(ForbiddenError) as refused:
        authorize(viewer, "replies.write")
    assert refused.value.action == "replies.write"
    with pytest.raises(ForbiddenError):
        authorize(agent, "users.manage")
    with pytest.raises(ValueError, match="unknown action"):
        authorize(agent, "conversations.fly")
    assert all(roles <= set(ROLES) for roles in POLICY.values())
    acting = [action for action, roles in POLICY.items() if "viewer" in roles]
    assert all(a.endswith((".read", ".approve", ".own")) for a in acting), (
        "a viewer reads and approves, never acts as an agent"
    )


# -- sign-in -------------------------------------------------------------------------------


def _member(db: Database, clock: FrozenClock, role: str = "agent") -> int:
    tenant = make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        user, _ = add_member(session, clock, "ana@acme.example", tenant.id, role, password=PASSWORD)
        return user.id


def _sign_in(db: Database, clock: FrozenClock, password: str, address: str = "10.0.0.1") -> str:
    with session_scope(db.factory) as session:
        outcome = tenancy_auth.sign_in(
            session, clock, "ana@acme.example", password, address=address
        )
    return outcome.accepted().secret


def test_sign_in_answers_the_same_for_unknown_account_and_wrong_password(
    db: Database, clock: FrozenClock
) -> None:
    _member(db, clock)
    messages = []
    for email, password in (("ana@acme.example", "wrong password 123"), ("nobody@x.y", PASSWORD)):
        with session_scope(db.factory) as session:
            outcome = tenancy_auth.sign_in(session, clock, email, password, address="10.0.0.9")
        assert outcome.signed_in is None
        with pytest.raises(UnauthenticatedError) as failed:
            outcome.accepted()
        messages.append(str(failed.value))
    assert messages[0] == messages[1] == "wrong e-mail or password"
    with session_scope(db.factory) as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["auth.sign_in_failed"], "the known account's failure is audited"


def test_ten_failures_lock_the_account_for_fifteen_minutes(
    db: Database, clock: FrozenClock
) -> None:
    _member(db, clock)
    for attempt in range(10):
        with pytest.raises(UnauthenticatedError):
            _sign_in(db, clock, f"wrong password {attempt:03}", address=f"10.0.1.{attempt}")
    with pytest.raises(TooManyAttemptsError) as locked:
        _sign_in(db, clock, PASSWORD, address="10.0.2.1")
    assert locked.value.retry_after == 900
    clock.advance(timedelta(minutes=15, seconds=1))
    assert _sign_in(db, clock, PASSWORD)


def test_ten_failures_from_one_address_lock_that_address(db: Database, clock: FrozenClock) -> None:
    _member(db, clock)
    for n in range(10):
        with session_scope(db.factory) as session:
            outcome = tenancy_auth.sign_in(
                session, clock, f"guess{n}@acme.example", "x" * 12, address="192.0.2.7"
            )
        assert isinstance(outcome.refused, UnauthenticatedError)
    with pytest.raises(TooManyAttemptsError):
        _sign_in(db, clock, PASSWORD, address="192.0.2.7")
    assert _sign_in(db, clock, PASSWORD, address="192.0.2.8"), "another address still may"


def test_a_legacy_hash_is_rehashed_with_argon2id_at_sign_in(
    db: Database, clock: FrozenClock
) -> None:
    user_id = _member(db, clock)
    with session_scope(db.factory) as session:
        session.get(User, user_id).password_hash = legacy_scrypt_hash(PASSWORD, b"s" * 16)
    _sign_in(db, clock, PASSWORD)
    with session_scope(db.factory) as session:
        assert session.get(User, user_id).password_hash.startswith("$argon2id$")


def test_sessions_expire_when_idle_and_absolutely_and_end_at_sign_out(
    db: Database, clock: FrozenClock
) -> None:
    _member(db, clock)
    secret = _sign_in(db, clock, PASSWORD)
    for _ in range(3):  # used every 7 hours: never idle for 8, but over 24 h in the end
        clock.advance(timedelta(hours=7))
        with session_scope(db.factory) as session:
            row, user = tenancy_auth.session_for(session, clock, secret)
            assert tenancy_auth.session_principal(session, row, user).tenant_slug == "acme"
    clock.advance(timedelta(hours=3, minutes=1))  # 24 h after sign-in
    with session_scope(db.factory) as session, pytest.raises(UnauthenticatedError):
        tenancy_auth.session_for(session, clock, secret)

    idle = _sign_in(db, clock, PASSWORD)
    clock.advance(timedelta(hours=8))
    with session_scope(db.factory) as session, pytest.raises(UnauthenticatedError):
        tenancy_auth.session_for(session, clock, idle)

    ended = _sign_in(db, clock, PASSWORD)
    with session_scope(db.factory) as session:
        tenancy_auth.sign_out(session, clock, ended)
    with session_scope(db.factory) as session, pytest.raises(UnauthenticatedError):
        tenancy_auth.session_for(session, clock, ended)


def test_each_sign_in_makes_a_new_session(db: Database, clock: FrozenClock) -> None:
    _member(db, clock)
    assert _sign_in(db, clock, PASSWORD) != _sign_in(db, clock, PASSWORD)


# -- API tokens ----------------------------------------------------------------------------


def test_tokens_are_stored_hashed_bound_to_a_tenant_and_revocable(
    db: Database, clock: FrozenClock
) -> None:
    user_id = _member(db, clock, "supervisor")
    beta = make_tenant(db, clock, "beta", {})
    with session_scope(db.factory) as session:
        user = session.get(User, user_id)
        acme = tenants_of(session, user)[0][0]
        made = tenancy_auth.create_token(session, clock, user, acme, name="zapier", expires_days=2)
        token, prefix = made.token, made.row.prefix
        assert token.startswith(f"clm_{prefix}_")
        assert len(token) > 40
        assert token not in made.row.secret_hash
        with pytest.raises(NotFoundError):  # no role in beta: no token there
            tenancy_auth.create_token(session, clock, user, session.get(type(acme), beta.id))
    with session_scope(db.factory) as session:
        principal = tenancy_auth.token_principal(session, clock, token)
        assert (principal.tenant_slug, principal.role, principal.via) == (
            "acme",
            "supervisor",
            "token",
        )
        assert tenancy_auth.find_token(session, principal.tenant_id, f"clm_{prefix}").last_used_at
        with pytest.raises(UnauthenticatedError):
            tenancy_auth.token_principal(session, clock, token[:-1] + "x")
        with pytest.raises(NotFoundError):  # another tenant's admin cannot see it
            tenancy_auth.find_token(session, beta.id, prefix)
    clock.advance(timedelta(days=2))
    with session_scope(db.factory) as session, pytest.raises(UnauthenticatedError, match="exp"):
        tenancy_auth.token_principal(session, clock, token)
    with session_scope(db.factory) as session:
        user = session.get(User, user_id)
        acme = tenants_of(session, user)[0][0]
        other = tenancy_auth.create_token(session, clock, user, acme).token
        row = tenancy_auth.find_token(session, acme.id, other.split("_")[1])
        tenancy_auth.revoke_token(session, clock, row, user.id)
    with session_scope(db.factory) as session, pytest.raises(UnauthenticatedError):
        tenancy_auth.token_principal(session, clock, other)
    with session_scope(db.factory) as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions.count("token.create") == 2
        assert actions.count("token.revoke") == 1


def test_a_token_stops_working_when_its_user_loses_the_role(
    db: Database, clock: FrozenClock
) -> None:
    user_id = _member(db, clock)
    with session_scope(db.factory) as session:
        user = session.get(User, user_id)
        acme = tenants_of(session, user)[0][0]
        token = tenancy_auth.create_token(session, clock, user, acme).token
        revoke(session, get_user(session, "ana@acme.example"), acme.id)
    with session_scope(db.factory) as session, pytest.raises(UnauthenticatedError):
        tenancy_auth.token_principal(session, clock, token)
