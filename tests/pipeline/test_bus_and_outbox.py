from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import InMemoryBus, OutboxEvent, enqueue, relay
from clameur.db import session_scope
from clameur.mentions import Mention
from clameur.pipeline import MENTIONS_STREAM, Pipeline
from tests.conftest import Database, make_tenant
from tests.factories import record


def test_pipeline_consumes_batches_from_the_bus(
    db: Database, pipeline: Pipeline, clock: FrozenClock
) -> None:
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    bus = InMemoryBus()
    bus.publish(MENTIONS_STREAM, {"tenant_id": tenant.id, "records": [record("1", "acme a")]})
    both = [record("1", "acme a"), record("2", "acme b")]
    bus.publish(MENTIONS_STREAM, {"tenant_id": None, "records": both})
    assert pipeline.consume(bus, "w1") == 2
    assert bus.pending(MENTIONS_STREAM, "pipeline") == 0
    with session_scope(db.factory) as session:
        assert sorted(session.scalars(select(Mention.external_id))) == ["1", "2"]


def test_outbox_sends_nothing_on_rollback(db: Database, clock: FrozenClock) -> None:
    session = db.session()
    enqueue(session, clock, "webhook", {"x": 1}, None)
    session.flush()
    session.rollback()
    session.close()
    sent: list[dict[str, Any]] = []
    assert relay(db.factory, clock, {"webhook": sent.append}) == 0
    assert sent == []


def test_outbox_retries_with_backoff_then_delivers_once(db: Database, clock: FrozenClock) -> None:
    with session_scope(db.factory) as session:
        enqueue(session, clock, "webhook", {"x": 1}, None)
    calls: list[dict[str, Any]] = []

    def flaky(payload: dict[str, Any]) -> None:
        calls.append(payload)
        if len(calls) <= 2:
            raise ConnectionError("endpoint down")

    assert relay(db.factory, clock, {"webhook": flaky}) == 0
    assert relay(db.factory, clock, {"webhook": flaky}) == 0, "not due before the backoff"
    clock.advance(timedelta(seconds=2))
    assert relay(db.factory, clock, {"webhook": flaky}) == 0
    clock.advance(timedelta(seconds=3))
    assert relay(db.factory, clock, {"webhook": flaky}) == 0, "second backoff is 4 s"
    clock.advance(timedelta(seconds=1))
    assert relay(db.factory, clock, {"webhook": flaky}) == 1
    clock.advance(timedelta(hours=1))
    assert relay(db.factory, clock, {"webhook": flaky}) == 0
    assert len(calls) == 3
    with session_scope(db.factory) as session:
        event = session.scalars(select(OutboxEvent)).one()
        assert (event.status, event.attempts) == ("sent", 3)


def test_outbox_gives_up_after_the_last_attempt(db: Database, clock: FrozenClock) -> None:
    with session_scope(db.factory) as session:
        enqueue(session, clock, "nobody-handles-this", {}, None)
    for _ in range(3):
        relay(db.factory, clock, {}, max_attempts=3)
        clock.advance(timedelta(minutes=5))
    with session_scope(db.factory) as session:
        event = session.scalars(select(OutboxEvent)).one()
        assert event.status == "dead"
        assert "no handler" in (event.last_error or "")


def test_a_bad_bus_message_is_retried_then_dead_lettered_and_the_others_go_on(
    db: Database, clock: FrozenClock
) -> None:
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    now = [0.0]
    bus = InMemoryBus(max_deliveries=2, clock=lambda: now[0])
    pipeline = Pipeline(
        factory=db.factory, settings=Settings(batch_size=100, bus_claim_idle_ms=1000), clock=clock
    )
    bus.publish(MENTIONS_STREAM, {"tenant_id": tenant.id, "recrods": [record("1", "acme a")]})
    bus.publish(MENTIONS_STREAM, {"tenant_id": tenant.id, "records": [record("2", "acme b")]})
    assert pipeline.consume(bus, "w1") == 2
    assert bus.pending(MENTIONS_STREAM, "pipeline") == 1, "the bad one waits for its retry"
    assert pipeline.consume(bus, "w1") == 0, "not retried before the minimum idle time"
    now[0] += 1.0
    assert pipeline.consume(bus, "w1") == 1
    assert bus.pending(MENTIONS_STREAM, "pipeline") == 0
    (letter,) = bus.dead_letters(MENTIONS_STREAM)
    assert letter.deliveries == 2
    assert letter.error == "InvalidInputError: 1-0: a bus message without a list of records"
    assert "recrods" in letter.body
    with session_scope(db.factory) as session:
        assert sorted(session.scalars(select(Mention.external_id))) == ["2"]
