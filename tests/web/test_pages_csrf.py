"""CSRF: every state-changing form found on the pages (read from their HTML, not listed by
hand) is refused without its token and with a wrong one, and changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.tenancy import AuthSession
from clameur.web.auth import COOKIE
from tests.conftest import Database, make_tenant
from tests.web.pages import Form, client_for, forms_of, make_user, signed_in

EMAIL = "two@x.example"


@pytest.fixture
def two(db: Database, clock: FrozenClock) -> Database:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    make_tenant(db, clock, "beta", {"beta": ["beta"]})
    make_user(db, clock, EMAIL, {"acme": "agent", "beta": "agent"})
    return db


def _state(db: Database) -> list[tuple[str, int | None, bool]]:
    with session_scope(db.factory) as session:
        rows = session.scalars(select(AuthSession).order_by(AuthSession.id)).all()
        return [(row.id, row.tenant_id, row.revoked_at is None) for row in rows]


def _post_forms(client: TestClient, path: str) -> list[Form]:
    page = client.get(path)
    assert page.status_code == 200
    return [form for form in forms_of(page.text) if form.method == "post"]


def _fill(form: Form) -> dict[str, str]:
    fields = dict(form.fields)
    if "email" in fields:
        fields.update(email=EMAIL, password="Grenadine-sur-le-quai-42")
    if "tenant" in fields:
        fields["tenant"] = "beta"
    return fields


def test_every_state_changing_form_carries_a_token_and_is_refused_without(
    two: Database,
) -> None:
    client = signed_in(two, EMAIL)
    forms = {form.action: form for form in _post_forms(client, "/")}
    forms.update({form.action: form for form in _post_forms(client_for(two), "/login")})
    assert set(forms) == {"/switch", "/logout", "/login", "/inbox/bulk"}
    signing_out_last = sorted(forms.items(), key=lambda item: item[0] == "/logout")
    for action, form in signing_out_last:
        assert form.fields.get("csrf_token"), f"{action}: no token in the form"
        for token in (None, "", "forged-token"):
            before = _state(two)
            fields = _fill(form)
            if token is None:
                del fields["csrf_token"]
            else:
                fields["csrf_token"] = token
            answer = client.post(action, data=fields, follow_redirects=False)
            assert answer.status_code == 403, (action, token, answer.status_code)
            assert COOKIE not in answer.headers.get("set-cookie", ""), action
            assert _state(two) == before, f"{action} changed something without its token"
        fields = _fill(form)
        if action == "/login":
            fresh = client_for(two)
            fresh.get("/login")  # its own pre-session cookie: the token of another form
            answer = fresh.post(action, data=fields, follow_redirects=False)
            assert answer.status_code == 403, "a token is only good with its own cookie"
            continue
        if action == "/inbox/bulk":  # with its token it needs rows: tests/web/test_inbox_page.py
            continue
        answer = client.post(action, data=fields, follow_redirects=False)
        assert answer.status_code == 303, f"{action} works with its token"


def test_the_session_token_of_one_session_does_not_serve_another(two: Database) -> None:
    first, second = signed_in(two, EMAIL), signed_in(two, EMAIL)
    posted = [form for form in forms_of(first.get("/").text) if form.method == "post"]
    token = posted[0].fields["csrf_token"]
    answer = second.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 403
    assert second.get("/").status_code == 200, "still signed in"


def test_refused_login_attempts_without_a_token_are_not_counted(two: Database) -> None:
    client = client_for(two)
    client.get("/login")
    for _ in range(12):
        client.post("/login", data={"email": EMAIL, "password": "x" * 12, "csrf_token": "x"})
    with session_scope(two.factory) as session:
        from clameur.tenancy.models import LoginAttempt

        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
