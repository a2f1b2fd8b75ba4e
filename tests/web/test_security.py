"""Transport and browser hardening: allowed hosts (DNS rebinding), security headers on every
kind of response, cookie attributes (Secure over https or behind a trusted proxy saying
so), no inline script or style in any template, and the warning of ``serve`` beyond
loopback."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from httpx import Response

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.web.auth import COOKIE
from clameur.web.pages.common import TEMPLATES
from clameur.web.pages.login import LOGIN_COOKIE
from clameur.web.security import CSP, exposure_warning, is_loopback
from tests.conftest import Database, make_tenant
from tests.web.pages import PASSWORD, client_for, csrf_of, make_user, sign_in, signed_in

EMAIL = "agent@acme.example"


@pytest.fixture
def acme(db: Database, clock: FrozenClock) -> Database:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    make_user(db, clock, EMAIL, {"acme": "agent"})
    return db


def _cookies(answer: Response) -> dict[str, dict[str, str | bool]]:
    """Each Set-Cookie of the answer: its attributes (lower-case names)."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in answer.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            found[name] = {key: value for key, value in morsel.items() if value}
    return found


def test_another_host_gets_400_and_no_data(acme: Database) -> None:
    client = signed_in(acme, EMAIL)
    for path in ("/", "/t/acme", "/login", "/api/v1/health", "/static/clameur.css"):
        answer = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert answer.status_code == 400, path
        assert "Acme" not in answer.text
        assert "acme" not in answer.text
        assert len(answer.content) < 100, "a bare refusal"
        assert answer.headers["content-security-policy"] == CSP
    assert client.get("/", headers={"Host": "localhost:8000"}).status_code == 200, "any port"
    assert client.get("/", headers={"Host": "127.0.0.1"}).status_code == 200


def test_allowed_hosts_come_from_the_settings(acme: Database) -> None:
    client = client_for(acme, allowed_hosts="clameur.example.net")
    assert client.get("/login").status_code == 400, "localhost is not in the list any more"
    assert client.get("/login", headers={"Host": "clameur.example.net"}).status_code == 200


def test_every_kind_of_response_carries_the_security_headers(acme: Database) -> None:
    client = signed_in(acme, EMAIL)
    anonymous = client_for(acme)
    answers = {
        "page": client.get("/"),
        "login page": anonymous.get("/login"),
        "failed sign-in": sign_in(anonymous, EMAIL, "not the password"),
        "redirect": anonymous.get("/t/acme", follow_redirects=False),
        "page 404": client.get("/t/nope"),
        "unknown path 404": client.get("/no/such/page"),
        "csrf 403": client.post("/logout", data={}),
        "api": client.get("/api/v1/health"),
        "api 401": anonymous.get("/api/v1/me"),
        "static": client.get("/static/clameur.css"),
        "bad host 400": client.get("/", headers={"Host": "evil.example"}),
    }
    expected = {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "DENY",
    }
    for kind, answer in answers.items():
        for name, value in expected.items():
            assert answer.headers.get(name) == value, (kind, name, answer.status_code)
        cache = answer.headers.get("cache-control", "")
        assert ("no-store" in cache) == (kind != "static"), (kind, cache)
    assert answers["redirect"].status_code == 303
    assert answers["unknown path 404"].status_code == 404
    assert answers["static"].status_code == 200


def test_the_csp_forbids_inline_script_and_framing() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in CSP
    assert "unsafe-eval" not in CSP


@pytest.mark.parametrize("template", sorted(Path(TEMPLATES).glob("**/*.html")), ids=str)
def test_no_template_has_inline_script_style_or_handlers(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", text, re.IGNORECASE), "inline <script>"
    assert not re.search(r"<style\b", text, re.IGNORECASE), "inline <style>"
    assert not re.search(r"\sstyle\s*=", text, re.IGNORECASE), "style= attribute"
    assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), "event handler attribute"
    assert "javascript:" not in text
    assert "//" not in re.sub(r"https?://[^\"'\s]*clameur", "", text).replace("://", ""), (
        "no asset from another origin (CDN)"
    )


def _session_cookie(answer: Response) -> dict[str, str | bool]:
    assert answer.status_code == 303, answer.text
    return _cookies(answer)[COOKIE]


def test_cookies_are_httponly_samesite_lax_and_not_secure_over_http(acme: Database) -> None:
    client = client_for(acme)
    form = client.get("/login")
    login = _cookies(form)[LOGIN_COOKIE]
    session = _session_cookie(sign_in(client, EMAIL))
    for cookie in (login, session):
        assert cookie["httponly"] is True
        assert str(cookie["samesite"]).lower() == "lax"
        assert "secure" not in cookie
    assert session["path"] == "/"


def test_cookies_are_secure_over_https(acme: Database) -> None:
    client = client_for(acme, base_url="https://localhost")
    assert _cookies(client.get("/login"))[LOGIN_COOKIE]["secure"] is True
    session = _session_cookie(sign_in(client, EMAIL))
    assert session["secure"] is True
    assert session["httponly"] is True


def _sign_in_through_proxy(db: Database, *, trusted: bool) -> Response:
    """The app sees http; the proxy says https. A secure cookie is not sent back over the
    test's plain http, so the form's cookie is handed back by hand, as the browser would
    over the proxy's https."""
    client = client_for(db, trust_proxy=trusted)
    client.headers["X-Forwarded-Proto"] = "https"
    form = client.get("/login")
    nonce = _cookies(form)[LOGIN_COOKIE]
    assert (nonce.get("secure") is True) is trusted
    data = {"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": "/"}
    client.cookies.clear()
    return client.post(
        "/login",
        data=data,
        headers={"Cookie": f"{LOGIN_COOKIE}={form.cookies[LOGIN_COOKIE]}"},
        follow_redirects=False,
    )


def test_cookies_are_secure_behind_a_trusted_proxy_saying_https(acme: Database) -> None:
    assert _session_cookie(_sign_in_through_proxy(acme, trusted=True))["secure"] is True
    untrusted = _session_cookie(_sign_in_through_proxy(acme, trusted=False))
    assert "secure" not in untrusted, "a proxy it was not told to trust"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),  # noqa: S104 - the value under test
        ("::", False),
        ("192.168.1.10", False),
        ("clameur.example.net", False),
    ],
)
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    warning = exposure_warning(host, Settings())
    assert (warning is None) is loopback
    if warning:
        assert host in warning
        assert "TLS" in warning


def test_no_warning_behind_a_trusted_https_proxy() -> None:
    behind = Settings(trust_proxy=True, public_base_url="https://clameur.example.net")
    assert exposure_warning("0.0.0.0", behind) is None  # noqa: S104
    half = Settings(trust_proxy=True, public_base_url="http://clameur.example.net")
    assert exposure_warning("0.0.0.0", half) is not None  # noqa: S104


def test_an_unknown_page_is_an_html_page_for_browsers_and_problem_json_for_the_api(
    db: Database,
) -> None:
    from fastapi.testclient import TestClient

    from clameur.config import Settings
    from clameur.web import create_app

    client = TestClient(create_app(Settings(database_url=db.url)), base_url="http://127.0.0.1")
    page = client.get("/no/such/page", headers={"Accept": "text/html,*/*"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in page.text
    api = client.get("/api/v1/no/such/thing", headers={"Accept": "text/html,*/*"})
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
