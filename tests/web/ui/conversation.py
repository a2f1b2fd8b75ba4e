"""The conversation page in tests: the data it shows (a small world of two tenants) and its
page object for the browser tests (what an agent does there and what they see)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from clameur.care import contacts, sla
from clameur.care.models import Conversation
from clameur.care.teams import add_member, add_queue, add_team
from clameur.clock import Clock
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from clameur.tenancy import Tenant
from clameur.tenancy.accounts import set_password
from clameur.tenancy.models import User
from tests.conftest import Database, make_tenant
from tests.factories import acting, lead, member, write_jsonl
from tests.web.pages import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

AGENT = "zoe@acme.example"
COLLEAGUE = "marc@acme.example"
SUPERVISOR = "sup@acme.example"
VIEWER = "client@acme.example"
OTHER_ADMIN = "admin@bravo.example"
CUSTOMER_TEXT = "@acme ma commande 48213 n'est jamais arrivée, je veux être remboursée"


@dataclass
class World:
    """Tenant ``acme``: a Twitter conversation answering an influencer's public post (its
    contact also wrote by e-mail: a second conversation, merged), a back-office team with
    required fields, an SLA policy; its agents, supervisor and viewer. Tenant ``bravo``:
    one conversation of its own."""

    db: Database
    tenant_id: int
    conversation_id: int
    email_conversation_id: int
    other_conversation_id: int
    team_id: int
    back_office_id: int
    users: dict[str, int]


def _line(
    start: datetime, external_id: str, text: str, minutes: int, **extra: Any
) -> dict[str, Any]:
    at = (start + timedelta(minutes=minutes)).isoformat()
    base: dict[str, Any] = {
        "source": "twitter",
        "external_id": external_id,
        "text": text,
        "created_at": at,
        "author": {"handle": "julie_t", "name": "Julie Tessier", "followers": 120},
        "url": f"https://x.example/julie_t/status/{external_id}",
    }
    base.update(extra)
    return base


def build_world(
    db: Database,
    pipeline: Pipeline,
    clock: Clock,
    tmp: Path,
    *,
    customer: str = "",
    author: dict[str, Any] | None = None,
    url: str | None = None,
    start: datetime | None = None,
) -> World:
    """The world; its mentions begin at ``start`` (default: two hours before the clock)."""
    start = start or clock.now() - timedelta(hours=2)
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    make_tenant(db, clock, "bravo", {"bravo": ["bravo"]})
    with session_scope(db.factory) as session:
        acme = session.scalars(select(Tenant).where(Tenant.slug == "acme")).one()
        bravo = session.scalars(select(Tenant).where(Tenant.slug == "bravo")).one()
        sla.set_policy(session, acme.id, first_response_minutes=240, resolution_minutes=2880)
        boss = lead(session, clock, acme.id)
        users = {
            AGENT: member(session, clock, AGENT, acme.id, "agent", name="Zoé Martin").id,
            COLLEAGUE: member(session, clock, COLLEAGUE, acme.id, "agent", name="Marc Petit").id,
            SUPERVISOR: member(session, clock, SUPERVISOR, acme.id, "supervisor", name="Sam").id,
            VIEWER: member(session, clock, VIEWER, acme.id, "viewer", name="Chloé (client)").id,
            OTHER_ADMIN: member(session, clock, OTHER_ADMIN, bravo.id, "admin", name="B").id,
        }
        team = add_team(session, clock, boss, "Social")
        for email in (AGENT, COLLEAGUE):
            add_member(session, clock, boss, team.id, users[email])
        add_queue(session, clock, boss, "Twitter", team_id=team.id)
        back = add_team(
            session,
            clock,
            boss,
            "Facturation",
            kind="back_office",
            sla_minutes=120,
            required_fields=["order_number"],
        )
        for user in session.scalars(select(User)):
            set_password(session, user, PASSWORD)
        tenant_id, bravo_id, team_id, back_id = acme.id, bravo.id, team.id, back.id
    parent = _line(
        start,
        "post-1",
        "acme lance sa nouvelle offre fibre, qu'en pensez-vous ?",
        0,
        author={"handle": "bigvoice", "name": "Big Voice", "followers": 250_000, "verified": True},
        url="https://x.example/bigvoice/status/post-1",
    )
    lines = [
        parent,
        _line(
            start,
            "t-1",
            customer or CUSTOMER_TEXT,
            10,
            in_reply_to="post-1",
            **({"author": author} if author else {}),
            **({"url": url} if url else {}),
        ),
        _line(
            start,
            "e-1",
            "acme : toujours rien reçu pour la commande 48213",
            20,
            source="email",
            author={"handle": "julie@example.org", "name": "Julie Tessier"},
            url=None,
        ),
    ]
    pipeline.import_file(write_jsonl(tmp / "acme.jsonl", lines), tenant="acme")
    other = [
        _line(start, "b-1", "bravo ma box est en panne depuis hier", 5, author={"handle": "bob"}),
    ]
    pipeline.import_file(write_jsonl(tmp / "bravo.jsonl", other), tenant="bravo")
    with session_scope(db.factory) as session:

        def conversation_of(tenant: int, first: str) -> Conversation:
            return session.scalars(
                select(Conversation).where(
                    Conversation.tenant_id == tenant, Conversation.root_external_id == first
                )
            ).one()

        twitter = conversation_of(tenant_id, "t-1")
        email = conversation_of(tenant_id, "e-1")
        bob = conversation_of(bravo_id, "b-1")
        assert twitter.contact_id
        assert email.contact_id
        contacts.merge(
            session,
            acting(session, users[SUPERVISOR], tenant_id),
            twitter.contact_id,
            email.contact_id,
            at=clock.now() - timedelta(minutes=1),
        )
        ids = twitter.id, email.id, bob.id
    return World(db, tenant_id, *ids, team_id=team_id, back_office_id=back_id, users=users)


# -- the page object -----------------------------------------------------------------------


class ConversationPage:
    """``/c/{id}``: the thread, the reply box, the header's actions, the side pane."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    def open(self, conversation_id: int) -> ConversationPage:
        self.page.goto(f"{self.base}/c/{conversation_id}")
        self.page.wait_for_selector("#thread .thread")
        return self

    # what it shows
    @property
    def title(self) -> str:
        return self.page.locator("#conv-head h1").inner_text()

    @property
    def messages(self) -> Locator:
        return self.page.locator("#thread li.msg")

    def message_texts(self) -> list[str]:
        return self.page.locator("#thread li.msg .msg-body").all_inner_texts()

    def reply(self, text: str) -> Locator:
        """The thread's reply holding ``text``."""
        return self.page.locator("#thread li.msg-out", has_text=text)

    def reply_state(self, text: str) -> str:
        return self.reply(text).locator(".reply-state .badge").inner_text()

    @property
    def presence(self) -> Locator:
        return self.page.locator("#presence")

    @property
    def has_reply_box(self) -> bool:
        return self.page.locator("#reply-form").count() == 1

    @property
    def conflict(self) -> Locator:
        return self.page.locator("#reply-conflict")

    @property
    def reply_text(self) -> Locator:
        return self.page.locator("#reply-text")

    # what an agent does
    def write(self, text: str) -> None:
        self.reply_text.click()
        self.reply_text.press_sequentially(text, delay=5)

    def send(self) -> None:
        with self.page.expect_response(re.compile(r"/c/\d+/reply$")):
            self.page.locator("#reply-send").click()

    def send_with_keyboard(self) -> None:
        with self.page.expect_response(re.compile(r"/c/\d+/reply$")):
            self.reply_text.press("Control+Enter")

    def approve(self, text: str) -> None:
        with self.page.expect_response(re.compile(r"/approve$")):
            self.reply(text).get_by_role(
                "button", name=re.compile("Valider et envoyer|Approve and send")
            ).click()

    def toast(self) -> Locator:
        return self.page.locator("#toast > div").last
