"""The inbox in the browser tests: its page object (what a person does there and what they
see) and a small world to look at (a tenant, its agents, conversations imported through the
pipeline, some assigned)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from clameur.care.models import Conversation
from clameur.care.routing import assign
from clameur.clock import Clock
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from tests.conftest import Database, make_tenant
from tests.factories import acting
from tests.web.pages import make_user

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

AGENT = "lea@acme.example"
NEWCOMER = "nina@acme.example"
"""An agent with nothing assigned: the empty inbox."""
SUPERVISOR = "sam@acme.example"
MESSAGES = (
    "Ma commande 48213 n'est jamais arrivée, je veux être remboursée",
    "Toujours pas de réponse du service client depuis trois jours",
    "Le colis est arrivé abîmé, que faire ?",
    "Impossible de me connecter à mon compte depuis la mise à jour",
    "On m'a facturé deux fois le même abonnement",
)


def mention(external_id: str, text: str, handle: str, at: datetime) -> dict[str, Any]:
    return {
        "source": "email",
        "external_id": external_id,
        "text": f"acme: {text}",
        "created_at": at.isoformat(),
        "author": {"handle": handle, "name": handle.split("@")[0].title(), "followers": 240},
    }


def import_mentions(pipeline: Pipeline, path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    pipeline.import_file(path, tenant="acme")


@dataclass
class World:
    db: Database
    tenant_id: int
    mine: list[int]
    """The agent's conversations, highest priority first (as the inbox lists them)."""


def build_world(db: Database, pipeline: Pipeline, clock: Clock, tmp_path: Path) -> World:
    """Tenant ``acme``: five e-mail conversations (three assigned to the agent), the agent,
    a newcomer with nothing assigned, a supervisor."""
    make_tenant(db, clock, "acme", {"acme": ["acme"]})  # type: ignore[arg-type]
    users = {
        email: make_user(db, clock, email, {"acme": role})  # type: ignore[arg-type]
        for email, role in ((AGENT, "agent"), (NEWCOMER, "agent"), (SUPERVISOR, "supervisor"))
    }
    start = clock.now() - timedelta(hours=2)
    lines = [
        mention(f"m{n}", text, f"client{n}@example.org", start + timedelta(minutes=7 * n))
        for n, text in enumerate(MESSAGES)
    ]
    import_mentions(pipeline, tmp_path / "first.jsonl", lines)
    with session_scope(db.factory) as session:
        conversations = session.scalars(select(Conversation).order_by(Conversation.id)).all()
        assert len(conversations) == len(MESSAGES), "each e-mail opens a conversation"
        tenant_id = conversations[0].tenant_id
        agent = acting(session, users[AGENT], tenant_id)
        for conversation in conversations[:3]:
            assign(session, clock, agent, conversation.id, agent.user_id)
        mine = [c.id for c in conversations[:3]]
    with session_scope(db.factory) as session:
        order = session.execute(
            select(Conversation.id, Conversation.priority).where(Conversation.id.in_(mine))
        ).all()
    ranked = sorted(order, key=lambda r: (r.priority is None, -(r.priority or 0), r.id))
    return World(db, tenant_id, [r.id for r in ranked])


def later(minutes: int = 1) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


class InboxPage:
    """``/`` and ``/inbox``: the views, the list, the bulk bar, the keyboard."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self, view: str | None = None, **filters: str) -> InboxPage:
        params = {"view": view, **filters} if view else filters
        query = "&".join(f"{k}={v}" for k, v in params.items() if v)
        self.page.goto(f"{self.base}/inbox" + (f"?{query}" if query else ""))
        self.wait_until_live()
        return self

    def wait_until_live(self) -> None:
        """The list is on the page and its script has run."""
        self.page.wait_for_selector("#inbox-rows")
        self.page.wait_for_function("() => !!window.htmx")

    @property
    def heading(self) -> str:
        return self.page.locator("#inbox-title").inner_text()

    @property
    def row_ids(self) -> list[int]:
        return [
            int(i)
            for i in self.page.locator("#inbox-items > li.conv").evaluate_all(
                "rows => rows.map(r => r.dataset.id)"
            )
        ]

    def row(self, conversation_id: int) -> Locator:
        return self.page.locator(f"#conv-{conversation_id}")

    @property
    def current_id(self) -> int | None:
        found = self.page.locator("#inbox-items > li.conv.current")
        return int(found.get_attribute("data-id") or 0) if found.count() else None

    @property
    def focused_link(self) -> str | None:
        return self.page.evaluate(
            "() => document.activeElement && document.activeElement.getAttribute('href')"
        )

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def select(self, *conversation_ids: int) -> None:
        for conversation_id in conversation_ids:
            self.row(conversation_id).locator(".pick input").check()

    @property
    def selection_text(self) -> str:
        return self.page.locator("#bulk-count").inner_text()

    def bulk(self, label: re.Pattern[str] | str) -> None:
        self.page.locator("#bulk-form .bulk-actions button", has_text=label).click()

    def wait_for_rows(self, expected: list[int], timeout: float = 15_000) -> None:
        self.page.wait_for_function(
            "ids => JSON.stringify([...document.querySelectorAll('#inbox-items > li.conv')]"
            ".map(r => Number(r.dataset.id))) === JSON.stringify(ids)",
            arg=expected,
            timeout=timeout,
        )

    def wait_for_row(self, conversation_id: int, timeout: float = 15_000) -> Locator:
        row = self.row(conversation_id)
        row.wait_for(timeout=timeout)
        return row

    @property
    def toasts(self) -> list[str]:
        return self.page.locator("#toast > div").all_inner_texts()

    @property
    def empty_text(self) -> str:
        return self.page.locator("#inbox-rows .empty").inner_text()

    def view_link(self, kind: str) -> Locator:
        return self.page.locator(f"#inbox-views a.view-{kind}")

    def keys_dialog(self) -> Locator:
        return self.page.locator("dialog#keys")
