"""The inbox listing and the CLI listing, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from clameur.care.inbox import EXCERPT_CHARS, Page, conversations_list, inbox, sla_due
from clameur.care.models import OPEN_STATUSES, Conversation, Incident, Queue
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.demo import replays
from clameur.errors import InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.pipeline import Pipeline
from clameur.tenancy.models import Brand
from tests.conftest import Database, make_tenant
from tests.factories import member

AT = datetime(2030, 3, 6, 9, 30, tzinfo=UTC)


class Seed:
    """Small factories: authors, queues, conversations and their mentions, for one tenant."""

    def __init__(self, session: Session, tenant_id: int) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.count = 0

    def author(self, handle: str, followers: int | None = 100) -> Author:
        author = Author(
            tenant_id=self.tenant_id,
            source="twitter",
            handle=handle,
            followers=followers,
            first_seen_at=AT,
            last_seen_at=AT,
        )
        self.session.add(author)
        self.session.flush()
        return author

    def queue(self, name: str) -> Queue:
        queue = Queue(tenant_id=self.tenant_id, name=name, position=len(name), filters={})
        self.session.add(queue)
        self.session.flush()
        return queue

    def conversation(
        self, author: Author | None = None, *, mentions: int = 1, text: str = "", **fields: Any
    ) -> Conversation:
        self.count += 1
        n = self.count
        author = author or self.author(f"user{n}")
        conversation = Conversation(
            tenant_id=self.tenant_id,
            source="twitter",
            author_id=author.id,
            status="open",
            root_external_id=f"t{self.tenant_id}-c{n}-0",
            opened_at=AT,
            last_activity_at=AT + timedelta(minutes=mentions - 1),
            mention_count=mentions,
            flags=[],
            tags=[],
            sla={},
        )
        for key, value in fields.items():
            setattr(conversation, key, value)
        self.session.add(conversation)
        self.session.flush()
        for i in range(mentions):
            self.session.add(
                Mention(
                    tenant_id=self.tenant_id,
                    source="twitter",
                    external_id=f"t{self.tenant_id}-c{n}-{i}",
                    author_id=author.id,
                    text=text or f"message {i} of conversation {n}",
                    created_at=AT + timedelta(minutes=i),
                    content_hash="x",
                    ingested_at=AT,
                    conversation_id=conversation.id,
                )
            )
        self.session.flush()
        return conversation


def _tenant(db: Database, slug: str = "acme") -> int:
    return make_tenant(db, FrozenClock(AT), slug, {}).id


def _expected_order(convs: list[Conversation]) -> list[int]:
    scored = sorted((c for c in convs if c.priority is not None), key=lambda c: (-c.priority, c.id))
    return [c.id for c in scored] + sorted(c.id for c in convs if c.priority is None)


def _all_pages(
    session: Session, tenant_id: int, limit: int, cursor: str | None = None, **filters: Any
) -> list[Page]:
    pages = [inbox(session, tenant_id, limit=limit, cursor=cursor, **filters)]
    while pages[-1].next_cursor is not None:
        assert len(pages) < 1000
        pages.append(
            inbox(session, tenant_id, limit=limit, cursor=pages[-1].next_cursor, **filters)
        )
    return pages


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


# -- ordering and pagination --------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 4, 7, 50])
def test_pages_list_every_conversation_once_by_priority_then_id(db: Database, limit: int) -> None:
    tenant_id = _tenant(db)
    rng = random.Random(limit)
    with session_scope(db.factory) as session:
        seed = Seed(session, tenant_id)
        queue = seed.queue("general")
        # few distinct scores (many ties), some unscored, inserted in random order
        scores = [rng.choice([None, 0.0, 12.5, 40.0, 40.0, 87.3, 100.0]) for _ in range(33)]
        convs = [seed.conversation(priority=s, queue_id=queue.id) for s in scores]
        pages = _all_pages(session, tenant_id, limit, queue_id=queue.id)

    listed = [item.id for page in pages for item in page.items]
    assert listed == _expected_order(convs)
    assert len(listed) == len(set(listed)) == 33
    assert all(len(page.items) == limit for page in pages[:-1])
    assert 1 <= len(pages[-1].items) <= limit
    assert pages[-1].next_cursor is None


def test_equal_priorities_page_in_id_order_without_gaps_even_as_rows_arrive(db: Database) -> None:
    tenant_id = _tenant(db)
    with session_scope(db.factory) as session:
        seed = Seed(session, tenant_id)
        convs = [seed.conversation(priority=50.0) for _ in range(10)]
        first = inbox(session, tenant_id, limit=4)
        # arrivals while the agent reads: above the cursor (not shown now), and below it
        seed.conversation(priority=90.0)
        late = seed.conversation(priority=50.0)
        unscored = seed.conversation(priority=None)
        rest = _all_pages(session, tenant_id, 4, cursor=first.next_cursor)

    listed = [i.id for i in first.items] + [i.id for p in rest for i in p.items]
    assert listed == [c.id for c in convs] + [late.id, unscored.id]


def test_a_page_is_two_statements(db: Database) -> None:
    tenant_id = _tenant(db)
    with session_scope(db.factory) as session:
        seed = Seed(session, tenant_id)
        queue = seed.queue("general")
        for i in range(12):
            seed.conversation(
                priority=None if i % 4 == 0 else float(i), queue_id=queue.id, mentions=3
            )
        with _statements(db) as seen:
            page = inbox(session, tenant_id, queue_id=queue.id, limit=5)
            nxt = inbox(session, tenant_id, queue_id=queue.id, limit=5, cursor=page.next_cursor)
            empty = inbox(session, tenant_id, queue_id=queue.id + 1000)
    assert len(page.items) == len(nxt.items) == 5
    assert empty.items == []
    assert empty.next_cursor is None
    assert len(seen) == 2 + 2 + 1  # page + details; an empty page needs no details


# -- filters ------------------------------------------------------------------------------


def test_filters_by_queue_status_assignee_and_brand(db: Database) -> None:
    clock = FrozenClock(AT)
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"], "ampere": ["ampere"]})
    with session_scope(db.factory) as session:
        agent = member(session, clock, "ana@acme.test", tenant.id, "agent")
        other_agent = member(session, clock, "bo@acme.test", tenant.id, "agent")
        seed = Seed(session, tenant.id)
        billing, tech = seed.queue("billing"), seed.queue("tech")
        brands = dict(
            session.execute(select(Brand.slug, Brand.id).where(Brand.tenant_id == tenant.id)).all()
        )
        volta, ampere = brands["volta"], brands["ampere"]
        c = {
            "open_billing": seed.conversation(queue_id=billing.id, priority=10.0, brand_id=volta),
            "open_billing_mine": seed.conversation(
                queue_id=billing.id, priority=20.0, assignee_id=agent.id, brand_id=ampere
            ),
            "pending_billing_mine": seed.conversation(
                queue_id=billing.id, status="pending", priority=30.0, assignee_id=agent.id
            ),
            "waiting_tech_mine": seed.conversation(
                queue_id=tech.id, status="waiting", priority=40.0, assignee_id=agent.id
            ),
            "open_tech_other": seed.conversation(
                queue_id=tech.id, priority=50.0, assignee_id=other_agent.id
            ),
            "closed_billing_mine": seed.conversation(
                queue_id=billing.id, status="closed", priority=99.0, assignee_id=agent.id
            ),
            "open_no_queue": seed.conversation(priority=5.0),
        }
        ids = {conv.id: name for name, conv in c.items()}

        def names(**filters: Any) -> list[str]:
            return [ids[i.id] for i in inbox(session, tenant.id, **filters).items]

        assert names(queue_id=billing.id) == ["open_billing_mine", "open_billing"]
        assert names(queue_id=billing.id, status=["open", "pending"]) == [
            "pending_billing_mine",
            "open_billing_mine",
            "open_billing",
        ]
        assert names(assignee_id=agent.id, status=OPEN_STATUSES) == [
            "waiting_tech_mine",
            "pending_billing_mine",
            "open_billing_mine",
        ]
        assert names(assignee_id=agent.id, status=None) == [
            "closed_billing_mine",
            "waiting_tech_mine",
            "pending_billing_mine",
            "open_billing_mine",
        ]
        assert names(unassigned=True) == ["open_billing", "open_no_queue"]
        assert names(queue_id=billing.id, unassigned=True) == ["open_billing"]
        assert names(brand_id=ampere) == ["open_billing_mine"]
        assert names(status="closed") == ["closed_billing_mine"]
        assert names() == ["open_tech_other", "open_billing_mine", "open_billing", "open_no_queue"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"status": "archived"}, "unknown status 'archived'"),
        ({"status": []}, "(empty list)"),
        ({"limit": 0}, "limit must be between 1 and 200"),
        ({"limit": 201}, "limit must be between 1 and 200"),
        ({"assignee_id": 1, "unassigned": True}, "exclude each other"),
        ({"cursor": "not-a-cursor"}, "malformed cursor"),
        ({"cursor": "WzAsbnVsbCwzXQ"}, "malformed cursor"),  # [0,null,3]: scored without a score
    ],
)
def test_bad_arguments_are_refused_with_what_is_wrong(
    db: Database, options: dict[str, Any], message: str
) -> None:
    tenant_id = _tenant(db)
    with session_scope(db.factory) as session, pytest.raises(InvalidInputError, match=message):
        inbox(session, tenant_id, **options)


# -- what a row shows ---------------------------------------------------------------------


def test_an_item_carries_what_an_agent_needs(db: Database) -> None:
    clock = FrozenClock(AT)
    tenant_id = _tenant(db)
    long_text = "Ma commande n'est jamais arrivée,  \n merci de répondre " + "vite " * 80
    due = AT + timedelta(hours=2)
    with session_scope(db.factory) as session:
        agent = member(session, clock, "ana@acme.test", tenant_id, "agent", name="Ana")
        seed = Seed(session, tenant_id)
        queue = seed.queue("billing")
        incident = Incident(tenant_id=tenant_id, title="Outage", opened_at=AT)
        session.add(incident)
        session.flush()
        author = seed.author("jeanne", followers=45_200)
        conv = seed.conversation(
            author,
            mentions=3,
            text=long_text,
            priority=81.5,
            priority_level="P1",
            queue_id=queue.id,
            assignee_id=agent.id,
            assigned_at=AT,
            incident_id=incident.id,
            flags=["campaign"],
            tags=["vip"],
            custom_status="callback",
            sla={
                "clocks": {
                    "first_response": {"state": "running", "due_at": due.isoformat()},
                    "resolution": {
                        "state": "running",
                        "due_at": (due + timedelta(days=1)).isoformat(),
                    },
                    "next_response": {"state": "stopped", "due_at": None},
                }
            },
        )
        plain = seed.conversation(priority=3.0)
        items = inbox(session, tenant_id).items

    assert [i.id for i in items] == [conv.id, plain.id]
    item = items[0]
    assert (item.status, item.custom_status, item.priority, item.priority_level, item.source) == (
        "open",
        "callback",
        81.5,
        "P1",
        "twitter",
    )
    assert (item.author_handle, item.author_followers) == ("jeanne", 45_200)
    assert item.latest_external_id == f"t{tenant_id}-c1-2"  # the latest of its 3 mentions
    assert item.latest_at == AT + timedelta(minutes=2)
    assert item.latest_text is not None
    assert len(item.latest_text) <= EXCERPT_CHARS
    assert item.latest_text.startswith("Ma commande n'est jamais arrivée, merci de répondre vite")
    assert item.latest_text.endswith("…")
    assert item.mention_count == 3
    assert (item.assignee_id, item.assignee_name, item.assigned_at) == (agent.id, "Ana", AT)
    assert (item.queue_id, item.queue_name) == (queue.id, "billing")
    assert (item.incident_id, item.incident_title) == (incident.id, "Outage")
    assert (item.flags, item.tags) == (["campaign"], ["vip"])
    assert item.sla_due == due
    other = items[1]
    assert other.latest_text == f"message 0 of conversation {seed.count}"
    assert (other.assignee_name, other.queue_name, other.incident_title, other.sla_due) == (
        None,
        None,
        None,
        None,
    )


def test_sla_due_reads_only_running_clocks() -> None:
    due = "2030-03-06T10:00:00.000000+00:00"
    assert sla_due({}) is None
    assert sla_due(None) is None
    assert sla_due({"clocks": {"a": {"state": "paused", "due_at": due}}}) is None
    assert sla_due({"clocks": {"a": {"state": "running", "due_at": "garbage"}}}) is None
    assert sla_due({"clocks": {"a": {"state": "running", "due_at": due}}}) == datetime(
        2030, 3, 6, 10, tzinfo=UTC
    )


# -- tenant isolation ---------------------------------------------------------------------


def test_another_tenants_conversations_never_show(db: Database) -> None:
    acme, globex = _tenant(db, "acme"), _tenant(db, "globex")
    with session_scope(db.factory) as session:
        mine = Seed(session, acme)
        theirs = Seed(session, globex)
        my_queue, their_queue = mine.queue("general"), theirs.queue("general")
        incident = Incident(tenant_id=globex, title="Their incident", opened_at=AT)
        session.add(incident)
        session.flush()
        kept = [mine.conversation(priority=float(i), queue_id=my_queue.id) for i in range(5)]
        for i in range(5):
            theirs.conversation(priority=float(i) + 0.5, queue_id=their_queue.id)
        # a row of mine pointing at their queue and incident does not leak their names
        odd = mine.conversation(priority=1.0, queue_id=their_queue.id, incident_id=incident.id)

        listed = [i.id for p in _all_pages(session, acme, 2) for i in p.items]
        assert sorted(listed) == sorted(c.id for c in [*kept, odd])
        assert inbox(session, acme, queue_id=their_queue.id).items[0].id == odd.id
        assert inbox(session, acme, queue_id=their_queue.id).items[0].queue_name is None
        assert inbox(session, acme, queue_id=their_queue.id).items[0].incident_title is None
        # their cursor position used with my tenant still yields only my rows
        their_page = inbox(session, globex, limit=2)
        assert all(i.id not in listed for i in their_page.items)
        after = inbox(session, acme, cursor=their_page.next_cursor).items
        assert {i.id for i in after} <= set(listed)
        listing = conversations_list(session, acme)
        assert sorted(row["id"] for row in listing) == sorted(listed)


# -- the CLI contract ---------------------------------------------------------------------


def test_conversations_list_follows_the_cli_contract(db: Database) -> None:
    tenant_id = _tenant(db)
    with session_scope(db.factory) as session:
        seed = Seed(session, tenant_id)
        incident = Incident(tenant_id=tenant_id, title="Outage", opened_at=AT)
        session.add(incident)
        session.flush()
        a = seed.conversation(
            seed.author("jeanne"),
            mentions=3,
            priority=70.0,
            priority_level="P2",
            incident_id=incident.id,
            flags=["campaign"],
        )
        b = seed.conversation(seed.author("paul"), status="resolved", priority=None)
        everything = conversations_list(session, tenant_id)
        resolved = conversations_list(session, tenant_id, status="resolved")
        with pytest.raises(InvalidInputError, match="unknown status 'done'"):
            conversations_list(session, tenant_id, status="done")

    json.dumps(everything)  # printable as is
    assert [row["id"] for row in everything] == [a.id, b.id]
    for row in everything:
        assert set(row) >= {
            "id",
            "status",
            "priority",
            "source",
            "author",
            "mentions",
            "incident",
            "flags",
        }
    first, second = everything
    assert first == {
        "id": a.id,
        "status": "open",
        "priority": "P2",
        "priority_score": 70.0,
        "source": "twitter",
        "author": "jeanne",
        "mentions": [f"t{tenant_id}-c1-0", f"t{tenant_id}-c1-1", f"t{tenant_id}-c1-2"],
        "incident": incident.id,
        "flags": ["campaign"],
    }
    assert (second["status"], second["priority"], second["incident"], second["flags"]) == (
        "resolved",
        None,
        None,
        [],
    )
    assert second["mentions"] == [f"t{tenant_id}-c2-0"]
    assert [row["id"] for row in resolved] == [b.id]


def test_conversations_from_the_pipeline_list_their_mentions(db: Database) -> None:
    clock = FrozenClock(datetime(2031, 1, 1, tzinfo=UTC))
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    wave = replays.complaint_wave(AT, count=30, minutes=30, seed=4, source="twitter", prefix="w")
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=7), clock=clock)
    assert pipeline.ingest(wave, tenant.id).rejected == 0
    with session_scope(db.factory) as session:
        listing = conversations_list(session, tenant.id)
        first_page = inbox(session, tenant.id, status=None, limit=200)

    assert listing, "the complaints opened conversations"
    by_id = {row["id"]: row for row in listing}
    assert {i.id for i in first_page.items} == set(by_id)
    imported = {r["external_id"]: r["author"]["handle"] for r in wave}
    for row in listing:
        assert row["mentions"]
        assert all(imported[m] == row["author"] for m in row["mentions"])
        assert row["source"] == "twitter"
    for item in first_page.items:
        assert item.latest_external_id == by_id[item.id]["mentions"][-1]
        assert item.mention_count == len(by_id[item.id]["mentions"])
