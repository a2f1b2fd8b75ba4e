"""Triage, incidents from alerts, contacts (merge/split), statuses, tags and notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care import contacts, conversations
from clameur.care.models import Conversation, ConversationEvent, Incident
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.demo import replays
from clameur.errors import InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.pipeline import Pipeline
from clameur.reports import stats
from clameur.tenancy import add_user
from clameur.tenancy.models import AuditEntry
from tests.conftest import Database, make_tenant
from tests.factories import acting, lead, member

AT = datetime(2030, 3, 6, 9, 30, tzinfo=UTC)
WALL = datetime(2031, 1, 1, tzinfo=UTC)


def _import(db: Database, records: list[dict[str, Any]]) -> int:
    clock = FrozenClock(WALL)
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=200), clock=clock)
    assert pipeline.ingest(records, tenant.id).rejected == 0
    return tenant.id


def test_a_wave_answering_an_influencer_is_one_conversation_per_customer_in_one_incident(
    db: Database,
) -> None:
    post = replays.influencer_post(AT, followers=452_000, external_id="inf-1")
    wave = replays.complaint_wave(
        AT + timedelta(minutes=1),
        count=120,
        minutes=120,
        seed=9,
        in_reply_to="inf-1",
        source="twitter",
        prefix="r",
    )
    tenant_id = _import(db, [post, *wave])
    with session_scope(db.factory) as session:
        rows = session.execute(
            select(
                Conversation.id, Author.handle, Conversation.incident_id, Conversation.contact_id
            )
            .join(Author, Author.id == Conversation.author_id)
            .where(Conversation.tenant_id == tenant_id)
        ).all()
        incidents = session.scalars(select(Incident).where(Incident.tenant_id == tenant_id)).all()
        figures = stats(session, tenant_id)
    customers = {r["author"]["handle"] for r in wave}
    by_handle = {handle for _, handle, _, _ in rows}
    assert customers <= by_handle  # every complaining customer has a conversation…
    assert len(rows) == len(customers) + 1  # …one each, plus the influencer's own
    assert len(incidents) == 1
    assert {incident for _, _, incident, _ in rows} == {incidents[0].id}
    assert incidents[0].title.startswith("@"), "named by the influencer's handle"
    assert all(contact is not None for *_, contact in rows)
    assert figures["conversations"] == figures["open_conversations"] == len(rows)


def test_praise_does_not_open_a_conversation_but_joins_the_customers_thread(db: Database) -> None:
    author = {"handle": "marie_l", "followers": 80}

    def line(n: int, text: str, minutes: int) -> dict[str, Any]:
        return {
            "source": "twitter",
            "external_id": f"p{n}",
            "text": text,
            "author": author,
            "created_at": (AT + timedelta(minutes=minutes)).isoformat(),
        }

    tenant_id = _import(
        db,
        [
            line(1, "Merci Volta, super accueil en boutique, bravo à toute l'équipe !", 0),
            line(2, "Volta m'a facturé deux fois ce mois-ci, remboursez-moi svp", 60),
            line(3, "Merci Volta, c'est réglé, parfait !", 120),
        ],
    )
    with session_scope(db.factory) as session:
        mentions = dict(
            session.execute(
                select(Mention.external_id, Mention.conversation_id).where(
                    Mention.tenant_id == tenant_id
                )
            ).all()
        )
    assert mentions["p1"] is None  # praise alone is not work
    assert mentions["p2"] is not None
    assert mentions["p3"] == mentions["p2"]  # the thank-you lands in the open thread


def test_a_customer_writing_about_two_brands_of_one_client_has_a_conversation_with_each(
    db: Database,
) -> None:
    clock = FrozenClock(WALL)
    brands = {"mobile": ['"volta mobile"'], "energie": ['"volta energie"']}
    tenant = make_tenant(db, clock, "volta", brands)
    author = {"handle": "anais", "followers": 120}

    def line(n: int, text: str, minutes: int, **extra: Any) -> dict[str, Any]:
        at = (AT + timedelta(minutes=minutes)).isoformat()
        record = {"source": "facebook", "external_id": f"b{n}", "text": text, "author": author}
        return {**record, "created_at": at, **extra}

    records = [
        line(1, "Volta Mobile m'a facturé deux fois ce mois-ci, remboursez-moi", 0),
        line(2, "Et Volta Energie me réclame une régularisation de 300 €, inadmissible", 20),
        line(3, "Volta Mobile, toujours pas de remboursement, je résilie", 40),
        line(4, "Pas de réponse de Volta Energie non plus", 60, in_reply_to="b2"),
        line(5, "Merci, c'est réglé", 80, in_reply_to="b1"),  # names no brand: its thread
    ]
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=2), clock=clock)
    assert pipeline.ingest(records, tenant.id).rejected == 0
    with session_scope(db.factory) as session:
        rows = session.execute(
            select(Mention.external_id, Mention.conversation_id).where(
                Mention.tenant_id == tenant.id
            )
        ).all()
        by_id = {c.id: c for c in session.scalars(select(Conversation))}
    thread = dict(rows)
    assert thread["b1"] == thread["b3"] == thread["b5"]
    assert thread["b2"] == thread["b4"]
    assert thread["b1"] != thread["b2"]
    names = {by_id[thread["b1"]].brand_id, by_id[thread["b2"]].brand_id}
    assert len(names) == 2  # each conversation is its brand's
    assert None not in names


def _two_customers(db: Database) -> tuple[int, dict[str, int]]:
    records = []
    for n, (source, handle, text) in enumerate(
        [
            ("twitter", "julie_tech", "Volta ma box ne marche plus, aidez-moi"),
            ("facebook", "Julie.Tech", "Volta toujours pas de réseau, je veux un remboursement"),
            ("twitter", "bob", "Volta facture erronée, merci de corriger"),
        ]
    ):
        records.append(
            {
                "source": source,
                "external_id": f"c{n}",
                "text": text,
                "author": {"handle": handle, "followers": 50},
                "created_at": (AT + timedelta(minutes=n)).isoformat(),
            }
        )
    tenant_id = _import(db, records)
    with session_scope(db.factory) as session:
        ids = {
            f"{source}:{handle}": contact
            for source, handle, contact in session.execute(
                select(Author.source, Author.handle, Conversation.contact_id).join(
                    Conversation, Conversation.author_id == Author.id
                )
            )
        }
    return tenant_id, ids


def test_contacts_merge_and_split_keep_every_conversation(db: Database) -> None:
    tenant_id, ids = _two_customers(db)
    julie_tw, julie_fb, bob = (
        ids["twitter:julie_tech"],
        ids["facebook:Julie.Tech"],
        ids["twitter:bob"],
    )
    assert len({julie_tw, julie_fb, bob}) == 3  # one contact per new author
    with session_scope(db.factory) as session:
        agent = member(session, FrozenClock(WALL), "anna@bpo.example", tenant_id, "agent")
        suggested = contacts.suggestions(session, tenant_id, julie_tw)
        assert [(s.other_id, s.reason.startswith("same handle")) for s in suggested] == [
            (julie_fb, True)
        ]
        contacts.merge(session, acting(session, agent.id, tenant_id), julie_tw, julie_fb, at=WALL)
        merged = contacts.history(session, tenant_id, julie_tw)
        assert {i["source"] for i in merged["identities"]} == {"twitter", "facebook"}
        assert len(merged["conversations"]) == 2
        assert {m["external_id"] for c in merged["conversations"] for m in c["mentions"]} == {
            "c0",
            "c1",
        }
        with pytest.raises(InvalidInputError, match="itself"):
            contacts.merge(
                session, acting(session, agent.id, tenant_id), julie_tw, julie_tw, at=WALL
            )
        facebook = [i["author_id"] for i in merged["identities"] if i["source"] == "facebook"]
        fresh = contacts.split(
            session, acting(session, agent.id, tenant_id), julie_tw, facebook, at=WALL
        )
        moved = contacts.history(session, tenant_id, fresh.id)["conversations"]
        assert [c["mentions"][0]["external_id"] for c in moved] == ["c1"]
        assert len(contacts.history(session, tenant_id, julie_tw)["conversations"]) == 1
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["contact.merge", "contact.split"]
        with pytest.raises(InvalidInputError, match="not identities"):
            contacts.split(
                session, acting(session, agent.id, tenant_id), julie_tw, [bob * 1000], at=WALL
            )


def test_statuses_tags_and_notes_are_on_the_timeline(db: Database) -> None:
    tenant_id, ids = _two_customers(db)
    with session_scope(db.factory) as session:
        from clameur.tenancy.models import Tenant

        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.settings = {"care": {"statuses": {"awaiting refund": "pending"}}}
        clock = FrozenClock(WALL)
        anna = member(session, clock, "anna@bpo.example", tenant_id, "agent")
        member(session, clock, "sam.lead@bpo.example", tenant_id, "supervisor")
        add_user(session, clock, "max@bpo.example")  # a colleague, but of no role here
        conversation_id = session.scalars(
            select(Conversation.id).where(Conversation.tenant_id == tenant_id)
        ).first()
        assert conversation_id is not None
        c = conversations.set_status(
            session,
            acting(session, anna.id, tenant_id),
            conversation_id,
            "awaiting refund",
            at=WALL,
        )
        assert (c.status, c.custom_status) == ("pending", "awaiting refund")
        with pytest.raises(InvalidInputError, match="unknown status"):
            conversations.set_status(
                session, acting(session, anna.id, tenant_id), conversation_id, "zzz", at=WALL
            )
        conversations.tag(
            session,
            acting(session, anna.id, tenant_id),
            conversation_id,
            add=["billing", "refund"],
            at=WALL,
        )
        conversations.tag(
            session,
            acting(session, anna.id, tenant_id),
            conversation_id,
            remove=["refund"],
            at=WALL,
        )
        note = conversations.add_note(
            session,
            acting(session, anna.id, tenant_id),
            conversation_id,
            "@sam.lead can we refund twice?",
            at=WALL,
        )
        assert len(note.data["mentions"]) == 1
        with pytest.raises(InvalidInputError, match="no colleague named @max$"):
            conversations.add_note(
                session, acting(session, anna.id, tenant_id), conversation_id, "@max?", at=WALL
            )
        with pytest.raises(InvalidInputError, match="@nobody"):
            conversations.add_note(
                session,
                acting(session, anna.id, tenant_id),
                conversation_id,
                "ask @nobody",
                at=WALL,
            )
        c = conversations.set_status(
            session, acting(session, anna.id, tenant_id), conversation_id, "resolved", at=WALL
        )
        assert c.tags == ["billing"]
        assert c.resolved_at == WALL
        kinds = [e.kind for e in conversations.timeline(session, tenant_id, conversation_id)]
        assert kinds == ["status", "tag", "tag", "note", "status"]
        assert session.scalars(select(ConversationEvent)).all()
        with pytest.raises(Exception, match="no conversation"):
            conversations.get(session, tenant_id + 999, conversation_id)


def test_new_conversations_are_routed_to_their_queue_by_the_pipeline(db: Database) -> None:
    from clameur.care import teams

    clock = FrozenClock(WALL)
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    with session_scope(db.factory) as session:
        team = teams.add_team(session, clock, lead(session, clock, tenant.id), "Front FR")
        twitter = teams.add_queue(
            session,
            clock,
            lead(session, clock, tenant.id),
            "Twitter",
            team_id=team.id,
            position=1,
            sources=["twitter"],
        )
        rest = teams.add_queue(
            session,
            clock,
            lead(session, clock, tenant.id),
            "Everything else",
            team_id=team.id,
            position=2,
        )
        queues = {"twitter": twitter.id, "forum": rest.id}
    records = [
        {
            "source": source,
            "external_id": f"q{n}",
            "author": {"handle": f"u{n}"},
            "text": "Volta m'a facturé deux fois ce mois-ci, remboursez-moi svp",
            "created_at": (AT + timedelta(minutes=n)).isoformat(),
        }
        for n, source in enumerate(["twitter", "forum"])
    ]
    pipeline = Pipeline(factory=db.factory, settings=Settings(), clock=clock)
    assert pipeline.ingest(records, tenant.id).imported == 2
    with session_scope(db.factory) as session:
        routed = dict(session.execute(select(Conversation.source, Conversation.queue_id)).all())
    assert routed == queues
