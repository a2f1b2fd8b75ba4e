"""Trace ids: one id per unit of ingest, followed from the ingest to the alert in the logs.

A *trace* is assigned where mentions enter: an import (the whole file, queued or not), a
webhook request, a connector's poll; a batch run without one gets its own. It lives in a
context variable, set around the work it covers (:func:`use`), so every step of the chain
sees it without a parameter, and every log line written meanwhile carries ``trace_id``
(:class:`TraceFilter`, installed by :func:`clameur.logging.configure_logging`). It crosses
processes in the bus entries of a queued import (:func:`to_wire`, :func:`from_wire`) and
leaves with the outbox events enqueued under it (``payload["trace_id"]``), so the relay's
delivery lines carry it too.

``received_at`` is the wall-clock time (Unix seconds) the mentions entered the system: the
start of the alert latency (:data:`clameur.core.metrics.ALERT_LATENCY`). None: the start of
each batch run under the trace (an embedded import reads its file as it goes).
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

KEY = "trace_id"
"""The field name in log lines, bus entries and outbox payloads."""


@dataclass(slots=True)
class Trace:
    id: str
    origin: str
    """import, webhook, poll or batch: where the mentions came in."""
    received_at: float | None = None
    raised: list[str] = field(default_factory=list)
    """Kinds of the alerts raised in the transaction in progress (observed after commit)."""


_current: ContextVar[Trace | None] = ContextVar("clameur_trace", default=None)


def new_id() -> str:
    return secrets.token_hex(8)


def start(origin: str, *, trace_id: str | None = None, received_at: float | None = None) -> Trace:
    """A new trace (not yet current: see :func:`use`)."""
    return Trace(id=trace_id or new_id(), origin=origin, received_at=received_at)


def current() -> Trace | None:
    return _current.get()


def current_id() -> str | None:
    trace = _current.get()
    return trace.id if trace is not None else None


@contextmanager
def use(trace: Trace | None) -> Iterator[Trace | None]:
    """Make ``trace`` current for the block (None: no trace), then restore the previous."""
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def traced(origin: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated function under a new trace of ``origin``, unless one is current
    (a caller that assigned it already)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if _current.get() is not None:
                return function(*args, **kwargs)
            with use(start(origin)):
                return function(*args, **kwargs)

        return run

    return decorate


def fields() -> dict[str, Any]:
    """``{"trace_id": …}`` for a log line's ``extra`` (empty outside a trace)."""
    trace = _current.get()
    return {KEY: trace.id} if trace is not None else {}


def to_wire(trace: Trace, received_at: float) -> dict[str, Any]:
    """What a bus entry carries of its trace."""
    return {"id": trace.id, "origin": trace.origin, "received_at": received_at}


def from_wire(value: Any) -> Trace | None:
    """The trace a bus entry carried (None when absent or malformed: an older producer)."""
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        return None
    received = value.get("received_at")
    return Trace(
        id=value["id"][:64],
        origin=str(value.get("origin") or "import")[:32],
        received_at=float(received) if isinstance(received, int | float) else None,
    )


class TraceFilter(logging.Filter):
    """Adds ``trace_id`` to every record written while a trace is current."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace = _current.get()
        if trace is not None and not hasattr(record, KEY):
            setattr(record, KEY, trace.id)
        return True
