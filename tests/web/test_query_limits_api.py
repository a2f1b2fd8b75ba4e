"""Huge numbers and deep nesting in ``?q=`` are a 422 problem naming the limit, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.listening.query.parser import MAX_GROUPS
from clameur.pipeline import Pipeline
from clameur.web import create_app
from tests.conftest import Database, bearer, make_api_user, make_tenant
from tests.factories import record, write_jsonl
from tests.listening.test_query_cost import CASES, IDS

HUGE = "9" * 3900  # under the query length limit: the number itself is refused


@pytest.fixture
def client(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> TestClient:
    make_tenant(db, clock, "volta", {"volta": ["volta"]})
    lines = [record("1", "volta panne")]
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", lines), tenant="volta")
    token = make_api_user(db, clock, "volta", "viewer@volta.example", "viewer")
    app = create_app(Settings(database_url=db.url))
    app.state.clock = FrozenClock(datetime(2026, 11, 16, 12, tzinfo=UTC))
    return TestClient(
        app, base_url="http://127.0.0.1", headers=bearer(token), raise_server_exceptions=False
    )


@pytest.mark.parametrize(
    ("query", "column", "limit"),
    [
        (f"NEAR/{HUGE}", 1, "at most 1000"),
        (f"volta NEAR/{HUGE} panne", 7, "at most 1000"),
        (f'"volta panne"~{HUGE}', 14, "at most 1000"),
        (f"volta rating:<{HUGE}", 14, "between 0 and 10"),
        ("(" * (MAX_GROUPS + 1) + "volta" + ")" * (MAX_GROUPS + 1), MAX_GROUPS + 1, "levels"),
    ],
)
def test_out_of_range_queries_are_a_422_problem(
    client: TestClient, query: str, column: int, limit: str
) -> None:
    response = client.get("/api/v1/mentions", params={"q": query})
    assert response.status_code == 422, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    (detail,) = response.json()["errors"]
    assert detail["loc"] == ["query", "q"]
    assert detail["type"] == "query_syntax"
    assert detail["column"] == column
    assert limit in detail["msg"]
    assert HUGE not in response.text


def test_a_query_at_the_limits_is_answered(client: TestClient) -> None:
    query = "(" * MAX_GROUPS + "volta NEAR/1000 panne" + ")" * MAX_GROUPS
    response = client.get("/api/v1/mentions", params={"q": query})
    assert response.status_code == 200, response.text[:500]
    assert [item["external_id"] for item in response.json()["items"]] == ["1"]


@pytest.mark.parametrize(("name", "at_limit", "over", "column", "message"), CASES, ids=IDS)
def test_the_cost_model_limits_are_a_422_problem_naming_the_limit_and_column(
    client: TestClient, name: str, at_limit: str, over: str, column: int, message: str
) -> None:
    response = client.get("/api/v1/mentions", params={"q": at_limit})
    assert response.status_code == 200, response.text[:500]
    for response in (
        client.get("/api/v1/mentions", params={"q": over}),
        client.post("/api/v1/queries/test-drive", json={"query": over}),
    ):
        assert response.status_code == 422, response.text[:500]
        assert response.headers["content-type"] == "application/problem+json"
        (detail,) = response.json()["errors"]
        assert detail["type"] == "query_syntax"
        assert detail["column"] == column
        assert message in detail["msg"]
