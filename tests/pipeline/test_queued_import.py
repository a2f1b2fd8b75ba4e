"""Imports queued on the bus, consumed in this process (SQLite and PostgreSQL, in-memory
bus with an injected clock): order, duplicates, bad lines and dead-lettered chunks.
The same code against real worker processes and Redis: test_scaleout.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core.bus import InMemoryBus
from clameur.db import session_scope
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.pipeline.models import QueuedImport
from clameur.pipeline.queued import (
    INGEST_GROUP,
    INGEST_STREAM,
    IngestConsumer,
    queue_file,
    summary,
)
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idle_clock() -> _Clock:
    return _Clock()


@pytest.fixture
def bus(idle_clock: _Clock) -> InMemoryBus:
    return InMemoryBus(max_deliveries=2, clock=idle_clock)


@pytest.fixture
def queued_pipeline(db: Database, clock: FrozenClock) -> Pipeline:
    settings = Settings(batch_size=100, bus_chunk_lines=10, bus_claim_idle_ms=1000)
    return Pipeline(factory=db.factory, settings=settings, clock=clock)


def _file(tmp_path: Path, n: int, *extra: dict[str, object] | str) -> Path:
    lines: list[dict[str, object] | str] = [
        record(str(i), f"acme outage number {i}", created_at=f"2026-11-16T09:{i % 60:02d}:00Z")
        for i in range(n)
    ]
    return write_jsonl(tmp_path / "in.jsonl", [*lines, *extra])


def _queue(pipeline: Pipeline, bus: InMemoryBus, path: Path) -> str:
    queued = queue_file(pipeline.factory, pipeline.settings, pipeline.clock, bus, path)
    return queued.import_id


def _mentions(db: Database) -> int:
    with session_scope(db.factory) as session:
        return int(session.scalar(select(func.count()).select_from(Mention)) or 0)


def test_a_queued_import_reports_like_the_embedded_one_with_line_numbers(
    db: Database, queued_pipeline: Pipeline, bus: InMemoryBus, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    path = _file(tmp_path, 25, "{not json", record("x", "acme", created_at="yesterday"))
    import_id = _queue(queued_pipeline, bus, path)
    assert bus.backlog(INGEST_STREAM) == 3, "27 lines in chunks of 10"
    assert summary(db.factory, import_id)[0] is False
    consumer = IngestConsumer(queued_pipeline, bus, block_ms=0)
    while consumer.read_once("w1"):
        pass
    done, result = summary(db.factory, import_id)
    assert done
    assert (result.imported, result.rejected) == (25, 2)
    assert [e["line"] for e in result.as_dict()["errors"]] == [26, 27]
    assert "created_at" in result.errors[1]["reason"]
    assert _mentions(db) == 25
    assert (bus.backlog(INGEST_STREAM), bus.pending(INGEST_STREAM, INGEST_GROUP)) == (0, 0)


def test_a_chunk_delivered_again_after_its_commit_changes_nothing(
    db: Database, queued_pipeline: Pipeline, bus: InMemoryBus, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    import_id = _queue(queued_pipeline, bus, _file(tmp_path, 20))
    (first,) = bus.read(INGEST_STREAM, INGEST_GROUP, "w1", 1)
    consumer = IngestConsumer(queued_pipeline, bus, block_ms=0)
    consumer.handle(first, "w1")
    # w1 died after the commit and before the ack: the same entry comes again
    bus.publish(INGEST_STREAM, first.body, bounded=False)
    while consumer.read_once("w2"):
        pass
    done, result = summary(db.factory, import_id)
    assert done
    assert (result.imported, result.unchanged, result.rejected) == (20, 0, 0)
    assert _mentions(db) == 20


def test_a_chunk_waits_for_its_predecessor_held_by_a_dead_worker(
    db: Database,
    queued_pipeline: Pipeline,
    bus: InMemoryBus,
    clock: FrozenClock,
    idle_clock: _Clock,
    tmp_path: Path,
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    import_id = _queue(queued_pipeline, bus, _file(tmp_path, 30))
    bus.read(INGEST_STREAM, INGEST_GROUP, "dead", 1)  # chunk 0: its worker dies
    consumer = IngestConsumer(queued_pipeline, bus, turn_wait=0.05, block_ms=0)
    assert consumer.read_once("w2") == 1  # chunk 1 cannot take its turn: back on the stream
    assert consumer.reclaim_once("w2") == 0, "chunk 0 is not idle long enough yet"
    with session_scope(db.factory) as session:
        row = session.get(QueuedImport, import_id)
        assert row is not None
        assert (row.next_seq, row.imported) == (0, 0)
    idle_clock.now += 1.0
    assert consumer.reclaim_once("w2") == 1
    while consumer.read_once("w2"):
        pass
    done, result = summary(db.factory, import_id)
    assert done
    assert result.imported == 30
    with session_scope(db.factory) as session:
        stored = session.scalars(select(Mention.external_id).order_by(Mention.id)).all()
    # stored chunk by chunk in file order, as the embedded import does
    assert [int(x) for x in stored] == list(range(30))


def test_a_chunk_that_keeps_failing_is_dead_lettered_its_lines_reported_and_the_rest_goes_on(
    db: Database,
    queued_pipeline: Pipeline,
    bus: InMemoryBus,
    clock: FrozenClock,
    idle_clock: _Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    import_id = _queue(queued_pipeline, bus, _file(tmp_path, 30))
    real_run = IngestConsumer._run

    def run(self: IngestConsumer, chunk: object) -> None:
        if getattr(chunk, "seq", None) == 1:
            raise RuntimeError("disk on fire")
        real_run(self, chunk)  # type: ignore[arg-type]

    monkeypatch.setattr(IngestConsumer, "_run", run)
    consumer = IngestConsumer(queued_pipeline, bus, turn_wait=0.05, block_ms=0)
    for _ in range(4):  # chunk 0, 1 (fails), then chunk 2 waiting for 1: back on the stream
        consumer.read_once("w1")
    done, result = summary(db.factory, import_id)
    assert (done, result.imported) == (False, 10), "chunk 2 waits for chunk 1"
    for _ in range(2):
        idle_clock.now += 1.0
        consumer.reclaim_once("w1")  # chunk 1 again: fails; the second time, dead-lettered
    while consumer.read_once("w1"):
        pass
    done, result = summary(db.factory, import_id)
    assert done
    assert (result.imported, result.rejected) == (20, 10)
    assert [e["line"] for e in result.as_dict()["errors"]] == list(range(11, 21))
    reason = result.errors[0]["reason"]
    assert "dead-lettered after 2 deliveries (RuntimeError: disk on fire)" in reason
    (letter,) = bus.dead_letters(INGEST_STREAM)
    assert (letter.body["seq"], letter.error) == (1, "RuntimeError: disk on fire")
    assert _mentions(db) == 20
