"""Trace ids: the log line of an ingest and the line of the alert it raised share one id,
which the alert's outbox events and their delivery carry on — embedded, over the bus (a
chunk carries its import's trace) and through a webhook request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import InMemoryBus, OutboxEvent, relay, trace
from clameur.db import session_scope
from clameur.demo import replays
from clameur.logging import configure_logging
from clameur.pipeline import Pipeline
from clameur.pipeline.queued import INGEST_STREAM, IngestConsumer, queue_file
from tests.conftest import Database, make_tenant
from tests.factories import write_jsonl

AT = datetime(2030, 1, 1, 11, 0, tzinfo=UTC)
HOOKS = [{"url": "https://hooks.example/alerts", "secret": "k"}]


@pytest.fixture
def json_logs() -> Iterator[Any]:
    """The ``clameur`` loggers as the CLI sets them up (JSON lines), writing to a buffer;
    calling the fixture gives the lines written since the last call, parsed. Restored
    afterwards."""
    root = logging.getLogger("clameur")
    saved = (list(root.handlers), root.level, root.propagate)
    configure_logging("INFO", "json")
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return [json.loads(line) for line in text.splitlines()]

    yield lines
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    root.propagate = saved[2]


def one(lines: list[dict[str, Any]], msg: str) -> dict[str, Any]:
    found = [line for line in lines if line["msg"] == msg]
    assert len(found) == 1, (msg, [line["msg"] for line in lines])
    return found[0]


def _tenant_with_webhook(db: Database, clock: FrozenClock) -> None:
    from clameur.detection.rules import set_rule

    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    with session_scope(db.factory) as session:
        set_rule(session, tenant.id, None, {"webhooks": HOOKS}, clock.now())


def test_the_ingest_line_and_the_alert_line_share_a_trace_id(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path, json_logs: Any
) -> None:
    _tenant_with_webhook(db, clock)
    path = write_jsonl(tmp_path / "in.jsonl", [replays.influencer_post(AT)])
    pipeline.import_file(path, tenant="acme")
    lines = json_logs()
    stored, raised = one(lines, "batch stored"), one(lines, "alert raised")
    assert stored["origin"] == "import"
    assert stored["imported"] == 1
    assert stored["alerts"] == 1
    assert len(stored["trace_id"]) == 16
    assert raised["trace_id"] == stored["trace_id"]
    assert raised["kind"] == "influencer"
    # every line the batch wrote meanwhile carries it (the notification's, here)
    assert one(lines, "alert notified")["trace_id"] == stored["trace_id"]
    with session_scope(db.factory) as session:
        [hook] = session.scalars(select(OutboxEvent)).all()
        assert hook.payload["trace_id"] == stored["trace_id"]
        assert stored["trace_id"] not in hook.payload["body"]  # not sent to the receiver

    delivered: list[str | None] = []

    def webhook(_payload: dict[str, Any]) -> None:
        delivered.append(trace.current_id())
        logging.getLogger("clameur.test").info("delivered")

    assert relay(db.factory, clock, {"alert.webhook": webhook}) == 1
    assert delivered == [stored["trace_id"]]
    assert one(json_logs(), "delivered")["trace_id"] == stored["trace_id"]


def test_each_import_gets_its_own_trace(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path, json_logs: Any
) -> None:
    make_tenant(db, clock, "acme", {"volta": ["volta"]})
    first = write_jsonl(tmp_path / "a.jsonl", [replays.influencer_post(AT, external_id="a")])
    second = write_jsonl(tmp_path / "b.jsonl", [replays.influencer_post(AT, external_id="b")])
    pipeline.import_file(first, tenant="acme")
    pipeline.import_file(second, tenant="acme")
    ids = [line["trace_id"] for line in json_logs() if line["msg"] == "batch stored"]
    assert len(ids) == 2
    assert ids[0] != ids[1]
    assert trace.current() is None  # nothing left behind in the caller


def test_a_queued_chunk_carries_its_imports_trace_to_the_worker(
    db: Database, clock: FrozenClock, tmp_path: Path, json_logs: Any
) -> None:
    _tenant_with_webhook(db, clock)
    settings = Settings(batch_size=100, bus_chunk_lines=1)
    pipeline = Pipeline(factory=db.factory, settings=settings, clock=clock)
    bus = InMemoryBus()
    posts = [replays.influencer_post(AT), {"source": "twitter", "external_id": "x", "text": "hi"}]
    queued = queue_file(db.factory, settings, clock, bus, write_jsonl(tmp_path / "q.jsonl", posts))
    assert queued.chunks == 2
    queued_line = one(json_logs(), "import queued")
    consumer = IngestConsumer(pipeline, bus, block_ms=0)
    assert consumer.read_once("w1") == 1  # the other "process": only the bus entry links them
    assert consumer.read_once("w1") == 1
    lines = json_logs()
    stored = [line for line in lines if line["msg"] == "batch stored"]
    assert [line["trace_id"] for line in stored] == [queued_line["trace_id"]] * 2
    assert {line["origin"] for line in stored} == {"import"}
    assert one(lines, "alert raised")["trace_id"] == queued_line["trace_id"]
    assert bus.backlog(INGEST_STREAM) == 0


def test_a_chunk_from_a_producer_without_traces_gets_one() -> None:
    assert trace.from_wire(None) is None
    assert trace.from_wire({"id": 3}) is None
    carried = trace.from_wire({"id": "abc", "origin": "import", "received_at": 12.5})
    assert carried is not None
    assert (carried.id, carried.origin, carried.received_at) == ("abc", "import", 12.5)
