"""What a signed-in user sees: only the tenants they hold a role in, their current tenant at
``/``, the switcher, the same 404 for another tenant as for none, a plain page without any
role; and every page route (read from the app, not listed by hand) behind the session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.tenancy import AuthSession, Tenant
from tests.conftest import Database, make_tenant
from tests.web.pages import client_for, csrf_of, forms_of, make_user, signed_in


@pytest.fixture
def three(db: Database, clock: FrozenClock) -> Database:
    for slug in ("acme", "beta", "gamma"):
        make_tenant(db, clock, slug, {slug: [slug]})
    make_user(db, clock, "two@x.example", {"beta": "viewer", "acme": "supervisor"})
    make_user(db, clock, "none@x.example", {})
    make_user(db, clock, "ops@x.example", {}, operator=True)
    return db


def _options(html: str) -> list[str]:
    return re.findall(r'<option value="([^"]+)"', html)


def test_the_user_sees_only_their_tenants_and_starts_in_the_first(three: Database) -> None:
    client = signed_in(three, "two@x.example")
    home = client.get("/dashboard")
    assert home.status_code == 200
    assert _options(home.text) == ["acme", "beta"]
    assert "Gamma" not in home.text
    assert "<h1><bdi>Acme</bdi>" in home.text
    assert 'class="role-badge" data-role="supervisor">superviseur·e<' in home.text
    assert client.get("/t/beta").status_code == 200


def test_another_tenant_is_as_missing_as_no_tenant(three: Database) -> None:
    client = signed_in(three, "two@x.example")
    hidden, missing = client.get("/t/gamma"), client.get("/t/nope")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert "Gamma" not in hidden.text
    assert hidden.text.replace("gamma", "SLUG") == missing.text.replace("nope", "SLUG")


def test_switching_tenant_changes_the_overview_and_the_session(three: Database) -> None:
    client = signed_in(three, "two@x.example")
    home = client.get("/dashboard")
    switcher = next(form for form in forms_of(home.text) if form.action == "/switch")
    assert switcher.fields["tenant"] == "acme", "the current tenant is selected"
    answer = client.post(
        "/switch",
        data={"tenant": "beta", "csrf_token": switcher.fields["csrf_token"]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    after = client.get("/dashboard")
    assert "<h1><bdi>Beta</bdi>" in after.text
    assert 'class="role-badge" data-role="viewer">lecteur client<' in after.text
    with session_scope(three.factory) as session:
        beta = session.scalars(select(Tenant).where(Tenant.slug == "beta")).one()
        row = session.scalars(select(AuthSession)).one()
        assert row.tenant_id == beta.id


def test_switching_to_a_tenant_without_a_role_is_refused(three: Database) -> None:
    client = signed_in(three, "two@x.example")
    token = csrf_of(client.get("/dashboard").text)
    answer = client.post("/switch", data={"tenant": "gamma", "csrf_token": token})
    assert answer.status_code == 404
    assert "<h1><bdi>Acme</bdi>" in client.get("/dashboard").text, "still in its tenant"


def test_a_user_without_any_role_sees_a_plain_page(three: Database) -> None:
    client = signed_in(three, "none@x.example")
    home = client.get("/dashboard")
    assert home.status_code == 200
    assert "Aucun client" in home.text
    assert "<option" not in home.text
    assert 'action="/logout"' in home.text, "they can still sign out"
    assert client.get("/t/acme").status_code == 404


def test_an_operator_opens_every_tenant(three: Database) -> None:
    client = signed_in(three, "ops@x.example")
    assert _options(client.get("/dashboard").text) == ["acme", "beta", "gamma"]
    assert client.get("/t/gamma").status_code == 200


def test_a_role_granted_after_sign_in_is_picked_up(three: Database, clock: FrozenClock) -> None:
    from clameur.tenancy import get_user, grant

    client = signed_in(three, "none@x.example")
    assert "Aucun client" in client.get("/dashboard").text
    with session_scope(three.factory) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.slug == "gamma")).one()
        grant(session, clock, get_user(session, "none@x.example"), tenant.id, "agent")
    assert "<h1><bdi>Gamma</bdi>" in client.get("/dashboard").text


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every HTTP route of the app (FastAPI nests included routers)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _routes(nested.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, set(route.methods)


def test_every_page_route_needs_a_session(three: Database) -> None:
    client = client_for(three)
    pages = [
        (path, method)
        for path, methods in _routes(list(client.app.routes))  # type: ignore[attr-defined]
        if not path.startswith(("/api/", "/static", "/login"))
        for method in methods - {"HEAD"}
    ]
    assert {path for path, _ in pages} >= {"/", "/t/{slug}", "/switch", "/logout", "/metrics"}
    for path, method in pages:
        if path == "/metrics":  # read by Prometheus, not people: refused, not redirected
            answer = client.request(method, path, follow_redirects=False)
            assert answer.status_code == 401, answer.text
            continue
        answer = client.request(method, path.replace("{slug}", "acme"), follow_redirects=False)
        assert answer.status_code == 303, (method, path, answer.text)
        assert answer.headers["location"].startswith("/login?next=")
