"""Webhook ingest through the real app: signed batches in the import format land in the
source's tenant; bad, missing and stale signatures, unknown and wrong-kind sources, mixed
good and bad lines, replays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.detection.delivery import sign
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.sources.models import Source, SourceSecret
from clameur.sources.webhook import MAX_BODY_BYTES, SIGNATURE_HEADER, TIMESTAMP_HEADER
from clameur.tenancy.models import MentionBrand
from clameur.web import create_app
from tests.conftest import Database, make_tenant


def add_source(
    db: Database,
    clock: FrozenClock,
    tenant_id: int,
    name: str,
    *,
    kind: str = "webhook",
    secret: str = "s3cret",
    enabled: bool = True,
) -> int:
    with session_scope(db.factory) as session:
        source = Source(
            tenant_id=tenant_id,
            kind=kind,
            name=name,
            url=None,
            source="forum",
            options={},
            enabled=enabled,
            created_at=clock.now(),
        )
        session.add(source)
        session.flush()
        session.add(
            SourceSecret(tenant_id=tenant_id, source_id=source.id, values={"secret": secret})
        )
        return source.id


@dataclass
class World:
    client: TestClient
    clock: FrozenClock
    db: Database
    acme: int
    other_tenant: int
    rss: int
    disabled: int

    def post(
        self,
        source_id: int,
        body: bytes,
        *,
        secret: str = "s3cret",
        at: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        timestamp = str(int(at if at is not None else self.clock.now().timestamp()))
        sent = {
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            "Content-Type": "application/x-ndjson",
        }
        sent.update(headers or {})
        return self.client.post(f"/api/v1/ingest/{source_id}", content=body, headers=sent)

    def mentions(self) -> list[Mention]:
        with session_scope(self.db.factory) as session:
            rows = session.scalars(select(Mention).order_by(Mention.external_id))
            return list(rows)


@pytest.fixture
def world(db: Database, pipeline: Pipeline, clock: FrozenClock) -> Iterator[World]:
    acme = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    bravo = make_tenant(db, clock, "bravo", {"bravo": ["bravo"]})
    app = create_app(Settings(database_url=db.url))
    app.state.clock = clock
    app.state.pipeline = pipeline
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield World(
            client=client,
            clock=clock,
            db=db,
            acme=add_source(db, clock, acme.id, "hook"),
            other_tenant=add_source(db, clock, bravo.id, "hook", secret="other"),
            rss=add_source(db, clock, acme.id, "feed", kind="rss"),
            disabled=add_source(db, clock, acme.id, "old", enabled=False),
        )


def line(external_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "text": text,
        "created_at": "2029-12-31T10:00:00+00:00",
        "author": {"handle": "jeanne"},
        **extra,
    }


def jsonl(*records: Any) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )


def test_a_signed_batch_is_stored_in_the_sources_tenant_and_matched(world: World) -> None:
    body = jsonl(
        line("m1", "acme a perdu mon colis"),
        line("m2", "acme: merci !", source="review", rating=5),
    )
    response = world.post(world.acme, body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "imported": 2,
        "updated": 0,
        "unchanged": 0,
        "unmatched": 0,
        "rejected": 0,
        "errors": [],
    }
    stored = world.mentions()
    assert [(m.external_id, m.source) for m in stored] == [("m1", "forum"), ("m2", "review")]
    with session_scope(world.db.factory) as session:
        brands = set(session.scalars(select(MentionBrand.mention_id)))
    assert brands == {m.id for m in stored}
    with session_scope(world.db.factory) as session:
        owner = session.get(Source, world.acme)
        assert owner is not None
        assert {m.tenant_id for m in stored} == {owner.tenant_id}


def test_a_line_no_brand_query_matches_is_counted_unmatched_not_stored(world: World) -> None:
    response = world.post(world.acme, jsonl(line("m1", "acme"), line("m2", "rien à voir")))
    assert response.status_code == 200, response.text
    assert (response.json()["imported"], response.json()["unmatched"]) == (1, 1)
    assert [m.external_id for m in world.mentions()] == ["m1"]


def test_a_json_array_is_accepted(world: World) -> None:
    body = json.dumps([line("a1", "acme un"), line("a2", "acme deux"), "nope"]).encode()
    response = world.post(world.acme, body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 2
    assert response.json()["errors"] == [{"line": 3, "reason": "not a JSON object"}]


def test_mixed_lines_keep_the_good_and_report_the_bad_by_line(world: World) -> None:
    body = jsonl(
        line("g1", "acme ok"),
        b"{not json",
        {"external_id": "x", "text": "acme"},  # no created_at
        line("g2", "acme toujours ok"),
    )
    response = world.post(world.acme, body)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["imported"], summary["rejected"]) == (2, 2)
    assert [e["line"] for e in summary["errors"]] == [2, 3]
    assert "created_at" in summary["errors"][1]["reason"]
    assert [m.external_id for m in world.mentions()] == ["g1", "g2"]


def test_a_batch_of_only_bad_lines_is_a_422_with_the_summary(world: World) -> None:
    response = world.post(world.acme, jsonl(b"{oops", b"42"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["rejected"], [e["line"] for e in body["errors"]]) == (2, [1, 2])
    assert world.post(world.acme, b"\n\n").status_code == 422  # no record at all
    assert world.post(world.acme, b"[1, 2").status_code == 422  # a broken array


def test_a_replayed_body_changes_nothing(world: World) -> None:
    body = jsonl(line("r1", "acme encore"), line("r2", "acme et encore"))
    assert world.post(world.acme, body).json()["imported"] == 2
    again = world.post(world.acme, body)
    assert again.status_code == 200
    assert (again.json()["imported"], again.json()["unchanged"]) == (0, 2)
    assert len(world.mentions()) == 2


def test_a_bad_signature_is_401(world: World) -> None:
    body = jsonl(line("b1", "acme"))
    response = world.post(world.acme, body, secret="guessed")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "does not match" in response.json()["detail"]
    timestamp = str(int(world.clock.now().timestamp()))
    tampered = world.client.post(
        f"/api/v1/ingest/{world.acme}",
        content=body + jsonl(line("b2", "acme")),
        headers={TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign("s3cret", timestamp, body)},
    )
    assert tampered.status_code == 401
    assert world.mentions() == []


def test_missing_headers_are_401_naming_them(world: World) -> None:
    body = jsonl(line("b1", "acme"))
    bare = world.client.post(f"/api/v1/ingest/{world.acme}", content=body)
    assert bare.status_code == 401
    assert SIGNATURE_HEADER in bare.json()["detail"]
    no_time = world.client.post(
        f"/api/v1/ingest/{world.acme}", content=body, headers={SIGNATURE_HEADER: "sha256=00"}
    )
    assert no_time.status_code == 401
    assert TIMESTAMP_HEADER in no_time.json()["detail"]
    odd = world.post(world.acme, body, headers={SIGNATURE_HEADER: "md5=zz"})
    assert odd.status_code == 401
    not_seconds = world.post(world.acme, body, headers={TIMESTAMP_HEADER: "yesterday"})
    assert "Unix seconds" in not_seconds.json()["detail"]
    assert world.mentions() == []


def test_a_stale_or_future_timestamp_is_401_saying_so(world: World) -> None:
    body = jsonl(line("s1", "acme"))
    now = world.clock.now()
    stale = world.post(world.acme, body, at=(now - timedelta(minutes=6)).timestamp())
    assert stale.status_code == 401
    assert "360 s old" in stale.json()["detail"]
    future = world.post(world.acme, body, at=(now + timedelta(minutes=6)).timestamp())
    assert future.status_code == 401
    assert "in the future" in future.json()["detail"]
    fresh = world.post(world.acme, body, at=(now - timedelta(minutes=4)).timestamp())
    assert fresh.status_code == 200
    world.clock.advance(timedelta(minutes=10))  # the same signed request, captured and replayed
    assert world.post(world.acme, body, at=now.timestamp()).status_code == 401


def test_unknown_wrong_kind_and_disabled_sources_are_one_404(world: World) -> None:
    body = jsonl(line("n1", "acme"))
    answers = [world.post(source, body) for source in (world.rss, world.disabled, 987654321)]
    assert [a.status_code for a in answers] == [404, 404, 404]
    shapes = [{k: v for k, v in a.json().items() if k != "detail"} for a in answers]
    assert shapes[0] == shapes[1] == shapes[2]
    assert world.mentions() == []


def test_another_tenants_secret_opens_nothing_here(world: World) -> None:
    body = jsonl(line("t1", "bravo et acme"))
    response = world.post(world.acme, body, secret="other")  # bravo's webhook secret
    assert response.status_code == 401
    assert world.mentions() == []
    theirs = world.post(world.other_tenant, body, secret="other")
    assert theirs.status_code == 200
    with session_scope(world.db.factory) as session:
        bravo = session.get(Source, world.other_tenant)
        assert bravo is not None
        assert {m.tenant_id for m in world.mentions()} == {bravo.tenant_id}


def test_a_body_over_the_limit_is_413(world: World) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    response = world.post(world.acme, body)
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in response.json()["detail"]


def test_the_route_is_public_in_the_spec_and_documents_the_signature(world: World) -> None:
    spec = world.client.get("/api/v1/openapi.json").json()
    op = spec["paths"]["/api/v1/ingest/{source_id}"]["post"]
    assert op["security"] == []
    assert SIGNATURE_HEADER in op["description"]
    assert {"401", "404", "413", "422"} <= set(op["responses"])


def test_the_webhook_connector_is_registered_never_polls_and_makes_a_secret() -> None:
    from clameur.sources.registry import connector
    from clameur.sources.webhook import WebhookConnector

    webhook = connector("webhook")
    assert isinstance(webhook, WebhookConnector)
    assert (webhook.polls, webhook.needs_url, webhook.secret_fields) == (False, False, ("secret",))
    made = webhook.generate_secrets()
    assert made["secret"].startswith("whsec_")
    assert len(made["secret"]) > 40
    assert webhook.generate_secrets()["secret"] != made["secret"]
    assert webhook.generate_secrets({"secret": "mine"}) == {"secret": "mine"}
    assert webhook.endpoint("https://clameur.example/", 7) == (
        "https://clameur.example/api/v1/ingest/7"
    )


def test_signed_requests_past_the_sources_rate_get_429_with_retry_after(world: World) -> None:
    from clameur.web.api_v1.ingest import IngestRateLimiter

    ticks = [0.0]
    limiter = IngestRateLimiter(per_minute=6, burst=2, now=lambda: ticks[0])
    world.client.app.state.ingest_limiter = limiter  # type: ignore[attr-defined]
    body = jsonl(line("q1", "acme"))
    assert world.post(world.acme, body).status_code == 200
    assert world.post(world.acme, body, secret="wrong").status_code == 401
    assert world.post(world.acme, body).status_code == 200, "a bad signature spent nothing"
    limited = world.post(world.acme, body)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "10"
    assert world.post(world.other_tenant, body, secret="other").status_code == 200
    ticks[0] += 10  # one request's worth refilled
    assert world.post(world.acme, body).status_code == 200


def test_a_received_batch_shows_in_the_sources_health(world: World) -> None:
    assert world.post(world.acme, jsonl(line("h1", "acme"), line("h2", "rien"))).status_code == 200
    with session_scope(world.db.factory) as session:
        source = session.get(Source, world.acme)
        assert source is not None
        assert source.last_polled_at == world.clock.now(), "when it last received a batch"
        assert source.last_success_at == world.clock.now()
        assert source.stats["last"]["imported"] == 1
        assert source.stats["last"]["unmatched"] == 1
        assert sum(source.stats["hours"].values()) == 1
    world.clock.advance(timedelta(minutes=5))
    assert world.post(world.acme, jsonl(b"{oops")).status_code == 422
    with session_scope(world.db.factory) as session:
        source = session.get(Source, world.acme)
        assert source is not None
        assert source.last_polled_at == world.clock.now()
        assert source.last_success_at == world.clock.now() - timedelta(minutes=5)
        assert "rejected" in (source.last_error or "")
