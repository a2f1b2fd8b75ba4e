"""What the browser tests share: one Debian Chromium for the session (Playwright drives it
through ``executable_path``; no browser download), a real uvicorn server on a free loopback
port, pages that record CSP violations and script errors, axe-core (vendored from npm in
``tests/web/vendor``), and screenshots into ``artifacts/screenshots/`` (git-ignored) at
desktop and phone widths, for a person to look at."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from clameur.config import Settings
from clameur.web import create_app
from tests.conftest import REQUIRE
from tests.smtp import free_port

if TYPE_CHECKING:
    from fastapi import FastAPI
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE:
            pytest.fail(f"Chromium required (CLAMEUR_REQUIRE_SERVICES=1) but: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Server:
    url: str
    app: FastAPI


@contextmanager
def running(database_url: str) -> Iterator[Server]:
    """A real uvicorn on a free loopback port, with the app's background-free pages."""
    import uvicorn

    port = free_port()
    app = create_app(Settings(database_url=database_url))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", app)
    finally:
        app.state.live.close()
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Watched:
    """A page and what went wrong in it: CSP violations, script errors."""

    page: Page
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.violations, self.violations
        assert not self.errors, self.errors


def watched_page(
    browser: Browser, *, locale: str = "fr-FR", viewport: dict[str, int] | None = None
) -> Watched:
    """A new context (its own cookies: another person) and its page."""
    context = browser.new_context(viewport=viewport or DESKTOP, locale=locale)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    watched = Watched(page)

    def on_console(message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            watched.violations.append(f"{page.url}: {text}")
        elif message.type == "error" and "Failed to load resource" not in text:
            watched.errors.append(f"{page.url}: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"{page.url}: {error}"))
    return watched


@pytest.fixture
def people(browser: Browser) -> Iterator[Any]:
    """``people("fr-FR")`` opens a page for one more person; all close after the test."""
    opened: list[Watched] = []

    def open_one(locale: str = "fr-FR", viewport: dict[str, int] | None = None) -> Watched:
        watched = watched_page(browser, locale=locale, viewport=viewport)
        opened.append(watched)
        return watched

    try:
        yield open_one
    finally:
        for watched in opened:
            watched.page.context.close()


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of the given impacts on the page as it is now."""
    page.evaluate(AXE.read_text(encoding="utf-8"))  # not a <script>: the CSP refuses inline
    results = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {v['nodes']}"
        for v in results
        if v["impact"] in impacts
    ]


def screenshot(page: Page, name: str, *, phone: bool = True) -> list[Path]:
    """The page at desktop width (the viewport a person sees first), then at phone width
    (the whole page), into ``artifacts/screenshots/``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or DESKTOP
    written = [SCREENSHOTS / f"{name}-desktop.png"]
    page.screenshot(path=str(written[0]))
    if phone:
        page.set_viewport_size(PHONE)
        written.append(SCREENSHOTS / f"{name}-phone.png")
        page.screenshot(path=str(written[1]), full_page=True)
        page.set_viewport_size(size)
    return written


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form.login button[type=submit]")
    page.wait_for_load_state()
