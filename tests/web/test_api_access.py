"""Every operation of /api/v1/openapi.json (read from the spec, not a list): no credentials
→ 401; another tenant's token with this tenant's ids → 404 like a missing id; a viewer →
403 exactly where the policy table says a viewer may not (``x-clameur-action``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.pipeline import Pipeline
from clameur.tenancy.policy import allowed
from clameur.tenancy.principal import Principal
from clameur.web import create_app
from tests.conftest import ApiWorld, Database, bearer, make_api_world

MISSING = {"int": 987_654_321, "str": "missing-thing"}


@pytest.fixture
def world(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> ApiWorld:
    return make_api_world(db, pipeline, clock, tmp_path / "a.jsonl")


@pytest.fixture
def client(db: Database, world: ApiWorld) -> TestClient:
    return TestClient(create_app(Settings(database_url=db.url)), base_url="http://127.0.0.1")


def path_values(world: ApiWorld) -> dict[str, Any]:
    """Tenant a's real objects, by path parameter name."""
    return {
        "conversation_id": world.conversation_id,
        "alert_id": world.alert_id,
        "incident_id": world.incident_id,
        "reply_id": world.reply_id,
        "brand_slug": world.brand,
        "email": world.user_email,
        "prefix": world.token_prefix,
        "source_id": world.source_id,
    }


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation that is not public."""
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"} and op.get("security") != []:
                found.append((method.upper(), path, op))
    return found


def fill(path: str, op: dict[str, Any], values: dict[str, Any]) -> str:
    for param in op.get("parameters", []):
        if param["in"] != "path":
            continue
        name = param["name"]
        assert name in values, f"{path}: no value for path parameter {name!r}; add it above"
        path = path.replace("{" + name + "}", str(values[name]))
    assert "{" not in path, path
    return path


def sample(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A minimal valid instance of a JSON schema (required fields only)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return sample(spec["components"]["schemas"][name], spec)
    if "anyOf" in schema:
        return sample(next(s for s in schema["anyOf"] if s.get("type") != "null"), spec)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: sample(props[name], spec) for name in schema.get("required", [])}
    return {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": []}.get(
        str(kind), {}
    )


def body_of(op: dict[str, Any], spec: dict[str, Any]) -> Any:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return sample(content["application/json"]["schema"], spec)


def call(client: TestClient, method: str, url: str, body: Any, token: str | None) -> Any:
    headers = bearer(token) if token else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return client.request(method, url, **kwargs)


def is_problem(response: Any, status: int) -> bool:
    body = response.json()
    return (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
        and body["status"] == status
        and {"type", "title", "detail"} <= set(body)
    )


def test_the_spec_covers_the_resources(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    ops = operations(spec)
    assert len(ops) >= 30
    for _method, path, op in ops:
        assert {"token", "session"} == {next(iter(s)) for s in op["security"]}, path
        for code in ("401", "422"):
            assert "application/problem+json" in op["responses"][code]["content"], (path, code)
        if "x-clameur-action" in op:
            assert "403" in op["responses"], path
    public = [
        p for p, item in spec["paths"].items() for op in item.values() if op.get("security") == []
    ]
    assert "/api/v1/health" in public


def test_no_credentials_is_401_everywhere(client: TestClient, world: ApiWorld) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    values = path_values(world)
    for method, path, op in operations(spec):
        response = call(client, method, fill(path, op, values), body_of(op, spec), None)
        assert is_problem(response, 401), (method, path, response.status_code, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer clm_nope_nope"})
    assert is_problem(bad, 401)


def test_another_tenants_ids_are_not_found(client: TestClient, world: ApiWorld) -> None:
    """Tenant b's admin on tenant a's objects: the same 404 as an id that does not exist."""
    spec = client.get("/api/v1/openapi.json").json()
    real = path_values(world)
    missing = {
        name: MISSING["int"] if isinstance(value, int) else MISSING["str"]
        for name, value in real.items()
    }
    checked = 0
    for method, path, op in operations(spec):
        if not any(p["in"] == "path" for p in op.get("parameters", [])):
            continue
        body = body_of(op, spec)
        theirs = call(client, method, fill(path, op, real), body, world.other_admin)
        nothing = call(client, method, fill(path, op, missing), body, world.other_admin)
        assert is_problem(theirs, 404), (method, path, theirs.status_code, theirs.text)
        assert is_problem(nothing, 404), (method, path, nothing.status_code, nothing.text)
        shape = {k: v for k, v in theirs.json().items() if k != "detail"}
        assert shape == {k: v for k, v in nothing.json().items() if k != "detail"}, path
        checked += 1
    assert checked >= 15
    # and a's data is still there for a
    mine = call(client, "GET", f"/api/v1/alerts/{world.alert_id}", None, world.tokens["admin"])
    assert mine.status_code == 200


def test_a_viewer_is_refused_what_the_policy_refuses(client: TestClient, world: ApiWorld) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    values = path_values(world)
    viewer = Principal(user_id=0, email="v", tenant_id=0, tenant_slug="a", role="viewer")
    refused = allowed_writes = 0
    for method, path, op in operations(spec):
        action = op.get("x-clameur-action")
        may = action is None or allowed(viewer, action)
        response = call(
            client, method, fill(path, op, values), body_of(op, spec), world.tokens["viewer"]
        )
        if may:
            assert response.status_code != 403, (method, path, response.text)
            allowed_writes += method != "GET"
        else:
            assert is_problem(response, 403), (method, path, response.status_code, response.text)
            assert response.json()["action"] == action
            refused += method != "GET"
    assert refused >= 15
    assert allowed_writes >= 2, "reply approval and one's own tokens are a viewer's writes"
