"""Hostile text on every page: ``<script>``, an attribute breakout, the RTL override and a
100 kB mention render escaped, and every piece of untrusted text is bidi-isolated (inside a
``<bdi>`` or an element with ``dir="auto"``; in ``<title>`` and ``<option>``, which cannot
hold one, without any bidi control)."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from httpx import Response
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.detection.models import Alert
from clameur.pipeline import Pipeline
from clameur.tenancy import Brand, add_brand, add_tenant
from tests.conftest import Database
from tests.factories import record, write_jsonl
from tests.web.pages import client_for, csrf_of, make_user, sign_in, signed_in

RLO = "\u202e"
MARK = "HOSTILE"
PAYLOAD = f'{MARK}<script>alert(1)</script>"><img src=x onerror=alert(1)>{RLO}gpj.exe'
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class _Isolation(HTMLParser):
    """Records every text node that holds :data:`MARK` with the elements around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.found: list[tuple[str, list[str], bool]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if MARK not in data and RLO not in data:
            return
        isolated = any(tag == "bdi" or attrs.get("dir") == "auto" for tag, attrs in self.stack)
        self.found.append((data, [tag for tag, _ in self.stack], isolated))


def _ours(tag: str, attrs: dict[str, str | None]) -> bool:
    """The app's own elements: scripts and images from /static, the server-drawn charts."""
    if tag in {"script", "img"}:
        return (attrs.get("src") or "").startswith("/static/")
    return tag == "svg" and attrs.get("class") == "chart" and attrs.get("role") == "img"


def _check(answer: Response, where: str, *, expect_mark: bool = True) -> int:
    body = answer.text
    parser = _Isolation()
    parser.feed(body)
    foreign = [
        (tag, attrs)
        for tag, attrs in parser.tags
        if tag in {"script", "img", "iframe", "svg"} and not _ours(tag, attrs)
    ]
    assert not foreign, f"{where}: {foreign}"
    injected = [name for _, attrs in parser.tags for name in attrs if name.startswith("on")]
    assert not injected, f"{where}: an event handler attribute was injected: {injected}"
    assert "<script>alert" not in body, where
    assert "<img src=x" not in body, where
    for data, stack, isolated in parser.found:
        if stack and stack[-1] in {"title", "option"}:
            assert not BIDI & set(data), f"{where}: a bidi control in <{stack[-1]}>"
        else:
            assert isolated, f"{where}: untrusted text not isolated in {stack}: {data[:80]!r}"
    if expect_mark:
        assert parser.found, f"{where}: the hostile text is not on the page"
    return len(parser.found)


@pytest.fixture
def hostile(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> Database:
    at = datetime(2026, 11, 16, 9, tzinfo=UTC)
    with session_scope(db.factory) as session:
        for slug in ("acme", "other"):
            tenant = add_tenant(session, clock, slug, f"{PAYLOAD} {slug}")
            add_brand(session, clock, tenant, slug, f"{PAYLOAD} brand", [slug])
    long_text = "acme " + PAYLOAD + " " + "x" * 99_000
    lines = [
        record(
            "1",
            f"acme {PAYLOAD}",
            author={"handle": f"{MARK}{RLO}<b>h", "name": PAYLOAD},
            url="javascript:alert(1)",
        ),
        record("2", long_text, created_at="2026-11-16T10:00:00Z"),
    ]
    pipeline.import_file(write_jsonl(tmp_path / "h.jsonl", lines), tenant="acme")
    with session_scope(db.factory) as session:
        brand = session.scalars(select(Brand).where(Brand.slug == "acme")).one()
        session.add(
            Alert(
                tenant_id=brand.tenant_id,
                brand_id=brand.id,
                kind="negative_spike",
                severity="high",
                key="spike:0",
                triggered_at=at,
                updated_at=at,
                status="open",
                summary=PAYLOAD,
                count=3,
                evidence={},
            )
        )
    make_user(db, clock, "agent@acme.example", {"acme": "agent", "other": "viewer"})
    make_user(db, clock, f"{MARK}{RLO}<i>@x.example", {})
    return db


def test_every_page_renders_hostile_text_escaped_and_isolated(hostile: Database) -> None:
    client = signed_in(hostile, "agent@acme.example")
    home = client.get("/dashboard")
    assert home.status_code == 200
    found = _check(home, "/dashboard")
    assert found >= 6, "tenant, brand, handle, name, mention text, alert summary"
    assert len(home.text) < 200_000, "the 100 kB mention is shortened on the overview"
    assert home.text.count('class="mention"') == 2
    assert "x" * 1900 in home.text
    assert 'href="javascript:' not in home.text
    _check(client.get("/t/other"), "/t/other")
    missing = client.get(f"/t/{PAYLOAD.replace('/', '')}")  # one path segment
    assert missing.status_code == 404
    _check(missing, "404")
    refused = client.post("/switch", data={"tenant": "other"})
    assert refused.status_code == 403
    _check(refused, "403")

    nobody = signed_in(hostile, f"{MARK}{RLO}<i>@x.example")
    _check(nobody.get("/"), "no role")

    anonymous = client_for(hostile)
    _check(anonymous.get("/login", params={"next": f"/{PAYLOAD}"}), "/login", expect_mark=False)
    wrong = sign_in(anonymous, f"{PAYLOAD}@x.example", "not the password")
    assert wrong.status_code == 401
    _check(wrong, "/login with errors", expect_mark=False)
    assert "&lt;script&gt;" in wrong.text, "the e-mail is given back, escaped"
    assert csrf_of(wrong.text)
