"""GET /api/v1/mentions and POST /api/v1/queries/test-drive, on both backends: the tenant
comes from the token, never from the request."""

from __future__ import annotations

import base64
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.listening.search import encode_cursor
from clameur.listening.search_facets import facet_code
from clameur.mentions.models import Mention
from clameur.pipeline import Pipeline
from clameur.web import create_app
from clameur.web.api_v1.search_rate import SearchRateLimiter
from tests.conftest import Database, bearer, make_api_user, make_tenant
from tests.factories import record, write_jsonl

LINES = [
    record("1", "Volta en panne", created_at="2026-11-10T08:00:00Z"),
    record("2", "Volta : plus de réseau", created_at="2026-11-15T08:00:00Z", source="facebook"),
    record("3", "volta encore en panne !", created_at="2026-11-16T08:00:00Z", lang="fr"),
    record("4", "La lune, rien à voir", created_at="2026-11-16T09:00:00Z"),
    record("5", "#Volta concours", created_at="2026-11-16T10:00:00Z", source="review", rating=5),
]


@pytest.fixture
def app_and_tokens(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> tuple[TestClient, str]:
    make_tenant(db, clock, "volta", {"volta": ["volta"], "lune": ["lune"]})
    make_tenant(db, clock, "other", {"o": ["volta"]})
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", LINES), tenant="volta")
    secret = [record("s1", "volta panne chez un autre client", created_at="2026-11-16T11:00:00Z")]
    pipeline.import_file(write_jsonl(tmp_path / "o.jsonl", secret), tenant="other")
    volta = make_api_user(db, clock, "volta", "viewer@volta.example", "viewer")
    other = make_api_user(db, clock, "other", "agent@other.example", "agent")
    app = create_app(Settings(database_url=db.url))
    app.state.clock = FrozenClock(datetime(2026, 11, 16, 12, tzinfo=UTC))
    client = TestClient(app, base_url="http://127.0.0.1", headers=bearer(volta))
    return client, other


@pytest.fixture
def client(app_and_tokens: tuple[TestClient, str]) -> TestClient:
    return app_and_tokens[0]


def _ids(body: dict[str, Any]) -> list[str]:
    return [item["external_id"] for item in body["items"]]


def test_search_with_facets(client: TestClient) -> None:
    response = client.get("/api/v1/mentions", params={"q": "volta panne"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert _ids(body) == ["3", "1"]
    assert body["total"] == 2
    assert body["next"] is None
    assert body["facets"]["source"] == [{"value": "twitter", "count": 2}]
    assert body["facets"]["brand"] == [{"value": "volta", "count": 2}]
    langs = Counter(item["lang"] for item in body["items"])  # as the analyser stored them
    assert {f["value"]: f["count"] for f in body["facets"]["lang"]} == langs
    first = body["items"][0]
    assert first["brands"] == ["volta"]
    assert first["created_at"].startswith("2026-11-16T08:00:00")
    assert first["author"] == "client1"


def test_an_uncertain_sentiment_is_a_value_of_the_hits_and_the_facets(
    client: TestClient, db: Database
) -> None:
    """The analysis's "uncertain" (#17) reaches the API as itself, counted apart from the
    mentions not analysed (null), and the schema says what it means."""
    with session_scope(db.factory) as session:
        for mention in session.scalars(select(Mention).where(Mention.external_id == "3")):
            mention.sentiment = "uncertain"  # as the store step writes it: with its code
            mention.facet_code = facet_code(
                mention.source, mention.sentiment, mention.lang, mention.brand_set
            )
    body = client.get("/api/v1/mentions", params={"q": "volta panne"}).json()
    by_id = {item["external_id"]: item["sentiment"] for item in body["items"]}
    assert by_id["3"] == "uncertain"
    assert by_id["1"] != "uncertain"
    facets = {f["value"]: f["count"] for f in body["facets"]["sentiment"]}
    assert facets["uncertain"] == 1
    assert sum(facets.values()) == 2
    spec = client.get("/api/v1/openapi.json").json()
    field = spec["components"]["schemas"]["MentionOut"]["properties"]["sentiment"]
    assert "uncertain" in field["description"]


def test_pagination_date_range_and_listing(client: TestClient) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"q": "volta", "limit": 2}
    for _ in range(5):
        body = client.get("/api/v1/mentions", params=params).json()
        seen += _ids(body)
        first = "cursor" not in params
        assert (body["facets"] is not None, body["total"]) == (
            (True, 4) if first else (False, None)
        )
        if body["next"] is None:
            break
        params["cursor"] = body["next"]
    assert seen == ["5", "3", "2", "1"]
    without = client.get("/api/v1/mentions", params={"facets": "false"})
    assert without.json()["facets"] is None

    ranged = client.get(
        "/api/v1/mentions",
        params={"since": "2026-11-15T00:00:00Z", "until": "2026-11-16T09:00:00Z"},
    ).json()
    assert _ids(ranged) == ["3", "2"]
    assert ranged["total"] == 2
    assert _ids(client.get("/api/v1/mentions").json()) == ["5", "4", "3", "2", "1"]


def test_tenants_see_only_their_mentions(app_and_tokens: tuple[TestClient, str]) -> None:
    client, other = app_and_tokens
    mine = client.get("/api/v1/mentions", params={"q": "autre"}).json()
    assert mine["items"] == []
    assert mine["total"] == 0
    theirs = client.get("/api/v1/mentions", params={"q": "volta"}, headers=bearer(other)).json()
    assert _ids(theirs) == ["s1"]
    ignored = client.get("/api/v1/mentions", params={"tenant": "other", "q": "autre"})
    assert ignored.json()["items"] == [], "?tenant= is gone: the token decides"


def test_errors(client: TestClient) -> None:
    anonymous = client.get("/api/v1/mentions", params={"q": "volta"}, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.json()["status"] == 401

    bad = client.get("/api/v1/mentions", params={"q": "volta (panne OR"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    (detail,) = bad.json()["errors"]
    assert detail["loc"] == ["query", "q"]
    assert detail["type"] == "query_syntax"
    assert detail["column"] == 16
    assert "column 16" in detail["msg"]

    too_many = client.get("/api/v1/mentions", params={"limit": 201})
    assert too_many.status_code == 422
    cursor = client.get("/api/v1/mentions", params={"cursor": "x!"})
    assert cursor.status_code == 422
    assert cursor.json()["errors"][0]["loc"] == ["query", "cursor"]
    naive = client.get("/api/v1/mentions", params={"since": "2026-11-15"})
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["loc"] == ["query", "since"]


def test_test_drive(client: TestClient) -> None:
    response = client.post(
        "/api/v1/queries/test-drive",
        json={"query": "volta -concours", "days": 2, "sample_size": 1},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # window: 2026-11-14T12:00Z .. 2026-11-16T12:00Z (the app's clock)
    assert (body["mentions"], body["matched"]) == (4, 2)
    assert [m["external_id"] for m in body["sample"]] == ["3"]
    assert body["query"] == "volta AND NOT concours"
    assert body["facets"]["source"] == [
        {"value": "facebook", "count": 1},
        {"value": "twitter", "count": 1},
    ]

    bad = client.post("/api/v1/queries/test-drive", json={"query": "vo*"})
    assert bad.status_code == 422
    (detail,) = bad.json()["errors"]
    assert detail["loc"] == ["body", "query"]
    assert detail["column"] == 3
    empty = client.post("/api/v1/queries/test-drive", json={"query": ""})
    assert empty.status_code == 422
    assert "column 1" in empty.json()["errors"][0]["msg"]


def test_the_routes_are_in_the_openapi_description(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/mentions"]
    assert "post" in paths["/api/v1/queries/test-drive"]


@pytest.mark.parametrize("param", ["since", "until"], ids=["since", "until"])
@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00", "1969-12-31T23:59:59Z"]
)
def test_dates_outside_the_accepted_range_are_a_422_naming_the_parameter(
    client: TestClient, param: str, value: str
) -> None:
    response = client.get("/api/v1/mentions", params={"q": "volta", param: value})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    (detail,) = response.json()["errors"]
    assert detail["loc"] == ["query", param]
    assert "1970-01-01" in detail["msg"]
    assert "2100-01-01" in detail["msg"]


def test_the_range_ends_are_accepted(client: TestClient) -> None:
    response = client.get(
        "/api/v1/mentions",
        params={"since": "1970-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 5


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"])
def test_a_cursor_with_an_out_of_range_date_is_a_422(client: TestClient, stamp: str) -> None:
    cursor = base64.urlsafe_b64encode(f"{stamp}|1".encode()).decode().rstrip("=")
    response = client.get("/api/v1/mentions", params={"q": "volta", "cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    (detail,) = response.json()["errors"]
    assert detail["loc"] == ["query", "cursor"]
    assert "outside" in detail["msg"]
    good = encode_cursor(datetime(2026, 11, 17, tzinfo=UTC), 10**9)
    assert client.get("/api/v1/mentions", params={"cursor": good}).status_code == 200


def test_a_search_past_its_deadline_is_a_503_problem_saying_to_narrow_it(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "volta", {"volta": ["volta"]})
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", LINES), tenant="volta")
    token = make_api_user(db, clock, "volta", "viewer@volta.example", "viewer")
    app = create_app(Settings(database_url=db.url, search_timeout_seconds=1e-9))
    app.state.clock = FrozenClock(datetime(2026, 11, 16, 12, tzinfo=UTC))
    client = TestClient(app, base_url="http://127.0.0.1", headers=bearer(token))
    for response in (
        client.get("/api/v1/mentions", params={"q": "volta"}),
        client.post("/api/v1/queries/test-drive", json={"query": "volta"}),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "took longer than" in response.json()["detail"]
        assert "narrow it" in response.json()["detail"]
    # the app (and its connections) answer normally once the deadline allows it
    app.state.settings = Settings(database_url=db.url, search_timeout_seconds=30)
    response = client.get("/api/v1/mentions", params={"q": "volta"})
    assert response.status_code == 200, response.text
    assert _ids(response.json()) == ["5", "3", "2", "1"]


def test_searches_are_rate_limited_per_principal_with_retry_after(
    app_and_tokens: tuple[TestClient, str],
) -> None:
    client, other = app_and_tokens
    now = [1000.0]
    limiter = SearchRateLimiter(per_minute=6, burst=3, now=lambda: now[0])
    client.app.state.search_limiter = limiter  # type: ignore[attr-defined]
    for _ in range(3):
        assert client.get("/api/v1/mentions", params={"q": "volta"}).status_code == 200
    refused = client.post("/api/v1/queries/test-drive", json={"query": "volta"})
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "10"  # 6 a minute: one every 10 s
    assert "too many searches" in refused.json()["detail"]
    # another principal has its own bucket
    response = client.get("/api/v1/mentions", params={"q": "volta"}, headers=bearer(other))
    assert response.status_code == 200
    # the bucket refills with time: one search after 10 s, not two
    now[0] += 10
    assert client.get("/api/v1/mentions", params={"q": "volta"}).status_code == 200
    assert client.get("/api/v1/mentions", params={"q": "volta"}).status_code == 429
    now[0] += 60
    for _ in range(3):
        assert client.get("/api/v1/mentions", params={"q": "volta"}).status_code == 200
    assert client.get("/api/v1/mentions", params={"q": "volta"}).status_code == 429


def test_facets_that_take_too_long_are_left_out_of_a_complete_page(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "volta", {"volta": ["volta"]})
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", LINES), tenant="volta")
    token = make_api_user(db, clock, "volta", "viewer@volta.example", "viewer")
    app = create_app(Settings(database_url=db.url, search_facets_seconds=1e-9))
    client = TestClient(app, base_url="http://127.0.0.1", headers=bearer(token))
    response = client.get("/api/v1/mentions", params={"q": '"en panne"', "limit": 1})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["facets_stopped"] is True
    assert body["facets"] is None
    assert body["total"] is None
    assert _ids(body) == ["3"]
    assert body["next"] is not None
    app.state.settings = Settings(database_url=db.url)
    body = client.get("/api/v1/mentions", params={"q": '"en panne"', "limit": 1}).json()
    assert body["facets_stopped"] is False
    assert body["total"] == 2
