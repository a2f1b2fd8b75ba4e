"""Running batches through the chain: from a file (``clameur import``) or from the bus."""

from __future__ import annotations

import gc
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from clameur.analysis import Analyzer, default_analyzer
from clameur.clock import Clock, SystemClock
from clameur.config import Settings
from clameur.core import trace
from clameur.core.bus import Bus, Message
from clameur.db.engine import session_scope
from clameur.detection import Detector, default_detector
from clameur.errors import InvalidInputError
from clameur.mentions import BatchReport, StepContext, reader_for
from clameur.pipeline.chain import STEPS, RawRecord, Step, process_batch
from clameur.pipeline.metrics import observed_batch
from clameur.pipeline.prefetch import Prefetched, can_prefetch, prefetching
from clameur.tenancy import get_tenant

log = logging.getLogger(__name__)

MENTIONS_STREAM = "mentions"
_PREFETCH_AFTER = 3
"""Batches a file must have before a child process analyses ahead (smaller: not worth a
fork)."""
_ATTEMPTS = 8
"""Runs of one batch before a conflict with concurrent writers is given up on."""


def is_transient_conflict(exc: DBAPIError) -> bool:
    """Whether ``exc`` is a lost race that running the transaction again resolves: a unique
    key stored meanwhile by another transaction, a deadlock or serialization failure
    (PostgreSQL), or a database still locked by another writer (SQLite)."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in {"23505", "40001", "40P01"}:
        return True
    message = str(exc.orig).lower()
    if isinstance(exc, IntegrityError):
        return "unique constraint failed" in message
    return isinstance(exc, OperationalError) and (
        "database is locked" in message or "database is busy" in message
    )


@dataclass
class ImportResult:
    """The contract of ``clameur import --json``."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    unmatched: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, report: BatchReport) -> None:
        for key, value in report.counts().items():
            setattr(self, key, getattr(self, key) + value)
        self.errors.extend(report.errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "unmatched": self.unmatched,
            "rejected": self.rejected,
            "errors": sorted(self.errors, key=lambda e: e["line"]),
        }


@dataclass
class Pipeline:
    """The chain with its collaborators. One per process."""

    factory: sessionmaker[Session]
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    analyzer: Analyzer = field(default_factory=default_analyzer)
    detector: Detector = field(default_factory=default_detector)

    def _context(
        self,
        session: Session,
        tenant_id: int | None,
        *,
        keep_unmatched: bool = True,
        prefetched: Prefetched | None = None,
    ) -> StepContext:
        return StepContext(
            session=session,
            clock=self.clock,
            analyzer=self.analyzer,
            detector=self.detector,
            tenant_id=tenant_id,
            conversation_window_hours=self.settings.conversation_window_hours,
            keep_unmatched=keep_unmatched,
            prefetched=prefetched,
        )

    def run_batch(
        self,
        records: list[RawRecord],
        tenant_id: int | None,
        *,
        keep_unmatched: bool = True,
        then: Callable[[Session, BatchReport], None] | None = None,
        steps: Sequence[tuple[str, Step]] = STEPS,
        prefetched: Prefetched | None = None,
    ) -> BatchReport:
        """One batch, one transaction: all of it lands or none (then it can be replayed).

        A batch that lost a race with a concurrent writer (a key another import stored
        first, a deadlock, SQLite still locked after its busy timeout) is rolled back and run
        again from its records: the second run sees what the other committed, and dedupe and
        the get-or-create steps make it converge.

        ``keep_unmatched=False`` (connectors): with a fixed tenant, records none of its
        brands match are counted ``unmatched`` and not stored. ``then(session, report)`` runs
        in the same transaction before the commit (a connector's cursor moves with its
        mentions), again on every retry; whatever it raises rolls the whole back. ``steps``:
        the chain to run (a queued import's chunk adds its turn before the lock).
        ``prefetched``: analyses computed ahead (:mod:`clameur.pipeline.prefetch`).
        """
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with observed_batch() as seen, session_scope(self.factory) as session:
                    ctx = self._context(
                        session, tenant_id, keep_unmatched=keep_unmatched, prefetched=prefetched
                    )
                    seen.report = ctx.report
                    for batch in _batched(records, self.settings.batch_size):
                        process_batch(ctx, batch, steps)
                    if then is not None:
                        then(session, ctx.report)
                    return ctx.report
            except DBAPIError as exc:
                if attempt == _ATTEMPTS or not is_transient_conflict(exc):
                    raise
                log.info(
                    "batch retried after a concurrent write",
                    extra={"attempt": attempt, "error": str(exc.orig)[:200]},
                )
                time.sleep(random.uniform(0.05, 0.2) * attempt)  # noqa: S311 - jitter only
        raise AssertionError("unreachable")

    def tenant_id(self, slug: str | None) -> int | None:
        if slug is None:
            return None
        with session_scope(self.factory) as session:
            return get_tenant(session, slug).id

    @trace.traced("import")
    def import_file(
        self,
        path: Path,
        *,
        tenant: str | None = None,
        fmt: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Stream a JSONL or CSV file through the pipeline, batch by batch.

        Memory stays flat: one batch is written at a time (and, on two cores or more, the
        next two are analysed meanwhile in a child process: :mod:`clameur.pipeline.prefetch`).
        ``progress`` receives the number of bytes read so far after each batch.
        """
        tenant_id = self.tenant_id(tenant)
        read = reader_for(path, fmt)
        result = ImportResult()
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise InvalidInputError(f"cannot open: {exc.strerror}", where=str(path)) from None
        with stream, calm_gc(), ExitStack() as stack:
            items = (RawRecord(line, data) for line, data in read(stream))
            batches = _batched(items, self.settings.batch_size)
            first = list(itertools.islice(batches, _PREFETCH_AFTER))
            ahead: Iterable[tuple[list[RawRecord], Prefetched]]
            if len(first) == _PREFETCH_AFTER and self.settings.import_prefetch and can_prefetch():
                engine = self.factory.kw.get("bind")
                ahead = stack.enter_context(
                    prefetching(
                        self.analyzer,
                        itertools.chain(first, batches),
                        engine if isinstance(engine, Engine) else None,
                    )
                )
            else:
                ahead = ((batch, {}) for batch in itertools.chain(first, batches))
            for batch, prefetched in ahead:
                result.add(self.run_batch(batch, tenant_id, prefetched=prefetched))
                if progress is not None:
                    progress(stream.tell())
        counts = {k: v for k, v in result.as_dict().items() if k != "errors"}
        log.debug("import done", extra={"file": str(path), **counts})
        return result

    def ingest(
        self,
        records: Iterable[dict[str, Any]],
        tenant_id: int | None,
        *,
        keep_unmatched: bool = True,
    ) -> ImportResult:
        """Records from a connector or a webhook, numbered from 1 in the order given; one
        transaction per batch. Connectors pass ``keep_unmatched=False`` (only what some
        brand of the tenant matches is kept)."""
        result = ImportResult()
        items = (RawRecord(i, r) for i, r in enumerate(records, start=1))
        for batch in _batched(items, self.settings.batch_size):
            result.add(self.run_batch(batch, tenant_id, keep_unmatched=keep_unmatched))
        return result

    @trace.traced("poll")
    def ingest_polled(
        self,
        records: Sequence[dict[str, Any]],
        tenant_id: int,
        then: Callable[[Session, dict[str, Any]], None],
    ) -> dict[str, Any]:
        """A connector's poll (``clameur.sources.schedule.Ingest``): every record in ONE
        transaction, only those some brand of the tenant matches kept, ``then(session,
        counts)`` — the cursor's move — inside it; the ``ImportResult`` counts returned."""

        def report_then(session: Session, report: BatchReport) -> None:
            then(session, _counts(report))

        items = [RawRecord(i, r) for i, r in enumerate(records, start=1)]
        report = self.run_batch(items, tenant_id, keep_unmatched=False, then=report_then)
        return _counts(report)

    def consume(self, bus: Bus, consumer: str, *, count: int = 10) -> int:
        """Process what the bus holds for the pipeline group once; returns messages done.

        A message is acknowledged only after its batch committed: a crash before that
        leaves it pending, and it is claimed again (by any consumer, this one included)
        once idle for ``bus_claim_idle_ms``; dedupe makes the replay harmless. A message
        whose batch raises is retried the same way, and dead-lettered with its error after
        ``bus_max_deliveries`` deliveries.
        """
        idle = self.settings.bus_claim_idle_ms
        messages = bus.claim_stale(MENTIONS_STREAM, "pipeline", consumer, idle, count)
        messages += bus.read(MENTIONS_STREAM, "pipeline", consumer, count)
        for message in messages:
            try:
                self._consume_one(message)
            except Exception as exc:  # one bad message must not hold up the others
                log.exception("bus message failed", extra={"entry": message.id})
                bus.fail(MENTIONS_STREAM, "pipeline", message, describe_error(exc))
                continue
            bus.ack(MENTIONS_STREAM, "pipeline", [message.id])
        return len(messages)

    def _consume_one(self, message: Message) -> None:
        body = message.body
        records = body.get("records")
        if not isinstance(records, list):
            raise InvalidInputError("a bus message without a list of records", where=message.id)
        result = self.ingest(records, body.get("tenant_id"))
        if result.rejected:
            log.warning(
                "rejected records on the bus",
                extra={"entry": message.id, "errors": result.errors[:20]},
            )


def describe_error(exc: BaseException) -> str:
    """What a dead letter keeps of a failure: the type and the first 500 characters."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


def _counts(report: BatchReport) -> dict[str, Any]:
    result = ImportResult()
    result.add(report)
    return result.as_dict()


_GC_LOCK = threading.Lock()
_gc_depth = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def calm_gc() -> Iterator[None]:
    """For the length of a long import: move what exists now (the models, caches) out of
    the collector's sight and collect the young generation less often — imports allocate
    millions of short-lived objects, and about a quarter of their time went to garbage
    collection. The process's own settings come back when the last import running in it
    ends (a web server or worker sharing the process keeps its collector as it was)."""
    global _gc_depth, _gc_saved
    with _GC_LOCK:
        if _gc_depth == 0:
            _gc_saved = gc.get_threshold()
            # No collection first: with the heap unfrozen after every import, a full one
            # here costs more than the import of a small file. Garbage frozen now is
            # collectable again once unfrozen.
            gc.freeze()
            _, second, third = _gc_saved
            gc.set_threshold(50_000, second, third)
        _gc_depth += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()
                _gc_saved = None


def _batched(items: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
