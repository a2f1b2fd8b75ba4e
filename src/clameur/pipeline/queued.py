"""Imports through the bus, for scaled-out deployments (``CLAMEUR_BUS_URL=redis://…``).

``clameur import FILE`` reads and checks the file (:func:`queue_file`) and queues its lines
in chunks on the ``ingest`` stream, each chunk a bus entry::

    {"import": ID, "seq": 0, 1, …, "tenant_id": …, "records": [{"line": N, "data": {…}}
                                                            | {"line": N, "error": "…"}],
     "trace": {"id": "…", "origin": "import", "received_at": UNIX_SECONDS}}

The trace id is the import's (:mod:`clameur.core.trace`): the worker runs the chunk under
it, so its log lines, its alerts' and its outbox events carry the id the import logged.

``clameur worker`` processes (any number, any host) consume it with an
:class:`IngestConsumer`: each chunk runs through :meth:`Pipeline.run_batch` — the chain of
the embedded import — and is acknowledged after its commit.

**Order.** One import's chunks are stored in file order, whichever worker holds each, as
the embedded import stores its batches: detection and threading read the state the
previous chunk left. A chunk runs its reading half (dedupe, analysis, matching) at once,
then waits for its turn (its import's ``next_seq``, :class:`~clameur.pipeline.models.
QueuedImport`) before the writing half; it takes the turn with a row lock held to its
commit, in which ``next_seq`` moves on and the chunk's counts and line errors are added —
so a chunk delivered twice (its worker died after the commit, before the ack) finds its
turn gone and is acknowledged without effect. A chunk that waited ``turn_wait`` seconds
goes back to the end of the stream.

**Failures.** A chunk whose run raises stays pending and is retried once idle for
``bus_claim_idle_ms``; after ``bus_max_deliveries`` it is dead-lettered (``ingest:dead``),
its lines are counted rejected with the error, and its turn passes to the next chunk.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from clameur.clock import Clock
from clameur.config import Settings
from clameur.core import trace
from clameur.core.bus import Bus, Message
from clameur.db.engine import session_scope
from clameur.errors import ClameurError, InvalidInputError, NotFoundError
from clameur.mentions import LineError, RecordError, StepContext, normalise, reader_for
from clameur.mentions.draft import BatchReport, Draft
from clameur.pipeline.chain import STEPS, RawRecord, Step
from clameur.pipeline.models import QueuedImport
from clameur.pipeline.service import ImportResult, Pipeline, calm_gc, describe_error
from clameur.tenancy import get_tenant

log = logging.getLogger(__name__)

INGEST_STREAM = "ingest"
INGEST_GROUP = "workers"


@dataclass(frozen=True, slots=True)
class Queued:
    import_id: str
    chunks: int
    lines: int


class NotYourTurn(Exception):
    """The chunk's predecessors are not stored yet (it goes back on the stream)."""


class AlreadyDone(Exception):
    """The chunk was stored (or dead-lettered) by an earlier delivery."""


# -- producing -----------------------------------------------------------------------


def queue_file(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    bus: Bus,
    path: Path,
    *,
    tenant: str | None = None,
    fmt: str | None = None,
    chunk_lines: int | None = None,
) -> Queued:
    """Check every line of ``path`` and queue them in chunks for the workers.

    A line that cannot be read or lacks what the import format requires travels in its
    chunk as an error, so the workers report it in the import's summary with its line
    number. Waits while the stream is full (backpressure)."""
    size = chunk_lines or settings.bus_chunk_lines
    if size < 1:
        raise InvalidInputError(f"must be at least 1, got {size}", where="CLAMEUR_BUS_CHUNK_LINES")
    tenant_id = None
    if tenant is not None:
        with session_scope(factory) as session:
            tenant_id = get_tenant(session, tenant).id
    read = reader_for(path, fmt)
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise InvalidInputError(f"cannot open: {exc.strerror}", where=str(path)) from None
    import_id = uuid.uuid4().hex
    traced = trace.current() or trace.start("import")
    now = clock.now()
    with session_scope(factory) as session:
        session.add(
            QueuedImport(
                id=import_id,
                tenant_id=tenant_id,
                file=str(path),
                next_seq=0,
                dead_chunks=[],
                errors=[],
                imported=0,
                updated=0,
                unchanged=0,
                unmatched=0,
                rejected=0,
                created_at=now,
                updated_at=now,
            )
        )
    seq = lines = 0
    with stream:
        chunk: list[dict[str, Any]] = []
        for line, data in read(stream):
            chunk.append(_checked(line, data))
            lines += 1
            if len(chunk) == size:
                _publish(bus, import_id, seq, tenant_id, chunk, traced)
                seq, chunk = seq + 1, []
        if chunk:
            _publish(bus, import_id, seq, tenant_id, chunk, traced)
            seq += 1
    with session_scope(factory) as session:
        session.execute(
            update(QueuedImport)
            .where(QueuedImport.id == import_id)
            .values(chunks=seq, updated_at=clock.now())
        )
    log.info(
        "import queued",
        extra={"import_id": import_id, "chunks": seq, "lines": lines, trace.KEY: traced.id},
    )
    return Queued(import_id, seq, lines)


def _checked(line: int, data: dict[str, Any] | LineError) -> dict[str, Any]:
    if isinstance(data, LineError):
        return {"line": line, "error": data.reason}
    try:
        normalise(data).content_hash()
    except RecordError as exc:
        return {"line": line, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one line's failure must not stop the others
        return {"line": line, "error": f"cannot process the line: {describe_error(exc)[:200]}"}
    return {"line": line, "data": data}


def _publish(
    bus: Bus,
    import_id: str,
    seq: int,
    tenant_id: int | None,
    records: list[dict[str, Any]],
    traced: trace.Trace,
) -> None:
    body = {
        "import": import_id,
        "seq": seq,
        "tenant_id": tenant_id,
        "records": records,
        "trace": trace.to_wire(traced, time.time()),  # the chunk's alert latency starts now
    }
    bus.publish(INGEST_STREAM, body)


def summary(factory: sessionmaker[Session], import_id: str) -> tuple[bool, ImportResult]:
    """(done, the counts so far) of a queued import."""
    with session_scope(factory) as session:
        row = session.get(QueuedImport, import_id)
        if row is None:
            raise NotFoundError(f"no queued import {import_id!r}")
        result = ImportResult(
            imported=row.imported,
            updated=row.updated,
            unchanged=row.unchanged,
            unmatched=row.unmatched,
            rejected=row.rejected,
            errors=list(row.errors),
        )
        return row.chunks is not None and row.next_seq >= row.chunks, result


def wait_for(
    factory: sessionmaker[Session],
    import_id: str,
    *,
    poll: float = 0.2,
    stalled: Callable[[float], None] | None = None,
    stall_after: float = 30.0,
) -> ImportResult:
    """Block until every chunk of the import is stored or dead-lettered; its summary.
    ``stalled(seconds)`` is told, once, when nothing moved for ``stall_after`` seconds."""
    last: tuple[int, ...] | None = None
    moved = time.monotonic()
    told = False
    while True:
        done, result = summary(factory, import_id)
        if done:
            return result
        progress = (result.imported, result.updated, result.unchanged, result.rejected)
        if progress != last:
            last, moved = progress, time.monotonic()
        elif not told and stalled is not None and time.monotonic() - moved > stall_after:
            stalled(time.monotonic() - moved)
            told = True
        time.sleep(poll)


# -- consuming -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk:
    import_id: str
    seq: int
    tenant_id: int | None
    records: list[RawRecord]
    traced: trace.Trace | None = None
    """The import's trace, carried by the entry (None: a producer before trace ids)."""

    @classmethod
    def parse(cls, message: Message) -> Chunk:
        body = message.body
        import_id, seq, tenant_id = body.get("import"), body.get("seq"), body.get("tenant_id")
        raw = body.get("records")
        if not isinstance(import_id, str) or not isinstance(seq, int) or not isinstance(raw, list):
            raise InvalidInputError(
                "not an import chunk: needs 'import' (text), 'seq' (integer) and 'records' "
                "(a list)",
                where=f"{INGEST_STREAM} entry {message.id}",
            )
        if tenant_id is not None and not isinstance(tenant_id, int):
            raise InvalidInputError("'tenant_id' is not an integer", where=message.id)
        records: list[RawRecord] = []
        for item in raw:
            line = item.get("line") if isinstance(item, dict) else None
            if not isinstance(line, int):
                raise InvalidInputError("a record without its line number", where=message.id)
            if "error" in item:
                records.append(RawRecord(line, LineError(line, str(item["error"]))))
            elif isinstance(item.get("data"), dict):
                records.append(RawRecord(line, item["data"]))
            else:
                raise InvalidInputError(f"line {line}: neither data nor error", where=message.id)
        return cls(import_id, seq, tenant_id, records, trace.from_wire(body.get("trace")))


@dataclass
class _Turn:
    """The chunk's turn, taken once per transaction (again on a retried one)."""

    factory: sessionmaker[Session]
    clock: Clock
    chunk: Chunk
    wait: float
    stopping: Callable[[], bool]
    holder: Session | None = None

    def take(self, session: Session) -> None:
        if self.holder is session:
            return
        deadline = time.monotonic() + self.wait
        pause = 0.005
        while True:
            state = _state(self.factory, self.chunk.import_id)
            if self.chunk.seq < state[0] or self.chunk.seq in state[1]:
                raise AlreadyDone
            if self.chunk.seq == state[0]:
                break
            if time.monotonic() > deadline or self.stopping():
                raise NotYourTurn
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        # the lock: a row lock on PostgreSQL, the write lock on SQLite, held to the commit
        session.execute(
            update(QueuedImport)
            .where(QueuedImport.id == self.chunk.import_id)
            .values(updated_at=self.clock.now())
        )
        next_seq = session.scalar(
            select(QueuedImport.next_seq).where(QueuedImport.id == self.chunk.import_id)
        )
        if next_seq != self.chunk.seq:  # another delivery of it committed meanwhile
            raise AlreadyDone
        self.holder = session

    def step(self, ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
        self.take(ctx.session)
        return drafts

    def record(self, session: Session, report: BatchReport) -> None:
        """Before the commit: the counts, and the turn passes on."""
        self.take(session)  # a chunk every line of which stopped before the turn step
        row = session.get(QueuedImport, self.chunk.import_id, populate_existing=True)
        assert row is not None
        result = ImportResult()
        result.add(report)
        _add(row, result)
        _advance(row, self.chunk.seq)
        row.updated_at = self.clock.now()


def _state(factory: sessionmaker[Session], import_id: str) -> tuple[int, list[int]]:
    with factory() as probe:
        row = probe.execute(
            select(QueuedImport.next_seq, QueuedImport.dead_chunks).where(
                QueuedImport.id == import_id
            )
        ).one_or_none()
    if row is None:
        raise NotFoundError(f"no queued import {import_id!r} (the database was reset?)")
    return int(row[0]), list(row[1] or [])


def _add(row: QueuedImport, result: ImportResult) -> None:
    row.imported += result.imported
    row.updated += result.updated
    row.unchanged += result.unchanged
    row.unmatched += result.unmatched
    row.rejected += result.rejected
    if result.errors:
        row.errors = [*row.errors, *result.errors]  # a new list: the JSON column is saved


def _advance(row: QueuedImport, seq: int) -> None:
    if row.next_seq != seq:
        return
    dead = set(row.dead_chunks or [])
    row.next_seq = seq + 1
    while row.next_seq in dead:
        row.next_seq += 1


def chunk_steps(turn: _Turn) -> tuple[tuple[str, Step], ...]:
    """The chain with the chunk's turn taken just before the writing half (``lock``)."""
    steps: list[tuple[str, Step]] = []
    for name, step in STEPS:
        if name == "lock":
            steps.append(("turn", turn.step))
        steps.append((name, step))
    if len(steps) == len(STEPS):
        raise AssertionError("the chain has no 'lock' step to take the turn before")
    return tuple(steps)


def _consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


@dataclass
class IngestConsumer:
    """Consumes the ``ingest`` stream for one worker process (any number of threads)."""

    pipeline: Pipeline
    bus: Bus
    turn_wait: float | None = None
    """Seconds a chunk waits for its turn before it goes back on the stream (default: three
    claim idle times, at least 5 s)."""
    block_ms: int = 1000
    stopping: Callable[[], bool] = field(default=lambda: False)

    def __post_init__(self) -> None:
        if self.turn_wait is None:
            self.turn_wait = max(5.0, 3 * self.pipeline.settings.bus_claim_idle_ms / 1000)

    def read_once(self, consumer: str | None = None) -> int:
        """Take a new chunk (waiting up to ``block_ms`` for one) and process it."""
        name = consumer or _consumer_name()
        messages = self.bus.read(INGEST_STREAM, INGEST_GROUP, name, 1, self.block_ms)
        for message in messages:
            self.handle(message, name)
        return len(messages)

    def reclaim_once(self, consumer: str | None = None) -> int:
        """Take over the oldest chunk a dead (or failed) delivery left idle, and process it;
        entries past their last delivery are dead-lettered on the way."""
        name = consumer or _consumer_name()
        idle = self.pipeline.settings.bus_claim_idle_ms
        messages = self.bus.claim_stale(
            INGEST_STREAM, INGEST_GROUP, name, idle, 1, on_dead=self._buried
        )
        for message in messages:
            log.info(
                "chunk taken over",
                extra={"entry": message.id, "deliveries": message.deliveries},
            )
            self.handle(message, name)
        return len(messages)

    def handle(self, message: Message, consumer: str) -> None:
        try:
            chunk = Chunk.parse(message)
            with self._kept(message, consumer):
                self._run(chunk)
        except AlreadyDone:
            log.info("chunk already stored: acknowledged", extra={"entry": message.id})
        except NotYourTurn:
            self.bus.publish(INGEST_STREAM, message.body, bounded=False)
            log.info("chunk waited for its turn: back on the stream", extra={"entry": message.id})
        except Exception as exc:  # a failing chunk must not stop the consumer
            error = describe_error(exc)
            log.warning(
                "chunk failed",
                exc_info=not isinstance(exc, ClameurError),
                extra={"entry": message.id, "deliveries": message.deliveries, "error": error},
            )
            if self.bus.fail(INGEST_STREAM, INGEST_GROUP, message, error):
                record_dead(self.pipeline, message, error)
            return
        self.bus.ack(INGEST_STREAM, INGEST_GROUP, [message.id])

    @contextmanager
    def _kept(self, message: Message, consumer: str) -> Iterator[None]:
        """While the chunk runs, its idle time restarts every third of the claim idle time:
        only a dead or hung worker's chunks are taken over, however long a run takes."""
        every = max(0.05, self.pipeline.settings.bus_claim_idle_ms / 3000)
        done = threading.Event()

        def beat() -> None:
            while not done.wait(every):
                try:
                    self.bus.touch(INGEST_STREAM, INGEST_GROUP, consumer, [message.id])
                except Exception:  # noqa: BLE001 - the next beat tries again
                    log.warning("could not touch a chunk in progress", exc_info=True)

        beating = threading.Thread(target=beat, name=f"{consumer}-beat", daemon=True)
        beating.start()
        try:
            yield
        finally:
            done.set()
            beating.join()

    def _run(self, chunk: Chunk) -> None:
        state = _state(self.pipeline.factory, chunk.import_id)
        if chunk.seq < state[0] or chunk.seq in state[1]:
            raise AlreadyDone
        assert self.turn_wait is not None
        turn = _Turn(
            self.pipeline.factory, self.pipeline.clock, chunk, self.turn_wait, self.stopping
        )
        carried = chunk.traced or trace.start("import")
        with trace.use(carried), calm_gc():  # calm: a chunk allocates millions of objects
            self.pipeline.run_batch(
                chunk.records, chunk.tenant_id, then=turn.record, steps=chunk_steps(turn)
            )

    def _buried(self, message: Message, error: str) -> None:
        """A claim buried this entry (its consumers kept dying): its import learns of it."""
        record_dead(self.pipeline, message, error)


def record_dead(pipeline: Pipeline, message: Message, error: str) -> None:
    """A dead-lettered chunk in its import: its lines rejected with the error, its turn
    passed on (now, or when it comes). Idempotent: a chunk already passed is left alone."""
    body = message.body
    import_id, seq = body.get("import"), body.get("seq")
    if not isinstance(import_id, str) or not isinstance(seq, int):
        return  # not an import chunk: nothing to account it to
    lines = sorted(
        item["line"]
        for item in body.get("records") or []
        if isinstance(item, dict) and isinstance(item.get("line"), int)
    )
    reason = (
        f"not imported: its chunk was dead-lettered after {message.deliveries} deliveries ({error})"
    )
    with session_scope(pipeline.factory) as session:
        session.execute(
            update(QueuedImport)
            .where(QueuedImport.id == import_id)
            .values(updated_at=pipeline.clock.now())
        )
        row = session.get(QueuedImport, import_id, populate_existing=True)
        if row is None or seq < row.next_seq or seq in (row.dead_chunks or []):
            return
        _add(
            row,
            ImportResult(
                rejected=len(lines), errors=[{"line": n, "reason": reason} for n in lines]
            ),
        )
        if row.next_seq == seq:
            _advance(row, seq)
        else:
            row.dead_chunks = [*(row.dead_chunks or []), seq]
    log.warning("chunk dead-lettered", extra={"import_id": import_id, "seq": seq, "error": error})
