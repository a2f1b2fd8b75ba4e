"""The inbox page over HTTP (TestClient): views and filters, the rows fragment and its
keyset pages, bulk actions with per-conversation results, a client viewer's read-only
inbox, CSRF, hostile text, and a bounded number of statements per list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from clameur.care.models import Conversation, Incident
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.listening import document_keys, search_text
from clameur.tenancy.models import Brand, User
from tests.care.test_inbox import Seed
from tests.conftest import Database, make_tenant
from tests.web.pages import csrf_of, make_user, signed_in

AT = datetime(2030, 3, 6, 9, 30, tzinfo=UTC)
NOW = AT + timedelta(hours=1)
ROW = re.compile(r'<li class="conv[^"]*" id="conv-(\d+)"')


def ids_of(html: str) -> list[int]:
    return [int(i) for i in ROW.findall(html)]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def running(due: datetime, warn: datetime | None = None) -> dict[str, Any]:
    """SLA clocks as :mod:`clameur.care.sla` keeps them: first response running."""
    clock = {
        "target": 3600,
        "started_at": _iso(AT),
        "state": "running",
        "used": 0.0,
        "running_since": _iso(due - timedelta(hours=1)),
        "due_at": _iso(due),
        "warn_at": _iso(warn) if warn else None,
        "warned_at": None,
        "breached_at": None,
        "stopped_at": None,
        "stopped_by": None,
        "met": None,
    }
    return {
        "policy_id": None,
        "calendar_id": None,
        "warn_percent": 80,
        "paused_since": None,
        "next_at": clock["warn_at"],
        "done": {},
        "clocks": {"first_response": clock},
    }


@dataclass
class World:
    db: Database
    clock: FrozenClock
    tenant_id: int
    users: dict[str, int]
    convs: dict[str, int]
    queue_id: int
    incident_id: int
    brands: dict[str, int]

    def client(self, who: str) -> TestClient:
        return signed_in(self.db, f"{who}@acme.example", self.clock)

    def name(self, ids: list[int]) -> list[str]:
        by_id = {v: k for k, v in self.convs.items()}
        return [by_id[i] for i in ids]

    def conversation(self, name: str) -> Conversation:
        with session_scope(self.db.factory) as session:
            found = session.get(Conversation, self.convs[name])
            assert found is not None
            session.expunge(found)
            return found


@pytest.fixture
def world(db: Database) -> World:
    clock = FrozenClock(NOW)
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"], "ampere": ["ampere"]})
    users = {
        role: make_user(db, clock, f"{role}@acme.example", {"acme": kind})
        for role, kind in (
            ("ana", "agent"),
            ("bo", "agent"),
            ("sam", "supervisor"),
            ("vic", "viewer"),
        )
    }
    with session_scope(db.factory) as session:
        for user_id, name in ((users["ana"], "Ana"), (users["bo"], "Bo")):
            found = session.get(User, user_id)
            assert found is not None
            found.name = name
        brands = dict(
            session.execute(select(Brand.slug, Brand.id).where(Brand.tenant_id == tenant.id)).all()
        )
        seed = Seed(session, tenant.id)
        queue = seed.queue("Social")
        incident = Incident(tenant_id=tenant.id, title="Panne réseau", opened_at=AT)
        session.add(incident)
        session.flush()
        c = {
            "p1_mine": seed.conversation(
                priority=90.0,
                priority_level="P1",
                assignee_id=users["ana"],
                queue_id=queue.id,
                brand_id=brands["volta"],
                sla=running(NOW + timedelta(minutes=10), NOW - timedelta(minutes=5)),
                tags=["vip"],
                lang="fr",
            ),
            "mine_low": seed.conversation(
                priority=20.0, priority_level="P4", assignee_id=users["ana"], lang="en"
            ),
            "bo_open": seed.conversation(
                priority=60.0, priority_level="P2", assignee_id=users["bo"], queue_id=queue.id
            ),
            "free_p2": seed.conversation(
                priority=58.0,
                priority_level="P2",
                queue_id=queue.id,
                brand_id=brands["ampere"],
                sla=running(NOW + timedelta(hours=6), NOW + timedelta(hours=5)),
                source="facebook",
            ),
            "free_incident": seed.conversation(
                priority=40.0, priority_level="P3", incident_id=incident.id, tags=["panne"]
            ),
            "escalated": seed.conversation(
                priority=70.0,
                priority_level="P2",
                status="escalated",
                assignee_id=users["ana"],
                holder_team_id=None,
            ),
            "resolved": seed.conversation(priority=95.0, priority_level="P1", status="resolved"),
            "unscored": seed.conversation(priority=None, text="remboursement de ma commande"),
        }
        for mention_conv, sentiment, intent in (
            ("free_p2", "negative", "complaint"),
            ("mine_low", "positive", "praise"),
        ):
            for mention in session.scalars(
                select_mentions(c[mention_conv].id)  # type: ignore[arg-type]
            ):
                mention.sentiment, mention.intent = sentiment, intent
        for mention in session.scalars(select_mentions(c["unscored"].id)):
            mention.search_text = search_text(document_keys(mention.text))
        from clameur.care.models import Team

        team = Team(tenant_id=tenant.id, name="Billing", kind="back_office")
        session.add(team)
        session.flush()
        c["escalated"].holder_team_id = team.id
        convs = {name: conv.id for name, conv in c.items()}
    return World(db, clock, tenant.id, users, convs, queue.id, incident.id, brands)


def select_mentions(conversation_id: int) -> Any:
    from clameur.mentions.models import Mention

    return select(Mention).where(Mention.conversation_id == conversation_id)


# -- views and filters --------------------------------------------------------------------


def test_an_agent_lands_on_their_own_conversations(world: World) -> None:
    page = world.client("ana").get("/")
    assert page.status_code == 200, page.text
    assert world.name(ids_of(page.text)) == ["p1_mine", "mine_low"]
    assert 'aria-current="true"' in page.text
    assert "/static/js/inbox.js" in page.text
    assert "/static/css/inbox.css" in page.text
    assert 'sse-connect="/live"' in page.text
    assert 'hx-trigger="sse:inbox' in page.text


def test_a_supervisor_lands_on_everything_open(world: World) -> None:
    page = world.client("sam").get("/")
    assert world.name(ids_of(page.text)) == [
        "p1_mine",
        "bo_open",
        "free_p2",
        "free_incident",
        "mine_low",
        "unscored",
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"view": "unassigned"}, ["free_p2", "free_incident", "unscored"]),
        ({"view": "p1"}, ["p1_mine"]),
        ({"view": "sla"}, ["p1_mine"]),
        ({"view": "backoffice"}, ["escalated"]),
        ({"view": "all", "status": "resolved"}, ["resolved"]),
        (
            {"view": "all", "status": "active"},
            ["p1_mine", "escalated", "bo_open", "free_p2", "free_incident", "mine_low", "unscored"],
        ),
        ({"view": "all", "level": "P2"}, ["bo_open", "free_p2"]),
        ({"view": "all", "source": "facebook"}, ["free_p2"]),
        ({"view": "all", "lang": "en"}, ["mine_low"]),
        ({"view": "all", "sentiment": "negative"}, ["free_p2"]),
        ({"view": "all", "intent": "praise"}, ["mine_low"]),
        ({"view": "all", "tag": "vip"}, ["p1_mine"]),
        ({"view": "all", "q": "remboursement"}, ["unscored"]),
        ({"view": "mine", "level": "P4"}, ["mine_low"]),
    ],
)
def test_views_and_filters(world: World, params: dict[str, str], expected: list[str]) -> None:
    page = world.client("ana").get("/inbox", params=params)
    assert page.status_code == 200, page.text
    assert world.name(ids_of(page.text)) == expected


def test_queue_incident_and_brand_views(world: World) -> None:
    client = world.client("sam")
    queue = client.get("/inbox", params={"view": f"queue:{world.queue_id}"})
    assert world.name(ids_of(queue.text)) == ["p1_mine", "bo_open", "free_p2"]
    assert "Social" in queue.text
    incident = client.get("/inbox", params={"view": f"incident:{world.incident_id}"})
    assert world.name(ids_of(incident.text)) == ["free_incident"]
    assert "Panne réseau" in incident.text
    brand = client.get("/inbox", params={"view": "all", "brand": str(world.brands["ampere"])})
    assert world.name(ids_of(brand.text)) == ["free_p2"]


def test_the_side_bar_lists_views_with_their_counts(world: World) -> None:
    page = world.client("ana").get("/inbox", params={"view": "mine"}).text
    side = page[page.index('id="inbox-views"') : page.index("</nav>")]
    counts = dict(
        re.findall(
            r'class="view-(\w+)[^"]*"[^>]*><span class="view-name">.*?</span>'
            r'(?:<span class="count[^"]*">([\d+]+)</span>)?</a>',
            side,
        )
    )
    assert counts["sla"] == "", "not counted: no index to walk"
    assert counts["mine"] == "2"
    assert counts["unassigned"] == "3"
    assert counts["backoffice"] == "1"
    assert counts["queue"] == "3"
    assert "Panne réseau" in side
    fragment = world.client("ana").get("/inbox/views", params={"view": "p1"})
    assert fragment.status_code == 200
    assert 'class="view-p1 active"' in fragment.text
    assert "<html" not in fragment.text


def test_a_wrong_filter_is_reported_next_to_its_field_and_dropped(world: World) -> None:
    client = world.client("ana")
    page = client.get("/inbox", params={"view": "nowhere", "level": "P9", "q": "(unclosed"})
    assert page.status_code == 422
    assert 'class="error-summary"' in page.text
    assert 'href="#filter-level"' in page.text
    assert 'href="#filter-q"' in page.text
    assert 'id="filter-q"' in page.text
    assert world.name(ids_of(page.text)) == ["p1_mine", "mine_low"], "the default view"


def test_a_stale_cursor_shows_the_first_page(world: World) -> None:
    page = world.client("ana").get("/inbox", params={"cursor": "garbage"})
    assert page.status_code == 200
    assert world.name(ids_of(page.text)) == ["p1_mine", "mine_low"]


# -- the rows fragment and its pages -------------------------------------------------------


def _more_link(html: str) -> str | None:
    found = re.search(r'hx-get="(/inbox/rows\?[^"]+)"\s+hx-target="#inbox-items"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_load_more_pages_through_the_list_without_repeats(world: World) -> None:
    with session_scope(world.db.factory) as session:
        seed = Seed(session, world.tenant_id)
        seed.count = 100
        for i in range(120):
            seed.conversation(priority=float(i % 7) * 10 if i % 9 else None, lang="de")
    client = world.client("sam")
    first = client.get("/inbox/rows", params={"view": "all", "lang": "de"})
    assert first.status_code == 200
    assert "<html" not in first.text
    listed = ids_of(first.text)
    assert len(listed) == 50
    link = _more_link(first.text)
    while link:
        assert "append=1" in link
        assert "lang=de" in link
        more = client.get(link)
        assert 'hx-swap-oob="true"' in more.text
        assert "<ol" not in more.text, "rows only, to append"
        listed += ids_of(more.text)
        link = _more_link(more.text)
    assert len(listed) == len(set(listed)) == 120


def test_a_live_refresh_keeps_the_rows_that_were_loaded(world: World) -> None:
    with session_scope(world.db.factory) as session:
        seed = Seed(session, world.tenant_id)
        seed.count = 100
        for i in range(80):
            seed.conversation(priority=float(i), lang="de")
    client = world.client("sam")
    refreshed = client.get("/inbox/rows", params={"view": "all", "lang": "de", "shown": "73"})
    assert len(ids_of(refreshed.text)) == 73
    capped = client.get("/inbox/rows", params={"view": "all", "lang": "de", "shown": "9999"})
    assert len(ids_of(capped.text)) == 80


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_the_rows_cost_the_same_few_statements_at_any_page_size(world: World) -> None:
    with session_scope(world.db.factory) as session:
        seed = Seed(session, world.tenant_id)
        seed.count = 100
        for i in range(150):
            seed.conversation(priority=float(i), lang="de", tags=["x"], mentions=2)
    client = world.client("sam")
    # the client's engine is its own app's: count on it
    engine = client.app.state.session_factory.kw["bind"]  # type: ignore[attr-defined]
    counted: dict[int, int] = {}
    for shown in (50, 100, 150):
        seen: list[str] = []

        def record(
            _conn: Any, _cursor: Any, statement: str, *_: Any, seen: list[str] = seen
        ) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            answer = client.get(
                "/inbox/rows",
                params={"view": "all", "lang": "de", "tag": "x", "shown": shown},
            )
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert answer.status_code == 200
        assert len(ids_of(answer.text)) == min(shown, 150)
        counted[shown] = len(seen)
    assert counted[50] == counted[100] == counted[150] <= 8, counted


# -- bulk actions --------------------------------------------------------------------------


def _bulk(client: TestClient, page_html: str, *, htmx: bool = True, **data: Any) -> Any:
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_of(page_html)} if htmx else {}
    form = {"csrf_token": csrf_of(page_html), **data} if not htmx else data
    return client.post("/inbox/bulk", data=form, headers=headers)


def test_bulk_resolve_answers_the_refreshed_rows_and_a_toast(world: World) -> None:
    client = world.client("sam")
    page = client.get("/inbox", params={"view": "unassigned"}).text
    ids = [str(world.convs["free_p2"]), str(world.convs["free_incident"])]
    answer = _bulk(client, page, ids=ids, action="resolve", back="view=unassigned")
    assert answer.status_code == 200, answer.text
    assert world.name(ids_of(answer.text)) == ["unscored"]
    assert "2 conversations résolues." in answer.headers["HX-Trigger"].encode().decode(
        "unicode_escape"
    )
    assert world.conversation("free_p2").status == "resolved"
    assert world.conversation("free_incident").status == "resolved"


def test_one_refused_conversation_does_not_undo_the_others(world: World) -> None:
    client = world.client("ana")
    page = client.get("/inbox", params={"view": "all"}).text
    ids = [world.convs["free_p2"], world.convs["bo_open"], world.convs["resolved"], 999_999]
    answer = _bulk(client, page, ids=[str(i) for i in ids], action="assign_me", back="view=all")
    assert answer.status_code == 200, answer.text
    toast = answer.headers["HX-Trigger"].encode().decode("unicode_escape")
    assert "1 conversation vous est attribuée" in toast
    assert f"#{world.convs['bo_open']}" in toast, "a colleague's: not an agent's to take"
    assert f"#{world.convs['resolved']}" in toast, "closed: reopen it first"
    assert "#999999" in toast
    assert world.conversation("free_p2").assignee_id == world.users["ana"]
    assert world.conversation("bo_open").assignee_id == world.users["bo"]
    assert world.conversation("resolved").assignee_id is None
    row = answer.text[answer.text.index(f'id="conv-{world.convs["bo_open"]}"') :]
    assert 'class="row-error"' in row[: row.index("</li>")]


def test_tag_assign_to_a_colleague_and_spam(world: World) -> None:
    client = world.client("sam")
    page = client.get("/inbox", params={"view": "all"}).text
    assert 'id="bulk-to"' in page, "supervisors may hand work to others"
    one = [str(world.convs["free_p2"])]
    tagged = _bulk(client, page, ids=one, action="tag", tag="rappel", back="view=all")
    assert tagged.status_code == 200
    assert "rappel" in world.conversation("free_p2").tags
    given = _bulk(client, page, ids=one, action="assign", to=str(world.users["bo"]))
    assert given.status_code == 200
    assert world.conversation("free_p2").assignee_id == world.users["bo"]
    spam = _bulk(client, page, ids=[str(world.convs["unscored"])], action="spam", back="view=all")
    assert spam.status_code == 200
    closed = world.conversation("unscored")
    assert (closed.status, "spam" in closed.tags) == ("closed", True)
    assert world.convs["unscored"] not in ids_of(spam.text)


def test_an_agent_cannot_hand_work_to_a_colleague(world: World) -> None:
    client = world.client("ana")
    page = client.get("/inbox", params={"view": "all"}).text
    assert 'id="bulk-to"' not in page
    answer = _bulk(
        client, page, ids=[str(world.convs["free_p2"])], action="assign", to=str(world.users["bo"])
    )
    assert answer.status_code == 403
    assert world.conversation("free_p2").assignee_id is None


def test_a_plain_form_gets_the_whole_page_with_the_outcome(world: World) -> None:
    client = world.client("ana")
    page = client.get("/inbox", params={"view": "mine"}).text
    answer = _bulk(
        client,
        page,
        htmx=False,
        ids=[str(world.convs["mine_low"])],
        action="resolve",
        back="view=mine&level=P4",
    )
    assert answer.status_code == 200
    assert "1 conversation résolue." in answer.text
    assert 'class="notice' in answer.text
    assert world.name(ids_of(answer.text)) == [], "back on the view it came from"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "resolve"}, "Sélectionnez au moins une conversation."),
        ({"action": "explode", "ids": "1"}, "Choisissez une action."),
        ({"action": "tag", "ids": "1", "tag": " "}, "Saisissez l"),
    ],
)
def test_an_incomplete_bulk_form_is_refused_with_what_is_missing(
    world: World, data: dict[str, str], message: str
) -> None:
    client = world.client("ana")
    page = client.get("/inbox").text
    answer = _bulk(client, page, **data)
    assert answer.status_code == 422
    from urllib.parse import unquote

    assert message in unquote(answer.headers["X-Clameur-Message"])


# -- the client viewer: read only ----------------------------------------------------------


def test_a_viewer_sees_the_inbox_without_any_action(world: World) -> None:
    client = world.client("vic")
    page = client.get("/")
    assert page.status_code == 200
    assert ids_of(page.text), "the viewer reads the conversations"
    assert 'id="bulk-form"' not in page.text
    assert 'action="/inbox/bulk"' not in page.text
    assert 'name="ids"' not in page.text
    assert "view-mine" not in page.text, "a viewer holds no conversation"
    refused = _bulk(client, page.text, ids=[str(world.convs["free_p2"])], action="resolve")
    assert refused.status_code == 403
    plain = _bulk(
        client, page.text, htmx=False, ids=[str(world.convs["free_p2"])], action="resolve"
    )
    assert plain.status_code == 403
    assert world.conversation("free_p2").status == "open"


def test_bulk_without_its_csrf_token_changes_nothing(world: World) -> None:
    client = world.client("ana")
    one = {"ids": str(world.convs["free_p2"]), "action": "resolve"}
    for headers, data in (
        ({}, one),
        ({}, {**one, "csrf_token": "forged"}),
        ({"HX-Request": "true", "X-CSRF-Token": "forged"}, one),
    ):
        answer = client.post("/inbox/bulk", data=data, headers=headers)
        assert answer.status_code == 403
    assert world.conversation("free_p2").status == "open"


def test_another_tenants_conversation_is_not_found(world: World) -> None:
    other = make_tenant(world.db, world.clock, "globex", {})
    with session_scope(world.db.factory) as session:
        theirs = Seed(session, other.id).conversation(priority=50.0)
        their_id = theirs.id
    client = world.client("sam")
    page = client.get("/inbox").text
    answer = _bulk(client, page, ids=[str(their_id)], action="resolve")
    assert answer.status_code == 200
    assert "introuvable" in answer.headers["HX-Trigger"].encode().decode("unicode_escape")
    with session_scope(world.db.factory) as session:
        found = session.get(Conversation, their_id)
        assert found is not None
        assert found.status == "open"
    listed = client.get("/inbox", params={"view": "all", "status": "any"})
    assert their_id not in ids_of(listed.text)


# -- hostile text --------------------------------------------------------------------------


def _check(answer: Any, where: str) -> int:
    """The hostile-text checks of tests/web/test_pages_hostile.py, on a page of the shell
    (whose own scripts are served from /static)."""
    from tests.web.test_pages_hostile import BIDI, MARK, _Isolation

    assert answer.status_code == 200, where
    parser = _Isolation()
    parser.feed(answer.text)
    for tag, attrs in parser.tags:
        if tag == "script":
            assert (attrs.get("src") or "").startswith("/static/"), f"{where}: inline script"
        if tag == "img":
            assert attrs.get("src") == "/static/favicon.svg", f"{where}: an injected image"
        assert tag not in {"iframe", "svg"}, where
        injected = [name for name in attrs if name.startswith("on")]
        assert not injected, f"{where}: an event handler attribute: {injected}"
    assert "<script>alert" not in answer.text
    assert "<img src=x" not in answer.text
    for data, stack, isolated in parser.found:
        if stack and stack[-1] in {"title", "option"}:
            assert not BIDI & set(data), f"{where}: a bidi control in <{stack[-1]}>"
        else:
            assert isolated, f"{where}: not isolated in {stack}: {data[:80]!r}"
    assert MARK in answer.text
    return len(parser.found)


def test_hostile_text_is_escaped_and_isolated(world: World) -> None:
    from tests.web.test_pages_hostile import PAYLOAD

    with session_scope(world.db.factory) as session:
        seed = Seed(session, world.tenant_id)
        seed.count = 500
        author = seed.author(f"{PAYLOAD}h")
        author.name = PAYLOAD
        seed.conversation(
            author,
            text=PAYLOAD,
            priority=99.0,
            priority_level="P1",
            tags=[PAYLOAD[:40]],
        )
        incident = session.get(Incident, world.incident_id)
        assert incident is not None
        incident.title = PAYLOAD
        user = session.get(User, world.users["bo"])
        assert user is not None
        user.name = PAYLOAD
    client = world.client("sam")
    page = client.get("/inbox", params={"view": "all", "q": PAYLOAD[:20]})
    assert _check(page, "/inbox?q=…") >= 1
    assert 'value="HOSTILE&lt;script&gt;' in page.text, "the search is given back, escaped"
    everything = client.get("/inbox", params={"view": "all"})
    assert _check(everything, "/inbox all") >= 5, "handle, name, text, tag, incident, assignee"
    assert _check(client.get("/inbox/rows", params={"view": "all"}), "/inbox/rows") >= 5
