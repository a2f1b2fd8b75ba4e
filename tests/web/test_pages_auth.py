"""Sign-in for the pages: the form, its errors (French and English, never which field was
wrong), redirects, session fixation, throttle, timing, session expiry, sign-out and the
upgrade of old password hashes — on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import quote

import pytest
from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from sqlalchemy import func, select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.tenancy import AuthSession, User, passwords
from clameur.tenancy.models import LoginAttempt
from clameur.tenancy.passwords import legacy_scrypt_hash
from clameur.web.auth import COOKIE
from tests.conftest import Database, make_tenant
from tests.web.pages import PASSWORD, client_for, csrf_of, make_user, sign_in

EMAIL = "agent@acme.example"


@pytest.fixture
def acme(db: Database, clock: FrozenClock) -> Database:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    make_user(db, clock, EMAIL, {"acme": "agent"})
    return db


def _sessions(db: Database) -> list[AuthSession]:
    with session_scope(db.factory) as session:
        return list(session.scalars(select(AuthSession).order_by(AuthSession.created_at)))


def test_the_login_form_has_its_fields_and_pages_redirect_to_it(acme: Database) -> None:
    client = client_for(acme)
    away = client.get("/t/acme?page=2", follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "/login?next=" + quote("/t/acme?page=2", safe="/")
    form = client.get(away.headers["location"])
    assert form.status_code == 200
    for field in ('name="email"', 'name="password"', 'name="csrf_token"', 'name="next"'):
        assert field in form.text
    assert 'value="/t/acme?page=2"' in form.text
    assert "clameur_login_csrf" in form.headers["set-cookie"]


def test_sign_in_goes_to_next_and_the_page_is_readable(acme: Database) -> None:
    client = client_for(acme)
    answer = sign_in(client, EMAIL, next_path="/t/acme?page=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/t/acme?page=1"
    page = client.get("/t/acme?page=1")
    assert page.status_code == 200
    assert "<bdi>Acme</bdi>" in page.text
    assert "<bdi>agent@acme.example</bdi>" in page.text


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "/logout",
        "/login?next=/",
        "",
    ],
)
def test_next_is_only_a_local_path(acme: Database, target: str) -> None:
    answer = sign_in(client_for(acme), EMAIL, next_path=target)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


@pytest.mark.parametrize(
    ("accept", "expected", "other"),
    [
        ("", "L'adresse e-mail ou le mot de passe est incorrect.", "is wrong"),
        ("en-GB,en;q=0.9", "The e-mail address or the password is wrong.", "incorrect"),
        ("de, en;q=0.5, fr;q=0.8", "L'adresse e-mail ou le mot de passe est incorrect.", "wrong"),
    ],
)
def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    acme: Database, accept: str, expected: str, other: str
) -> None:
    client = client_for(acme)
    client.headers["Accept-Language"] = accept
    bodies = []
    for email, password in ((EMAIL, "not the password at all"), ("ghost@acme.example", PASSWORD)):
        answer = sign_in(client, email, password)
        assert answer.status_code == 401
        assert COOKIE not in answer.headers.get("set-cookie", "")
        assert expected.replace("'", "&#39;") in answer.text
        assert other not in answer.text
        assert 'class="error-summary"' in answer.text
        bodies.append(answer.text.replace(email, "EMAIL"))
    strip = [body.split('name="csrf_token" value="')[0] for body in bodies]
    assert strip[0] == strip[1], "the two answers differ before the form's token"


def test_empty_fields_are_named_and_not_counted(acme: Database) -> None:
    client = client_for(acme)
    answer = sign_in(client, "", "")
    assert answer.status_code == 422
    assert 'href="#email"' in answer.text
    assert 'href="#password"' in answer.text
    with session_scope(acme.factory) as session:
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0


def test_session_fixation_a_new_session_at_every_sign_in(acme: Database) -> None:
    client = client_for(acme)
    sign_in(client, EMAIL)
    first = client.cookies[COOKIE]
    answer = sign_in(client, EMAIL)
    assert answer.status_code == 303
    second = client.cookies[COOKIE]
    assert first != second
    rows = _sessions(acme)
    assert len(rows) == 2
    assert rows[0].revoked_at is not None, "the earlier session ends at the new sign-in"
    assert rows[1].revoked_at is None
    stale = client_for(acme)
    stale.cookies[COOKIE] = first
    assert stale.get("/", follow_redirects=False).status_code == 303


def test_a_forged_cookie_is_refused(acme: Database) -> None:
    client = client_for(acme)
    sign_in(client, EMAIL)
    secret, _, _ = client.cookies[COOKIE].rpartition(".")
    forged = client_for(acme)
    forged.cookies[COOKIE] = f"{secret}.AAAA"
    assert forged.get("/", follow_redirects=False).status_code == 303


def test_sign_out_revokes_the_session_and_the_old_cookie_no_longer_works(
    acme: Database,
) -> None:
    client = client_for(acme)
    sign_in(client, EMAIL)
    cookie = client.cookies[COOKIE]
    home = client.get("/")
    answer = client.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert f'{COOKIE}=""' in answer.headers["set-cookie"]
    assert _sessions(acme)[0].revoked_at is not None
    replay = client_for(acme)
    replay.cookies[COOKIE] = cookie
    assert replay.get("/", follow_redirects=False).status_code == 303


def test_idle_and_absolute_expiry(acme: Database) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, 8, tzinfo=UTC))
    client = client_for(acme, clock, session_idle_minutes=30, session_absolute_hours=2)
    sign_in(client, EMAIL)
    clock.advance(timedelta(minutes=29))
    assert client.get("/").status_code == 200, "used within the idle time"
    clock.advance(timedelta(minutes=29))
    assert client.get("/").status_code == 200, "touched by the previous request"
    clock.advance(timedelta(minutes=31))
    assert client.get("/", follow_redirects=False).status_code == 303, "idle too long"

    sign_in(client, EMAIL)
    for _ in range(4):  # used every 25 minutes: never idle, but 2 hours after sign-in…
        clock.advance(timedelta(minutes=25))
        assert client.get("/").status_code == 200
    clock.advance(timedelta(minutes=25))
    assert client.get("/", follow_redirects=False).status_code == 303, "absolute expiry"


def test_ten_failures_refuse_the_eleventh_even_with_the_right_password(
    acme: Database,
) -> None:
    """Each attempt from another address (behind a trusted proxy), on one of two app
    instances in turn: only the account's count can refuse."""
    first, second = client_for(acme, trust_proxy=True), client_for(acme, trust_proxy=True)
    for attempt in range(10):
        client = first if attempt % 2 else second
        client.headers["X-Forwarded-For"] = f"192.0.2.{attempt}"
        answer = sign_in(client, EMAIL, f"wrong password {attempt}")
        assert answer.status_code == 401
    first.headers["X-Forwarded-For"] = "192.0.2.200"
    refused = sign_in(first, EMAIL, PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "900"
    assert "Réessayez dans 15 minutes" in refused.text
    assert COOKIE not in refused.headers.get("set-cookie", "")
    english = client_for(acme)
    english.headers["Accept-Language"] = "en"
    assert "Try again in 15 minutes" in sign_in(english, EMAIL, PASSWORD).text


def test_the_throttle_holds_per_address_and_across_two_app_instances(
    acme: Database, clock: FrozenClock
) -> None:
    make_user(acme, clock, "other@acme.example", {"acme": "viewer"})
    first, second = client_for(acme), client_for(acme)  # two processes, one database
    for attempt in range(10):  # ten different accounts from one address, shared between both
        client = first if attempt % 2 else second
        assert sign_in(client, f"guess{attempt}@acme.example").status_code == 401
    assert sign_in(first, "other@acme.example").status_code == 429, "per address"
    assert sign_in(second, EMAIL).status_code == 429, "the other instance counts them too"


def test_a_legacy_scrypt_hash_is_rehashed_to_argon2id_at_sign_in(acme: Database) -> None:
    with session_scope(acme.factory) as session:
        user = session.scalars(select(User).where(User.email == EMAIL)).one()
        user.password_hash = legacy_scrypt_hash(PASSWORD, b"0123456789abcdef")
    answer = sign_in(client_for(acme), EMAIL)
    assert answer.status_code == 303
    with session_scope(acme.factory) as session:
        stored = session.scalars(select(User.password_hash).where(User.email == EMAIL)).one()
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert sign_in(client_for(acme), EMAIL).status_code == 303, "the new hash verifies"


class _CountingHasher(PasswordHasher):
    """The shipped hasher's parameters; records the cost parameters of every hash it
    verifies."""

    def __init__(self, real: PasswordHasher) -> None:
        p = real._parameters
        super().__init__(p.time_cost, p.memory_cost, p.parallelism, p.hash_len, p.salt_len)
        self.verified: list[Parameters] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append(extract_parameters(hash if isinstance(hash, str) else hash.decode()))
        return super().verify(hash, password)


def test_an_unknown_email_costs_the_same_hash_as_a_wrong_password(
    acme: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer's time is the argon2id verification's: an unknown account must run one,
    with the same cost parameters as a real account's hash (behaviour, not a stopwatch)."""
    counting = _CountingHasher(passwords._HASHER)
    monkeypatch.setattr(passwords, "_HASHER", counting)
    client = client_for(acme, trust_proxy=True)
    client.headers["X-Forwarded-For"] = "198.51.100.1"
    assert sign_in(client, EMAIL, "wrong password here").status_code == 401
    client.headers["X-Forwarded-For"] = "203.0.113.1"
    assert sign_in(client, "nobody@acme.example", "wrong password").status_code == 401
    assert len(counting.verified) == 2, "each answer verified exactly one hash"
    real, dummy = counting.verified
    assert real.type is Type.ID
    assert dummy == real
