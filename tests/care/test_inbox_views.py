"""The inbox's views and filters (clameur.care.inbox_views), on SQLite and PostgreSQL: each
view and filter against a naive reading of the same rows, keyset pages with filters (no
row repeats or goes missing), capped counts in one statement, SLA at risk, search."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care.inbox import Page
from clameur.care.inbox_views import (
    ACTIVE,
    ANY,
    COUNT_CAP,
    SOON,
    Filters,
    View,
    choices,
    default_view,
    limit_of,
    view_counts,
    view_page,
)
from clameur.care.models import OPEN_STATUSES, Incident, Team
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import ForbiddenError, InvalidInputError
from clameur.listening import document_keys, search_text
from clameur.mentions.models import Mention
from clameur.tenancy.models import Brand
from clameur.tenancy.principal import Principal
from tests.care.test_inbox import AT, Seed, _statements
from tests.conftest import Database, make_tenant
from tests.factories import acting, forged, member

NOW = AT + timedelta(hours=2)
SOURCES = ("twitter", "facebook", "email")
LANGS = ("fr", "en", None)
LEVEL_OF = [(75.0, "P1"), (55.0, "P2"), (35.0, "P3"), (-1.0, "P4")]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def clocks(**states: dict[str, Any]) -> dict[str, Any]:
    """``Conversation.sla`` with the given clocks (keys as care.sla writes them)."""
    base = {
        "state": "running",
        "due_at": None,
        "warn_at": None,
        "warned_at": None,
        "breached_at": None,
    }
    return {"clocks": {name: {**base, **values} for name, values in states.items()}}


def level(score: float | None) -> str | None:
    if score is None:
        return None
    return next(name for floor, name in LEVEL_OF if score >= floor)


class Fixture:
    """A tenant with a few hundred conversations of every kind, and what each one is."""

    def __init__(self, db: Database, seed: int = 3) -> None:
        self.clock = FrozenClock(NOW)
        tenant = make_tenant(db, self.clock, "acme", {"volta": ["volta"], "ampere": ["ampere"]})
        self.tenant_id = tenant.id
        rng = random.Random(seed)
        with session_scope(db.factory) as session:
            self.agent = member(session, self.clock, "ana@acme.test", tenant.id, "agent").id
            self.other = member(session, self.clock, "bo@acme.test", tenant.id, "agent").id
            self.viewer = member(session, self.clock, "vic@acme.test", tenant.id, "viewer").id
            brands = session.scalars(select(Brand.id).where(Brand.tenant_id == tenant.id)).all()
            s = Seed(session, tenant.id)
            queues = [s.queue("billing").id, s.queue("tech").id]
            team = Team(tenant_id=tenant.id, name="Back", kind="back_office")
            incident = Incident(tenant_id=tenant.id, title="Outage", opened_at=AT)
            session.add_all([team, incident])
            session.flush()
            self.queue_ids, self.incident_id = queues, incident.id
            self.rows: list[dict[str, Any]] = []
            for _n in range(260):
                score = rng.choice([None, 5.0, 20.0, 40.0, 40.0, 60.0, 80.0, 92.5, 100.0])
                status = rng.choice(["open"] * 6 + ["pending", "waiting", "escalated", "resolved"])
                due_in = rng.choice([None, -30, 10, 45, 600])
                warned = rng.random() < 0.1
                sla: dict[str, Any] = {}
                if due_in is not None:
                    due = NOW + timedelta(minutes=due_in)
                    warn = due - timedelta(minutes=40)
                    state = "paused" if status == "waiting" else "running"
                    sla = clocks(
                        first_response={
                            "state": state,
                            "due_at": _iso(due),
                            "warn_at": None if warned else _iso(warn),
                            "warned_at": _iso(warn) if warned else None,
                        }
                    )
                row = {
                    "priority": score,
                    "priority_level": level(score),
                    "status": status,
                    "source": rng.choice(SOURCES),
                    "lang": rng.choice(LANGS),
                    "brand_id": rng.choice([None, *brands]),
                    "queue_id": rng.choice([None, *queues]),
                    "assignee_id": rng.choice([None, None, self.agent, self.other]),
                    "incident_id": incident.id if rng.random() < 0.15 else None,
                    "holder_team_id": team.id if status == "escalated" else None,
                    "tags": rng.sample(["vip", "refund", "late"], rng.randint(0, 2)),
                    "sla": sla,
                }
                conv = s.conversation(mentions=rng.randint(1, 3), **row)
                sentiments = []
                for mention in session.scalars(
                    select(Mention).where(Mention.conversation_id == conv.id)
                ):
                    mention.sentiment = rng.choice(
                        ["negative", "neutral", "positive", "uncertain", None]
                    )
                    mention.intent = rng.choice(
                        ["complaint", "question", "praise", "uncertain", None]
                    )
                    sentiments.append((mention.sentiment, mention.intent))
                self.rows.append(
                    {
                        **row,
                        "id": conv.id,
                        "sentiments": {x for x, _ in sentiments},
                        "intents": {y for _, y in sentiments},
                        "due_in": due_in,
                        "warned": warned,
                    }
                )

    def principal(self, session: Any, user_id: int | None = None) -> Principal:
        return acting(session, user_id or self.agent, self.tenant_id)

    def expected(self, keep: Any) -> list[int]:
        rows = [r for r in self.rows if keep(r)]
        scored = sorted(
            (r for r in rows if r["priority"] is not None), key=lambda r: (-r["priority"], r["id"])
        )
        return [r["id"] for r in scored] + sorted(r["id"] for r in rows if r["priority"] is None)


def every_page(
    session: Any, actor: Principal, view: View, filters: Filters, limit: int
) -> list[int]:
    listed: list[int] = []
    page: Page = view_page(session, actor, view, filters, now=NOW, limit=limit)
    listed += [i.id for i in page.items]
    while page.next_cursor is not None:
        assert len(listed) < 2000
        page = view_page(
            session, actor, view, filters, now=NOW, limit=limit, cursor=page.next_cursor
        )
        assert page.items, "a cursor never leads to an empty page"
        listed += [i.id for i in page.items]
    return listed


@pytest.fixture
def world(db: Database) -> Fixture:
    return Fixture(db)


def at_risk(r: dict[str, Any]) -> bool:
    if r["due_in"] is None or r["status"] == "waiting":
        return False
    past_warn = r["due_in"] - 40 <= 0
    return r["warned"] or past_warn or r["due_in"] <= SOON.total_seconds() / 60


CASES: list[tuple[str, Filters, Any]] = [
    ("mine", Filters(), lambda r, w: r["assignee_id"] == w.agent and r["status"] == "open"),
    ("unassigned", Filters(), lambda r, w: r["assignee_id"] is None and r["status"] == "open"),
    ("all", Filters(), lambda r, w: r["status"] == "open"),
    ("p1", Filters(), lambda r, w: r["priority_level"] == "P1" and r["status"] == "open"),
    ("sla", Filters(), lambda r, w: r["status"] in OPEN_STATUSES and at_risk(r)),
    ("backoffice", Filters(), lambda r, w: r["status"] == "escalated"),
    ("queue:0", Filters(), lambda r, w: r["queue_id"] == w.queue_ids[0] and r["status"] == "open"),
    (
        "incident",
        Filters(),
        lambda r, w: r["incident_id"] == w.incident_id and r["status"] == "open",
    ),
    ("all", Filters(status=ACTIVE), lambda r, w: r["status"] in OPEN_STATUSES),
    ("all", Filters(status=ANY), lambda r, w: True),
    (
        "mine",
        Filters(status=ACTIVE),
        lambda r, w: r["assignee_id"] == w.agent and r["status"] in OPEN_STATUSES,
    ),
    ("all", Filters(source="email"), lambda r, w: r["source"] == "email" and r["status"] == "open"),
    ("all", Filters(lang="en"), lambda r, w: r["lang"] == "en" and r["status"] == "open"),
    (
        "all",
        Filters(level="P3"),
        lambda r, w: r["priority_level"] == "P3" and r["status"] == "open",
    ),
    ("all", Filters(sentiment="negative", status=ANY), lambda r, w: "negative" in r["sentiments"]),
    (
        "all",
        Filters(sentiment="uncertain", status=ANY),
        lambda r, w: "uncertain" in r["sentiments"],
    ),
    (
        "mine",
        Filters(intent="uncertain", status=ACTIVE),
        lambda r, w: (
            r["assignee_id"] == w.agent
            and r["status"] in OPEN_STATUSES
            and "uncertain" in r["intents"]
        ),
    ),
    (
        "unassigned",
        Filters(intent="question"),
        lambda r, w: (
            r["assignee_id"] is None and r["status"] == "open" and "question" in r["intents"]
        ),
    ),
    (
        "all",
        Filters(tag="vip", status=ACTIVE),
        lambda r, w: "vip" in r["tags"] and r["status"] in OPEN_STATUSES,
    ),
    (
        "p1",
        Filters(tag="refund", source="twitter", status=ANY),
        lambda r, w: (
            r["priority_level"] == "P1" and "refund" in r["tags"] and r["source"] == "twitter"
        ),
    ),
    ("sla", Filters(status="pending"), lambda r, w: r["status"] == "pending" and at_risk(r)),
    ("sla", Filters(status="waiting"), lambda r, w: False),
]


def _view(key: str, world: Fixture) -> View:
    if key.startswith("queue:"):
        return View("queue", world.queue_ids[int(key.split(":")[1])])
    if key == "incident":
        return View("incident", world.incident_id)
    return View.parse(key)


@pytest.mark.parametrize(("key", "filters", "keep"), CASES)
def test_each_view_and_filter_pages_exactly_its_conversations(
    world: Fixture, db: Database, key: str, filters: Filters, keep: Any
) -> None:
    expected = world.expected(lambda r: keep(r, world))
    with session_scope(db.factory) as session:
        actor = world.principal(session)
        view = _view(key, world)
        whole = view_page(session, actor, view, filters, now=NOW, limit=200).items
        assert [i.id for i in whole] == expected[:200]
        for limit in (1, 7, 50):
            listed = every_page(session, actor, view, filters, limit)
            assert listed == expected, (key, limit)
    assert expected or key in ("sla",), "the fixture exercises the case"


def test_the_brand_filter(world: Fixture, db: Database) -> None:
    brand = next(r["brand_id"] for r in world.rows if r["brand_id"] is not None)
    expected = world.expected(lambda r: r["brand_id"] == brand and r["status"] == "open")
    with session_scope(db.factory) as session:
        actor = world.principal(session)
        listed = every_page(session, actor, View("all"), Filters(brand_id=brand), 9)
    assert listed == expected
    assert expected


def test_a_row_carries_its_sla_warning_time_and_priority_reasons(db: Database) -> None:
    clock = FrozenClock(NOW)
    tenant = make_tenant(db, clock, "acme", {})
    due, warn = NOW + timedelta(minutes=20), NOW - timedelta(minutes=5)
    with session_scope(db.factory) as session:
        actor_id = member(session, clock, "ana@acme.test", tenant.id, "agent").id
        s = Seed(session, tenant.id)
        conv = s.conversation(
            mentions=2,
            priority=80.0,
            priority_level="P1",
            sla=clocks(
                first_response={"due_at": _iso(due), "warn_at": _iso(warn)},
                resolution={
                    "due_at": _iso(due + timedelta(days=1)),
                    "warn_at": None,
                    "warned_at": _iso(NOW),
                },
            ),
        )
        mentions = session.scalars(
            select(Mention).where(Mention.conversation_id == conv.id).order_by(Mention.id)
        ).all()
        mentions[0].priority, mentions[0].priority_reasons = 80.0, ["influencer", "negative"]
        mentions[0].reach = 12_000
        mentions[1].priority, mentions[1].sentiment, mentions[1].intent = (
            10.0,
            "negative",
            "complaint",
        )
        waiting = s.conversation(status="waiting", sla=clocks(first_response={"state": "paused"}))
        item, paused = view_page(
            session,
            acting(session, actor_id, tenant.id),
            View("all"),
            Filters(status=ANY),
            now=NOW,
        ).items
    assert (item.id, paused.id) == (conv.id, waiting.id)
    assert (item.sla_due, item.sla_warn, item.sla_paused) == (due, warn, False)
    assert item.sla_clock == "first_response", "the clock due first, named"
    assert item.priority_reasons == ["influencer", "negative"], "the top mention's reasons"
    assert item.reach == 12_000
    assert (item.sentiment, item.intent) == ("negative", "complaint"), "the latest mention's"
    assert (paused.sla_due, paused.sla_paused) == (None, True)
    assert paused.sla_clock is None


def test_counts_are_capped_and_read_in_one_statement(world: Fixture, db: Database) -> None:
    views = [
        View("mine"),
        View("unassigned"),
        View("all"),
        View("p1"),
        View("backoffice"),
        View("sla"),
        View("queue", world.queue_ids[0]),
        View("incident", world.incident_id),
    ]
    with session_scope(db.factory) as session:
        actor = world.principal(session)
        with _statements(db) as seen:
            counts = view_counts(session, actor, views, now=NOW)
        capped = view_counts(session, actor, [View("all")], now=NOW, cap=5)
        with_sla = view_counts(session, actor, [View("sla")], now=NOW, with_sla=True)
        for view in views:
            if view.kind == "sla":
                continue
            total = len(every_page(session, actor, view, Filters(), 200))
            assert counts[view.key] == min(total, COUNT_CAP + 1), view.key
        assert with_sla["sla"] == len(every_page(session, actor, View("sla"), Filters(), 200))
    assert len(seen) == 1
    assert counts["sla"] is None, "the SLA count reads clocks: only on demand"
    assert capped["all"] == 6, "cap + 1: shown as more than the cap"


def test_a_search_confines_the_view_to_the_conversations_of_its_matches(db: Database) -> None:
    clock = FrozenClock(NOW)
    tenant = make_tenant(db, clock, "acme", {})
    other = make_tenant(db, clock, "globex", {})
    with session_scope(db.factory) as session:
        actor_id = member(session, clock, "ana@acme.test", tenant.id, "agent").id
        s = Seed(session, tenant.id)
        texts = ["remboursement en retard", "colis perdu", "remboursement refusé", "merci"]
        convs = [s.conversation(text=t, priority=float(10 * i)) for i, t in enumerate(texts)]
        closed = s.conversation(text="remboursement", status="resolved")
        theirs = Seed(session, other.id).conversation(text="remboursement")
        for mention in session.scalars(select(Mention)):
            mention.search_text = search_text(document_keys(mention.text))
        session.flush()
        actor = acting(session, actor_id, tenant.id)

        def found(q: str, **more: Any) -> list[int]:
            page = view_page(session, actor, View("all"), Filters(q=q, **more), now=NOW)
            return [i.id for i in page.items]

        assert found("remboursement") == [convs[2].id, convs[0].id]
        assert found("remboursement AND retard") == [convs[0].id]
        assert found("remboursement", status=ANY) == [convs[2].id, convs[0].id, closed.id]
        assert found("introuvable") == []
        assert theirs.id not in found("remboursement", status=ANY)
        with pytest.raises(InvalidInputError):
            found("(remboursement")


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (lambda: View.parse("nowhere"), "view"),
        (lambda: View.parse("queue"), "view"),
        (lambda: View.parse("queue:x"), "view"),
        (lambda: View.parse("mine:3"), "view"),
        (lambda: Filters(status="archived").checked(), "status"),
        (lambda: Filters(level="P5").checked(), "level"),
        (lambda: Filters(source="myspace").checked(), "source"),
        (lambda: Filters(sentiment="angry").checked(), "sentiment"),
        (lambda: Filters(intent="x").checked(), "intent"),
        (lambda: Filters(lang="f r").checked(), "lang"),
        (lambda: Filters(tag="x" * 41).checked(), "tag"),
        (lambda: Filters(q="x" * 501).checked(), "q"),
    ],
)
def test_wrong_views_and_filters_name_what_is_wrong(make: Any, where: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        make()
    assert caught.value.where == where


def test_blank_filters_are_none_and_views_round_trip() -> None:
    assert Filters(source=" ", q="", tag=" vip ").checked() == Filters(tag="vip")
    assert not Filters().active
    assert Filters(lang="fr").active
    unsure = Filters(sentiment="uncertain", intent="uncertain")
    assert unsure.checked() == unsure, "the analysis's 'uncertain' is a value of both filters"
    for key in ("mine", "sla", "queue:12", "incident:3"):
        assert View.parse(key).key == key
    assert View("backoffice").default_status == "escalated"
    assert limit_of(None) == limit_of(10) == 50
    assert limit_of(120) == 120
    assert limit_of(10**6) == 200


def test_who_starts_where_and_what_a_viewer_reads(world: Fixture, db: Database) -> None:
    with session_scope(db.factory) as session:
        agent = world.principal(session)
        viewer = world.principal(session, world.viewer)
        assert default_view(agent) == View("mine")
        assert default_view(viewer) == View("all")
        listed = view_page(session, viewer, View("all"), now=NOW, limit=200)
        assert {i.id for i in listed.items} == set(world.expected(lambda r: r["status"] == "open"))
        offered = choices(session, viewer)
        assert [q.id for q in offered.queues] == world.queue_ids[::-1], "routing order"
        assert [i.id for i in offered.incidents] == [world.incident_id]
        assert {a.id for a in offered.agents} == {world.agent, world.other}, "no viewer"
        with pytest.raises(ForbiddenError):
            view_page(
                session, forged(world.agent, world.tenant_id, role="nobody"), View("all"), now=NOW
            )


def test_another_tenants_rows_never_show_in_a_view(world: Fixture, db: Database) -> None:
    other = make_tenant(db, world.clock, "globex", {})
    with session_scope(db.factory) as session:
        theirs = Seed(session, other.id)
        their_ids = {
            theirs.conversation(priority=99.0, incident_id=world.incident_id).id for _ in range(5)
        }
        actor = world.principal(session)
        for view in (View("all"), View("incident", world.incident_id), View("p1")):
            listed = every_page(session, actor, view, Filters(status=ANY), 50)
            assert not their_ids & set(listed)
        counts = view_counts(session, actor, [View("incident", world.incident_id)], now=NOW)
    expected = world.expected(
        lambda r: r["incident_id"] == world.incident_id and r["status"] == "open"
    )
    assert counts[f"incident:{world.incident_id}"] == len(expected)


def test_a_page_of_a_view_with_filters_is_two_statements(world: Fixture, db: Database) -> None:
    with session_scope(db.factory) as session:
        actor = world.principal(session)
        filters = Filters(tag="vip", sentiment="negative", lang="fr", status=ACTIVE)
        with _statements(db) as seen:
            page = view_page(session, actor, View("all"), filters, now=NOW, limit=3)
            view_page(
                session, actor, View("all"), filters, now=NOW, limit=3, cursor=page.next_cursor
            )
    assert page.items
    assert len(seen) == 4
