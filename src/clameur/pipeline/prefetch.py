"""Analysing a long import's next batches in a child process while this one is written.

Analysis (language, sentiment, intent, toxicity, actionability) is a pure function of a
mention and about a third of an import's time; the writing half of the chain (dedupe,
authors, detection, care, store) is another process's business entirely. So a long import
forks one child that holds the same analyzer (copy-on-write: the models are already
loaded) and is handed each batch's raw records as soon as they are read, two batches ahead
of the writer. It normalises and analyses them and returns ``line → (content hash,
analysis)``; the ``analyse`` step takes an analysis only where the draft's content hash is
the one it was computed for, and analyses anything else itself (a line the child could
not read, a child that died). Results are therefore identical with and without it — the
determinism tests check it — and a batch retried after a lost race reuses them.

It runs only where it can help: two or more usable cores, a file of more than two
batches (``Settings.import_prefetch`` turns it off), and the ``fork`` start method (the
child must not load the models again). The child never touches the database or logs.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeAlias

from sqlalchemy import Engine

from clameur.analysis import Analysis, Analyzer
from clameur.analysis.base import input_of
from clameur.mentions import LineError, normalise
from clameur.mentions.schemas import MentionIn
from clameur.pipeline.chain import RawRecord

log = logging.getLogger(__name__)

Prefetched: TypeAlias = dict[int, tuple[str, Analysis]]
AHEAD = 2
"""Batches handed to the child beyond the one being written."""

_analyzer: Analyzer | None = None
"""The child's analyzer: the parent's, inherited through ``fork``."""


def _keep(analyzer: Analyzer, engine: Engine | None) -> None:
    global _analyzer
    _analyzer = analyzer
    if engine is not None:
        # The parent's pooled connections are its own: the child forgets them unclosed
        # (closing one would end the parent's session on the server).
        engine.dispose(close=False)


def analyse_records(records: list[RawRecord]) -> Prefetched:
    """In the child: normalise and analyse what it can of one batch of raw records."""
    assert _analyzer is not None, "the child was started without an analyzer"
    lines: list[int] = []
    hashes: list[str] = []
    mentions: list[MentionIn] = []
    for record in records:
        read = _read(record)
        if read is not None:
            lines.append(record.line)
            hashes.append(read[1])
            mentions.append(read[0])
    results = _analyzer.analyse([input_of(m) for m in mentions]) if mentions else []
    return {
        line: (content_hash, result)
        for line, content_hash, result in zip(lines, hashes, results, strict=True)
    }


def _read(record: RawRecord) -> tuple[MentionIn, str] | None:
    """A record's mention and content hash, or None where the writer will report the line
    (it reads every line again, and says what is wrong with it)."""
    if isinstance(record.data, LineError):
        return None
    try:
        mention = normalise(record.data)
        return mention, mention.content_hash()
    except Exception:  # whatever it is, the writer meets it again and reports it
        return None


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_prefetch() -> bool:
    return usable_cores() >= 2 and "fork" in multiprocessing.get_all_start_methods()


@contextmanager
def prefetching(
    analyzer: Analyzer, batches: Iterable[list[RawRecord]], engine: Engine | None = None
) -> Iterator[Iterator[tuple[list[RawRecord], Prefetched]]]:
    """Yield ``(batch, prefetched)`` pairs in order, the child analysing ahead.

    A child that fails (killed, out of memory) costs only its head start: the batches it
    did not return get an empty table, and the writer analyses them itself.
    """
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=_keep, initargs=(analyzer, engine)
    )
    try:
        yield _ahead(pool, iter(batches))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ahead(
    pool: ProcessPoolExecutor, batches: Iterator[list[RawRecord]]
) -> Iterator[tuple[list[RawRecord], Prefetched]]:
    window: deque[tuple[list[RawRecord], Future[Prefetched] | None]] = deque()
    broken = False

    def submit(batch: list[RawRecord]) -> None:
        nonlocal broken
        future = None
        if not broken:
            try:
                future = pool.submit(analyse_records, batch)
            except RuntimeError:  # a broken pool refuses new work
                broken = True
        window.append((batch, future))

    for batch in batches:
        submit(batch)
        if len(window) > AHEAD:
            yield _result(*window.popleft())
    while window:
        yield _result(*window.popleft())


def _result(
    batch: list[RawRecord], future: Future[Prefetched] | None
) -> tuple[list[RawRecord], Prefetched]:
    if future is None:
        return batch, {}
    try:
        return batch, future.result()
    except Exception:  # the child died or raised: the writer analyses the batch itself
        log.warning("analysis ahead of the import failed; analysing in line", exc_info=True)
        return batch, {}
