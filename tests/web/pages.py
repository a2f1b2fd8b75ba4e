"""Helpers for the pages' tests: accounts, signing a TestClient in, reading forms; and the
page objects of the browser tests (one class per page: its actions and what it shows)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from fastapi.testclient import TestClient

from clameur.clock import Clock, FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.tenancy import Tenant, add_user, grant
from clameur.web import create_app

if TYPE_CHECKING:
    from httpx import Response
    from playwright.sync_api import Page

    from tests.conftest import Database

PASSWORD = "Grenadine-sur-le-quai-42"
BASE = "http://localhost"
"""An allowed host (TestClient's default ``testserver`` is not: it gets a 400)."""


def make_user(
    db: Database,
    clock: Clock,
    email: str,
    roles: Mapping[str, str],
    *,
    password: str = PASSWORD,
    operator: bool = False,
) -> int:
    """A user with ``roles`` ``{tenant slug: role}``; returns the user id."""
    from sqlalchemy import select

    with session_scope(db.factory) as session:
        user = add_user(session, clock, email, password=password, operator=operator)
        for slug, role in roles.items():
            tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
            assert tenant is not None, slug
            grant(session, clock, user, tenant.id, role)
        return user.id


def client_for(
    db: Database, clock: FrozenClock | None = None, *, base_url: str = BASE, **settings: Any
) -> TestClient:
    app = create_app(Settings(database_url=db.url, **settings))
    if clock is not None:
        app.state.clock = clock
    return TestClient(app, base_url=base_url)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def sign_in(
    client: TestClient, email: str, password: str = PASSWORD, *, next_path: str = "/"
) -> Response:
    """GET /login then POST it (not following the redirect)."""
    form = client.get("/login", params={"next": next_path})
    assert form.status_code == 200, form.text
    data = {"email": email, "password": password, "csrf_token": csrf_of(form.text)}
    return client.post("/login", data={**data, "next": next_path}, follow_redirects=False)


def signed_in(
    db: Database, email: str, clock: FrozenClock | None = None, **settings: Any
) -> TestClient:
    client = client_for(db, clock, **settings)
    answer = sign_in(client, email)
    assert answer.status_code == 303, answer.text
    return client


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").lower()))
        elif tag in {"input", "select"} and self.forms and values.get("name"):
            self.forms[-1].fields[values["name"]] = values.get("value", "")
        elif tag == "option" and self.forms and "selected" in values:
            *_, last = self.forms[-1].fields
            self.forms[-1].fields[last] = values.get("value", "")


def forms_of(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


# -- page objects (Playwright) ----------------------------------------------------------------


class LoginPage:
    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self, next_path: str | None = None) -> LoginPage:
        suffix = f"?next={next_path}" if next_path else ""
        self.page.goto(f"{self.base}/login{suffix}")
        return self

    def sign_in(self, email: str, password: str) -> None:
        self.page.get_by_label(re.compile("e-mail", re.IGNORECASE)).fill(email)
        self.page.get_by_label(re.compile("mot de passe|password", re.IGNORECASE)).fill(password)
        self.page.locator("form.login button[type=submit]").click()
        self.page.wait_for_load_state()

    @property
    def errors(self) -> list[str]:
        return self.page.locator(".error-summary li").all_inner_texts()

    @property
    def is_shown(self) -> bool:
        return self.page.locator("form.login").count() == 1


class Header:
    """The header every signed-in page carries: the tenant switcher and sign-out."""

    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def user(self) -> str:
        return self.page.locator(".who bdi").inner_text()

    @property
    def tenants(self) -> list[str]:
        return self.page.locator("#tenant-switch option").all_inner_texts()

    def switch_to(self, slug: str) -> None:
        self.page.select_option("#tenant-switch", slug)
        self.page.locator("form.switcher button").click()
        self.page.wait_for_load_state()

    def sign_out(self) -> None:
        self.page.locator("form.signout button").click()
        self.page.wait_for_load_state()


class OverviewPage:
    """``/dashboard`` or ``/t/{slug}``: a tenant's alerts and latest mentions."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base
        self.header = Header(page)

    def open(self, slug: str | None = None) -> OverviewPage:
        self.page.goto(f"{self.base}/t/{slug}" if slug else f"{self.base}/dashboard")
        return self

    @property
    def tenant_name(self) -> str:
        return self.page.locator("h1 bdi").inner_text()

    @property
    def mention_texts(self) -> list[str]:
        return self.page.locator("tr.mention .body").all_inner_texts()

    @property
    def alert_summaries(self) -> list[str]:
        return self.page.locator(".alert .summary").all_inner_texts()

    def label_tag(self, external_id: str, kind: str) -> Any:
        """The sentiment or intent tag of one of the latest mentions (a Locator)."""
        return self.page.locator(
            f'tr.mention[data-external-id="{external_id}"] .analysis .tag[data-{kind}]'
        )

    def bars(self, sentiment: str) -> Any:
        """The segments of the mentions-per-day chart for one sentiment (``unknown``: not
        analysed)."""
        return self.page.locator(f"svg.chart rect.s-{sentiment}")

    @property
    def legend(self) -> str:
        return self.page.locator(".legend").first.inner_text()


class NotFoundPage:
    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base
        self.header = Header(page)

    def open(self, slug: str) -> NotFoundPage:
        self.page.goto(f"{self.base}/t/{slug}")
        return self

    @property
    def heading(self) -> str:
        return self.page.locator("h1").inner_text()


class NoRolePage:
    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base
        self.header = Header(page)

    @property
    def heading(self) -> str:
        return self.page.locator("h1").inner_text()


class ApiDocsPage:
    """Swagger UI at /api/v1/docs, served by the app (no CDN)."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self) -> ApiDocsPage:
        self.page.goto(f"{self.base}/api/v1/docs")
        self.page.wait_for_selector(".opblock-summary-path, .errors-wrapper, .info .title")
        return self

    @property
    def paths(self) -> list[str]:
        return self.page.locator(".opblock-summary-path").all_inner_texts()

    @property
    def errors(self) -> list[str]:
        return self.page.locator(".errors-wrapper, .version-pragma").all_inner_texts()
