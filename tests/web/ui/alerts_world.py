"""Test data of the supervision pages (alerts, campaign review, incidents, approvals): one
client in the middle of a crisis, built directly (no import run), with times relative to
``now`` so the browser tests read "il y a 20 minutes", not a date years away.

Tenant ``acme`` (brand ``volta``) has:

- a negative spike alert with its mentions (a baseline of a few mentions per 15 minutes
  for three hours, then the wave), the incident opened for it (13 conversations of 12
  authors: one wrote twice), and no holding answer yet;
- an influencer alert (no incident);
- a suspected campaign: 5 near-identical posts from fresh accounts, their conversations
  flagged ``campaign`` and open;
- a reply waiting for approval (the open incident holds the brand's replies back);
- its four roles' users (agent, supervisor, admin, viewer).

Tenant ``other`` has its own alert, incident and pending reply (for the 404 checks).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care.incidents import open_for_alert
from clameur.care.models import Conversation, Reply
from clameur.care.replies import draft_reply, send_reply
from clameur.clock import Clock, FrozenClock
from clameur.db import session_scope
from clameur.detection.models import Alert, AlertMention
from clameur.mentions.models import Author, Mention
from clameur.tenancy import add_brand, add_tenant
from clameur.tenancy.models import MentionBrand, User
from tests.conftest import Database
from tests.factories import acting
from tests.web.pages import make_user

ROLES = ("agent", "supervisor", "admin", "viewer")
CAMPAIGN_TEXT = "Volta a volé mes données, boycott ! Partagez avant que ce soit supprimé #VoltaGate"
WAVE = 12
"""Authors of the spike (one of them wrote twice: 13 conversations)."""


@dataclass
class Crisis:
    tenant_id: int
    brand_id: int
    other_tenant_id: int
    spike_id: int
    influencer_id: int
    campaign_id: int
    incident_id: int
    reply_id: int
    other_alert_id: int
    other_incident_id: int
    other_reply_id: int
    incident_conversations: list[int] = field(default_factory=list)
    campaign_conversations: list[int] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)

    def email(self, role: str) -> str:
        return f"{role}@acme.example"


class _Maker:
    def __init__(self, session: Session, tenant_id: int, brand_id: int, now: datetime) -> None:
        self.session, self.tenant_id, self.brand_id, self.now = session, tenant_id, brand_id, now
        self.n = 0

    def author(self, handle: str, **values: Any) -> Author:
        author = Author(
            tenant_id=self.tenant_id,
            source=values.pop("source", "twitter"),
            handle=handle,
            first_seen_at=self.now - timedelta(days=1),
            last_seen_at=self.now,
            **values,
        )
        self.session.add(author)
        self.session.flush()
        return author

    def mention(
        self,
        author: Author,
        text: str,
        at: datetime,
        conversation: Conversation | None = None,
        **values: Any,
    ) -> Mention:
        self.n += 1
        mention = Mention(
            tenant_id=self.tenant_id,
            source=author.source,
            external_id=values.pop("external_id", f"x-{self.n}"),
            author_id=author.id,
            text=text,
            created_at=at,
            raw={},
            content_hash=hashlib.md5(text.encode()).hexdigest(),  # noqa: S324
            ingested_at=at,
            conversation_id=conversation.id if conversation is not None else None,
            metrics={},
            edit_history=[],
            toxicity_labels=[],
            priority_reasons=[],
            **values,
        )
        self.session.add(mention)
        self.session.flush()
        self.session.add(
            MentionBrand(tenant_id=self.tenant_id, mention_id=mention.id, brand_id=self.brand_id)
        )
        return mention

    def conversation(
        self, author: Author, text: str, at: datetime, **values: Any
    ) -> tuple[Conversation, Mention]:
        conversation = Conversation(
            tenant_id=self.tenant_id,
            author_id=author.id,
            source=author.source,
            brand_id=self.brand_id,
            status=values.pop("status", "open"),
            root_external_id=f"root-{self.n + 1}",
            opened_at=at,
            last_activity_at=at,
            last_customer_at=at,
            mention_count=1,
            flags=values.pop("flags", []),
            tags=[],
            sla={},
            priority_level=values.pop("priority_level", "P2"),
            priority=values.pop("priority", 70.0),
            lang="fr",
            **values,
        )
        self.session.add(conversation)
        self.session.flush()
        mention = self.mention(
            author,
            text,
            at,
            conversation,
            external_id=conversation.root_external_id,
            sentiment="negative",
        )
        return conversation, mention

    def link(self, alert: Alert, mention: Mention, role: str = "member") -> None:
        author = self.session.get(Author, mention.author_id)
        assert author is not None
        self.session.add(
            AlertMention(
                tenant_id=self.tenant_id,
                alert_id=alert.id,
                source=mention.source,
                external_id=mention.external_id,
                author=author.handle,
                created_at=mention.created_at,
                role=role,
            )
        )
        alert.count = (alert.count or 0) + 1

    def alert(
        self, kind: str, severity: str, summary: str, at: datetime, evidence: dict[str, Any]
    ) -> Alert:
        alert = Alert(
            tenant_id=self.tenant_id,
            brand_id=self.brand_id,
            kind=kind,
            severity=severity,
            key=f"{kind}:{self.brand_id}:{self.n}",
            triggered_at=at,
            updated_at=at,
            status="open",
            summary=summary,
            count=0,
            evidence=evidence,
        )
        self.session.add(alert)
        self.session.flush()
        return alert


def _spike(make: _Maker, clock: Clock) -> tuple[int, int, list[int]]:
    now = make.now
    start = now - timedelta(hours=3, minutes=10)
    quiet = make.author("habitue", name="Une habituée")
    for i in range(36):  # the usual: about two an hour-quarter, half of them unhappy
        at = start + timedelta(minutes=5 * i + 2)
        make.mention(
            quiet, f"Volta, question n°{i}", at, sentiment="negative" if i % 2 else "neutral"
        )
    wave_at = now - timedelta(minutes=40)
    alert = make.alert(
        "negative_spike",
        "high",
        "13 negative mentions in 15 min at the peak against 1.1 expected (same hour of the week); "
        "top terms: panne, compteur, facture",
        wave_at,
        {
            "peak": 13,
            "expected": 1.1,
            "baseline": "same hour of the week",
            "window_minutes": 15,
            "sources": {"twitter": 13},
            "top_terms": ["panne", "compteur", "facture"],
            "top_authors": ["client00", "client01"],
        },
    )
    conversations = []
    for n in range(WAVE):
        author = make.author(f"client{n:02d}", name=f"Client {n}", followers=100 + n)
        at = wave_at + timedelta(seconds=40 * n)
        conversation, mention = make.conversation(author, f"Panne générale chez Volta ! ({n})", at)
        make.link(alert, mention, "tip" if n == 0 else "member")
        conversations.append(conversation)
        if n == 0:  # the same author again, days ago: one author, two conversations
            older, mention = make.conversation(
                author, "Ma facture Volta est fausse", now - timedelta(days=3), status="pending"
            )
            make.link(alert, mention)
            conversations.append(older)
    alert.updated_at = wave_at + timedelta(seconds=40 * (WAVE - 1))
    make.session.flush()
    incident = open_for_alert(make.session, clock, make.tenant_id, alert.id)
    incident.title = "Panne générale : les clients de Volta sans courant"
    make.session.flush()
    return alert.id, incident.id, [c.id for c in conversations]


def _influencer(make: _Maker) -> int:
    at = make.now - timedelta(hours=1, minutes=5)
    star = make.author("julie_tech", name="Julie Tech", followers=450_000, verified=True)
    mention = make.mention(
        star, "Trois jours sans courant, merci @Volta 😡", at, url="https://x.example/julie/1"
    )
    alert = make.alert(
        "influencer",
        "high",
        "@julie_tech (450k followers · verified) on twitter: "
        "Trois jours sans courant, merci @Volta",
        at,
        {
            "author": "julie_tech",
            "followers": 450_000,
            "source": "twitter",
            "post": mention.external_id,
            "url": "https://x.example/julie/1",
            "replies": 0,
            "why": ["450k followers", "verified"],
        },
    )
    make.link(alert, mention, "tip")
    return alert.id


def _campaign(make: _Maker) -> tuple[int, list[int]]:
    first = make.now - timedelta(minutes=90)
    alert = make.alert(
        "campaign",
        "medium",
        "Coordinated campaign: 5 accounts (5 suspect) posted 5 near-identical texts within 0 h 12",
        first,
        {
            "cluster": "c1",
            "accounts": 5,
            "posts": 5,
            "score": 0.82,
            "median_similarity": 0.94,
            "first_at": first.isoformat(),
            "last_at": (first + timedelta(minutes=12)).isoformat(),
            "window_hours": 6,
            "signals": {
                "accounts": 5,
                "suspects": 5,
                "under_7_days": 4,
                "under_30_days": 5,
                "under_20_followers": 5,
                "first_posts": 5,
            },
            "why": ["4 of 5 accounts < 7 days old"],
        },
    )
    conversations = []
    for n in range(5):
        at = first + timedelta(minutes=3 * n)
        author = make.author(
            f"patriote{n}{n}",
            followers=n * 3,
            account_created_at=at - timedelta(days=2 + 3 * n),
        )
        conversation, mention = make.conversation(
            author,
            CAMPAIGN_TEXT + ("" if n % 2 else " !!"),
            at,
            flags=["campaign"],
            priority_level="P3",
        )
        make.link(alert, mention, "tip" if n == 0 else "member")
        conversations.append(conversation.id)
    alert.updated_at = first + timedelta(minutes=12)
    return alert.id, conversations


def _pending_reply(make: _Maker, clock: Clock, agent_id: int, text: str) -> int:
    customer = make.author("marc_l", name="Marc L.", followers=87)
    conversation, _ = make.conversation(
        customer,
        "Mon compteur affiche une erreur E42 depuis ce matin, que faire ?",
        make.now - timedelta(minutes=25),
    )
    actor = acting(make.session, agent_id, make.tenant_id)
    reply = draft_reply(make.session, clock, actor, conversation.id, text)
    send_reply(make.session, clock, actor, reply.id)
    assert reply.status == "pending_approval", reply.status
    return reply.id


def build_crisis(db: Database, now: datetime) -> Crisis:
    """The crisis world (see the module); ``now`` is when the page is looked at."""
    clock = FrozenClock(now)
    with session_scope(db.factory) as session:
        acme = add_tenant(session, clock, "acme", "Acme Énergie")
        volta = add_brand(session, clock, acme, "volta", "Volta", ["volta"])
        other = add_tenant(session, clock, "other", "Autre client")
        bravo = add_brand(session, clock, other, "bravo", "Bravo", ["bravo"])
        ids = (acme.id, volta.id, other.id, bravo.id)
    users = {role: make_user(db, clock, f"{role}@acme.example", {"acme": role}) for role in ROLES}
    other_sup = make_user(db, clock, "supervisor@other.example", {"other": "supervisor"})
    with session_scope(db.factory) as session:
        for role, user_id in users.items():
            user = session.get(User, user_id)
            assert user is not None
            user.name = {"agent": "Amélie Agent", "supervisor": "Sonia Superviseure"}.get(
                role, role.title()
            )
        make = _Maker(session, ids[0], ids[1], now)
        spike_id, incident_id, incident_conversations = _spike(make, clock)
        influencer_id = _influencer(make)
        campaign_id, campaign_conversations = _campaign(make)
        reply_id = _pending_reply(
            make, clock, users["agent"], "Bonjour Marc, un technicien vous rappelle avant midi."
        )
        elsewhere = _Maker(session, ids[2], ids[3], now)
        other_alert, other_incident, _ = _spike(elsewhere, clock)
        other_reply = _pending_reply(elsewhere, clock, other_sup, "Bonjour, nous regardons.")
    return Crisis(
        tenant_id=ids[0],
        brand_id=ids[1],
        other_tenant_id=ids[2],
        spike_id=spike_id,
        influencer_id=influencer_id,
        campaign_id=campaign_id,
        incident_id=incident_id,
        reply_id=reply_id,
        other_alert_id=other_alert,
        other_incident_id=other_incident,
        other_reply_id=other_reply,
        incident_conversations=incident_conversations,
        campaign_conversations=campaign_conversations,
        users=users,
    )


def replies_of(db: Database, incident_id: int) -> list[Reply]:
    with session_scope(db.factory) as session:
        return list(
            session.scalars(
                select(Reply).where(Reply.incident_id == incident_id).order_by(Reply.id)
            )
        )
