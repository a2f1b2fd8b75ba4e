"""The pages in a real browser: Debian's Chromium driven by Playwright against a real
uvicorn server on a free loopback port. Sign in, see the tenant overview, switch tenant,
sign out; the browser reports no CSP violation on any page. Screenshots go to the test's
tmp dir, and one per page to /tmp/clameur-shots/ for a person to look at."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from clameur.config import Settings
from clameur.db import session_scope
from clameur.demo.load import ensure_demo_tenants, ensure_demo_users, load_demo
from clameur.detection.models import Alert
from clameur.pipeline import Pipeline
from clameur.tenancy import Brand, Tenant
from clameur.web import create_app
from tests.conftest import ON_SQLITE, Database
from tests.smtp import free_port
from tests.web.pages import (
    PASSWORD,
    ApiDocsPage,
    Header,
    LoginPage,
    NoRolePage,
    NotFoundPage,
    OverviewPage,
    make_user,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

SHOTS = Path("/tmp/clameur-shots")  # noqa: S108 - where the person running the tests looks


@pytest.fixture
def server(db: Database, pipeline: Pipeline, tmp_path: Path) -> Iterator[str]:
    """A real uvicorn on a free loopback port, over the demo data and users."""
    import uvicorn

    load_demo(pipeline, tmp_path, count=240, seed=7)
    ensure_demo_tenants(pipeline)
    ensure_demo_users(pipeline, password=PASSWORD)
    _an_alert(db)
    make_user(db, pipeline.clock, "nobody@clameur.example", {})
    port = free_port()
    app = create_app(Settings(database_url=db.url))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)


def _an_alert(db: Database) -> None:
    at = datetime(2026, 11, 16, 9, tzinfo=UTC)
    with session_scope(db.factory) as session:
        volta = session.scalars(select(Tenant).where(Tenant.slug == "volta")).one()
        brand = session.scalars(select(Brand).where(Brand.tenant_id == volta.id)).first()
        session.add(
            Alert(
                tenant_id=volta.id,
                brand_id=brand.id if brand else None,
                kind="negative_spike",
                severity="high",
                key="browser:0",
                triggered_at=at,
                updated_at=at,
                status="open",
                summary="47 negative mentions in 30 minutes (usually 6): « panne réseau »",
                count=47,
                evidence={},
            )
        )


class Shots:
    """Screenshots of each page: into the test's tmp dir, and a copy in /tmp/clameur-shots."""

    def __init__(self, page: Page, where: Path, suffix: str) -> None:
        self.page, self.where, self.suffix = page, where, suffix
        SHOTS.mkdir(parents=True, exist_ok=True)

    def take(self, name: str) -> None:
        path = self.where / f"{name}.png"
        self.page.screenshot(path=str(path))  # the viewport: what a person sees first
        if self.suffix == "sqlite":
            shutil.copyfile(path, SHOTS / f"{name}.png")


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, locale="fr-FR", extra_http_headers={}
    )
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(f"{opened.url}: {message.text}")

    opened.on("console", on_console)
    opened.violations = violations  # type: ignore[attr-defined]
    try:
        yield opened
    finally:
        context.close()


def _no_csp_violation(page: Page) -> None:
    violations: list[str] = page.violations  # type: ignore[attr-defined]
    assert not violations, violations


def test_sign_in_overview_switch_and_sign_out(
    server: str, page: Page, tmp_path: Path, database_url: str
) -> None:
    shots = Shots(page, tmp_path, "sqlite" if database_url.startswith("sqlite") else "pg")
    login = LoginPage(page, server).open()
    assert login.is_shown
    shots.take("login")

    login.sign_in("operator@clameur.example", "not the right password")
    assert login.errors == ["L'adresse e-mail ou le mot de passe est incorrect."]
    shots.take("login-error")

    login.sign_in("operator@clameur.example", PASSWORD)
    assert page.url == f"{server}/", "signed in: the inbox"
    overview = OverviewPage(page, server).open()
    assert overview.tenant_name == "Maison Lune", "the first tenant by slug"
    assert overview.header.user == "operator@clameur.example"
    assert len(overview.mention_texts) > 10
    assert [t.split(" (")[0] for t in overview.header.tenants] == ["Maison Lune", "Groupe Volta"]
    shots.take("overview")

    overview.header.switch_to("volta")
    assert page.url == f"{server}/"
    overview.open()
    assert overview.tenant_name == "Groupe Volta"
    assert overview.alert_summaries, "the alert is shown"
    shots.take("overview-switched")

    missing = NotFoundPage(page, server).open("ghost")
    assert missing.heading == "Page introuvable"
    shots.take("not-found")

    Header(page).sign_out()
    assert LoginPage(page, server).is_shown
    page.goto(f"{server}/t/volta")
    assert page.url.startswith(f"{server}/login?next=")
    assert LoginPage(page, server).is_shown, "signed out: the pages ask to sign in again"
    _no_csp_violation(page)


def test_next_after_sign_in_and_an_agent_sees_one_tenant(server: str, page: Page) -> None:
    page.goto(f"{server}/t/volta?page=2")
    login = LoginPage(page, server)
    assert login.is_shown
    login.sign_in("agent@volta.example", PASSWORD)
    assert page.url == f"{server}/t/volta?page=2"
    overview = OverviewPage(page, server)
    assert overview.tenant_name == "Groupe Volta"
    assert page.locator("#tenant-switch").count() == 0, "one tenant: no switcher"
    assert page.locator(".current-tenant").inner_text().startswith("Groupe Volta")
    page.goto(f"{server}/t/maisonlune")
    assert NotFoundPage(page, server).heading == "Page introuvable"
    _no_csp_violation(page)


def test_no_role_page_and_english(
    browser: Browser, server: str, tmp_path: Path, database_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 700}, locale="en-GB")
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text))
    try:
        login = LoginPage(page, server).open()
        login.sign_in("nobody@clameur.example", PASSWORD)
        assert NoRolePage(page, server).heading == "No client"
        if database_url.startswith("sqlite"):
            Shots(page, tmp_path, "sqlite").take("no-role")
        page.goto(f"{server}/login")
        LoginPage(page, server).sign_in("nobody@clameur.example", "wrong wrong wrong")
        assert LoginPage(page, server).errors == ["The e-mail address or the password is wrong."]
    finally:
        context.close()
    assert not [v for v in violations if "Content Security Policy" in v], violations
    assert os.path.exists(SHOTS)


@ON_SQLITE
def test_the_api_docs_render_offline_in_the_browser(
    server: str, page: Page, tmp_path: Path
) -> None:
    docs = ApiDocsPage(page, server).open()
    page.wait_for_selector(".opblock-summary-path")
    assert docs.errors == [], "Swagger UI renders the OpenAPI document FastAPI writes"
    paths = [path.replace("\u200b", "") for path in docs.paths]
    assert "/api/v1/me" in paths
    assert "/api/v1/conversations/{conversation_id}/replies" in paths
    Shots(page, tmp_path, "docs").take("api-docs")
    _no_csp_violation(page)
