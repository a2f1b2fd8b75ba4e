"""The search-result watch against a loopback server replaying recorded Brave Search API
answers: day by day, a result entering the first page is one mention, one staying put is
nothing, one coming back is a mention again; errors, the SSRF rule, then end to end
through the poller on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.mentions.models import Mention
from clameur.mentions.schemas import normalise
from clameur.pipeline import Pipeline
from clameur.sources.base import (
    PollContext,
    Polled,
    RateLimitedError,
    SourceConfig,
    SourceError,
    TransientSourceError,
)
from clameur.sources.search_watch import SearchWatchConnector, external_id
from clameur.sources.service import add_source
from tests.care.test_replies import make_world
from tests.conftest import Database, make_tenant
from tests.sources.helpers import poller, source_row
from tests.sources.replay_server import Replay, recording, serve_replay

OPEN = Settings(allow_private_fetch=True)
KEY = "BSA-brave-key-0123456789"
PATH = "/res/v1/web/search"
NEWS = "https://www.journal.example/eco/2029/12/31/volta-rappel-trottinettes_61234.html"
STORE = "https://www.boutique.example/volta-s2"


def rec(name: str) -> Any:
    return recording("search_watch", name)


@pytest.fixture
def server() -> Iterator[Replay]:
    yield from serve_replay()


def config(server: Replay, **options: Any) -> SourceConfig:
    return SourceConfig(
        id=1, tenant_id=1, kind="search_watch", name="volta-serp", url=None, source="web",
        options={"phrases": ["volta"], "base_url": f"{server.url}/res/v1", **options},
        secrets={"api_key": KEY},
    )  # fmt: skip


def poll(server: Replay, clock: FrozenClock, cursor: Any = None, **kw: Any) -> Polled:
    settings = kw.pop("settings", OPEN)
    return SearchWatchConnector().poll(config(server, **kw), cursor, PollContext(settings, clock))


def test_day_one_makes_a_mention_of_each_result(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", PATH, rec("day1"))
    polled = poll(server, clock)
    assert polled.problems == []
    assert len(polled.records) == 5
    for record in polled.records:
        normalise(record)
    first = polled.records[0]
    assert first["source"] == "web"
    assert first["url"] == "https://www.volta.example/"
    assert first["external_id"] == external_id("volta", first["url"], "2030-01-01")
    assert first["text"] == (
        "Volta — Trottinettes électriques françaises — Site officiel Volta : trottinettes "
        "électriques conçues à Lyon, garantie 3 ans.\n\nentered position 1 for “volta”"
    )
    assert first["created_at"] == "2030-01-01T12:00:00+00:00", "the poll's time"
    assert first["author"] == {"handle": "volta.example", "url": "https://www.volta.example"}
    assert "rating" not in first
    assert [r["serp_position"] for r in polled.records] == [1, 2, 3, 4, 5]
    assert first["serp_previous_position"] is None
    assert polled.cursor is not None
    state = polled.cursor["phrases"]["volta"]
    assert (
        state["ranked"][3]
        == "https://forum.trottinette.example/t/volta-s2-batterie-qui-gonfle/8812"
    )
    assert set(state["entered"].values()) == {"2030-01-01"}
    asked = server.last("GET", PATH)
    assert asked.headers["x-subscription-token"] == KEY
    assert (asked.param("q"), asked.param("count")) == ("volta", "10")


def test_day_two_one_entering_and_one_dropping_out_is_one_mention(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", PATH, rec("day1"))
    day1 = poll(server, clock)
    again = poll(server, clock, day1.cursor)
    assert again.records == [], "results staying put make nothing new"
    clock.advance(timedelta(days=1))
    server.replace("GET", PATH, rec("day2"))
    day2 = poll(server, clock, day1.cursor)
    (entered,) = day2.records
    assert entered["url"] == NEWS
    assert entered["serp_position"] == 3
    assert entered["text"].endswith("entered position 3 for “volta”")
    assert entered["external_id"].endswith(":2030-01-02")
    assert day2.cursor is not None
    state = day2.cursor["phrases"]["volta"]
    assert state["gone"] == {STORE: {"position": 5, "left": "2030-01-02"}}
    assert state["entered"][NEWS] == "2030-01-02"
    assert state["entered"]["https://www.volta.example/"] == "2030-01-01", "kept its first day"

    clock.advance(timedelta(days=1))
    server.replace("GET", PATH, rec("day3"))
    day3 = poll(server, clock, day2.cursor)
    (back,) = day3.records
    assert back["url"] == STORE
    assert back["text"].endswith("entered again position 5 for “volta”")
    assert back["serp_previous_position"] == 5
    assert back["serp_entries"] == 2
    assert back["external_id"] != external_id("volta", STORE, "2030-01-01"), "a new mention"


def test_a_malformed_result_is_a_problem_and_the_others_are_kept(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", PATH, rec("malformed"))
    polled = poll(server, clock)
    assert [r["serp_position"] for r in polled.records] == [1, 3], "the engine's ranks"
    (problem,) = polled.problems
    assert problem.where == "“volta” result 2"
    assert "no http(s) url" in problem.reason


def test_errors_are_typed_and_say_why(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", PATH, rec("error_429"), status=429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimitedError) as limited:
        poll(server, clock)
    assert limited.value.retry_after == 1.0
    server.replace("GET", PATH, rec("error_401"), status=401)
    with pytest.raises(SourceError) as refused:
        poll(server, clock)
    assert not isinstance(refused.value, TransientSourceError)
    assert "refused the API key" in str(refused.value)
    assert KEY not in str(refused.value)
    server.replace("GET", PATH, {"error": "boom"}, status=502)
    with pytest.raises(TransientSourceError):
        poll(server, clock)


def test_the_loopback_api_is_refused_by_default(server: Replay, clock: FrozenClock) -> None:
    with pytest.raises(SourceError) as refused:
        poll(server, clock, settings=Settings())
    assert "127.0.0.1 is a loopback" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)
    assert server.requests == []


def test_entering_results_are_stored_and_matched_to_the_brand(
    db: Database, pipeline: Pipeline, clock: FrozenClock, server: Replay
) -> None:
    world = make_world(db, clock)
    server.add("GET", PATH, rec("day1"))
    with session_scope(db.factory) as session:
        source_id = add_source(
            session, clock, tenant_id=world.tenant_id, kind="search_watch",
            options={"phrases": ["volta"], "base_url": f"{server.url}/res/v1"},
            secrets={"api_key": KEY}, interval_seconds=86_400,
        ).id  # fmt: skip
    outcome = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert outcome is not None
    assert outcome.status == "ok", outcome
    assert outcome.counts["imported"] == 5
    clock.advance(timedelta(days=1))
    server.replace("GET", PATH, rec("day2"))
    later = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert later is not None
    assert later.counts["imported"] == 1
    assert NEWS in source_row(db, source_id).cursor["phrases"]["volta"]["entered"]
    with session_scope(db.factory) as session:
        rows = {m.url: m for m in session.scalars(select(Mention))}
        assert len(rows) == 6
        assert rows[NEWS].brand_set == str(world.brand_id), "matched by the brand's query"
        assert rows[NEWS].source == "web"


def test_an_answer_that_is_not_a_search_moves_nothing(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", PATH, rec("day1"))
    day1 = poll(server, clock)
    server.replace("GET", PATH, {"type": "ErrorResponse", "error": {"status": 500}})
    with pytest.raises(TransientSourceError, match="not a web search answer"):
        poll(server, clock, day1.cursor)


def test_an_empty_page_keeps_the_previous_one(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", PATH, rec("day1"))
    day1 = poll(server, clock)
    empty = rec("day1")
    empty["web"]["results"] = []
    server.replace("GET", PATH, empty)
    clock.advance(timedelta(days=1))
    quiet = poll(server, clock, day1.cursor)
    assert quiet.records == []
    assert [p.reason for p in quiet.problems] == ["no results today: the previous page is kept"]
    assert quiet.cursor == day1.cursor
    server.replace("GET", PATH, rec("day1"))
    assert poll(server, clock, quiet.cursor).records == [], "nothing re-enters"


def test_phrases_default_to_the_brand_names_and_the_interval_to_a_day(
    db: Database, clock: FrozenClock
) -> None:
    from clameur.tenancy.models import Brand

    tenant = make_tenant(db, clock, "lune", {"maison-lune": ["lune"], "lune-express": ["lune"]})
    with session_scope(db.factory) as session:
        names = list(session.scalars(select(Brand.name).order_by(Brand.id)))
        row = add_source(session, clock, tenant_id=tenant.id, kind="search_watch", options={})
        assert row.options["phrases"] == names
        assert len(names) == 2
        assert row.interval_seconds == 86_400, "the connector's own rhythm"
        chosen = add_source(
            session,
            clock,
            tenant_id=tenant.id,
            kind="search_watch",
            name="mine",
            options={"phrases": ["avis maison lune"]},
            interval_seconds=3600,
        )
        assert chosen.options["phrases"] == ["avis maison lune"]
        assert chosen.interval_seconds == 3600
