"""``POST /api/v1/ingest/{source_id}``: webhook ingest — a remote pushes mentions in the
import format to a source of kind ``webhook``.

No bearer token: the request is authenticated by its HMAC-SHA256 signature with the source's
secret (:mod:`clameur.sources.webhook` holds the rules). The checks, in order: the body
within the size limit (413); a source with this id, of kind ``webhook`` and enabled (404
otherwise, one answer for all three); the signature headers present, the timestamp fresh
and the signature right (401 saying which). The lines then run through the pipeline for the
source's tenant with connector semantics (only mentions some brand's queries match are kept;
the others count as ``unmatched``).

The answer is the import summary, per-line errors included. **200** when at least one line
was kept or none was rejected (the bad lines are listed in ``errors``, the good ones stored):
a sender that retries on any non-2xx would otherwise resend a batch for ever because of one
line it cannot fix. **422** (problem JSON carrying the same summary) when every line was
rejected, so that a sender sending garbage hears of it. Replaying a body is harmless: the
mentions are identified by ``(source, external_id)`` and count as ``unchanged``. Past 120
signed requests a minute for one source (bursts of 60), **429** with ``Retry-After``.
"""

from __future__ import annotations

import io
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from clameur.core import trace
from clameur.db import session_scope
from clameur.errors import InvalidInputError, NotFoundError
from clameur.mentions import LineError
from clameur.mentions.reader import read_jsonl
from clameur.pipeline import Pipeline
from clameur.pipeline.chain import RawRecord
from clameur.pipeline.service import ImportResult
from clameur.sources.models import Source, SourceSecret
from clameur.sources.schedule import record_push
from clameur.sources.webhook import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    check_signature,
)
from clameur.web.api_v1.common import Id, problems
from clameur.web.auth import clock_of
from clameur.web.problems import problem

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["ingest"])


class LineProblem(BaseModel):
    line: int = Field(description="The line of the body (JSON Lines) or item (array), from 1.")
    reason: str


class IngestSummary(BaseModel):
    """What became of each line: the contract of ``clameur import --json``."""

    imported: int
    updated: int
    unchanged: int
    unmatched: int = Field(description="Valid lines no brand query of the tenant matches.")
    rejected: int
    errors: list[LineProblem]


_BODY = {
    "required": True,
    "description": "Mentions in the import format: JSON Lines (one object a line), or one "
    "JSON array of objects. A line without `source` takes the webhook source's.",
    "content": {
        "application/x-ndjson": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    },
}


@router.post(
    "/ingest/{source_id}",
    response_model=IngestSummary,
    summary="Webhook ingest: signed mentions in the import format",
    description=(
        f"Authenticated by `{SIGNATURE_HEADER}: sha256=<hex>`, the HMAC-SHA256 of "
        f'`"<timestamp>.<body>"` with the source\'s secret, and `{TIMESTAMP_HEADER}` (Unix '
        "seconds, within 5 minutes of the server's clock). 200 with per-line errors when "
        "some lines were kept; 422 when every line was rejected; 429 (with Retry-After) past "
        "120 signed requests a minute for one source (bursts of 60)."
    ),
    responses=problems(401, 404, 413, 422, 429),
    openapi_extra={"security": [], "requestBody": _BODY},
)
async def ingest(
    request: Request,
    source_id: Id,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
) -> Response:
    body = await _body(request)
    if body is None:
        return problem(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    tenant_id, default_source, secret = await run_in_threadpool(
        _source, request.app.state.session_factory, source_id
    )
    check_signature(secret, timestamp, signature, body, clock_of(request).now())
    wait = _limiter(request).take(source_id)
    if wait is not None:
        response = problem(429, f"too many ingest requests for source {source_id}: retry later")
        response.headers["Retry-After"] = str(wait)
        return response
    traced = trace.start("webhook", received_at=time.time())
    result = await run_in_threadpool(
        _run, _pipeline(request), body, default_source, tenant_id, traced
    )
    summary = result.as_dict()
    await run_in_threadpool(_recorded, request, source_id, summary)
    counts = {k: v for k, v in summary.items() if k != "errors"}
    log.info("webhook ingest", extra={"source": source_id, **counts, trace.KEY: traced.id})
    kept = summary["imported"] + summary["updated"] + summary["unchanged"] + summary["unmatched"]
    if summary["rejected"] and not kept:
        detail = f"every line was rejected ({summary['rejected']})"
        return problem(422, detail, **summary)
    return JSONResponse(summary)


def _recorded(request: Request, source_id: int, summary: dict[str, Any]) -> None:
    """The source's health: when it last received a batch, and what became of it."""
    with session_scope(request.app.state.session_factory) as session:
        record_push(session, source_id, clock_of(request).now(), summary)


def _source(factory: sessionmaker[Session], source_id: int) -> tuple[int, str, str]:
    """Tenant, default mention source and signing secret of an enabled webhook source."""
    with session_scope(factory) as session:
        source = session.get(Source, source_id)
        if source is None or source.kind != "webhook" or not source.enabled:
            raise NotFoundError(f"no webhook source {source_id}")
        secrets = session.get(SourceSecret, source_id)
        secret = str((secrets.values if secrets is not None else {}).get("secret") or "")
        return source.tenant_id, source.source, secret


async def _body(request: Request) -> bytes | None:
    """The body; None past :data:`MAX_BODY_BYTES` (not read further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    out = bytearray()
    async for chunk in request.stream():
        out += chunk
        if len(out) > MAX_BODY_BYTES:
            return None
    return bytes(out)


def _records(body: bytes, default_source: str) -> list[RawRecord]:
    """The body's records, numbered by line (JSON Lines) or by item (an array)."""
    if body.lstrip().startswith(b"["):
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"not a JSON array: {exc}", where="body") from None
        read: list[tuple[int, Any]] = [
            (n, item if isinstance(item, dict) else LineError(n, "not a JSON object"))
            for n, item in enumerate(items, start=1)
        ]
    else:
        read = list(read_jsonl(io.BytesIO(body)))
    if not read:
        raise InvalidInputError("the body holds no record", where="body")
    out = []
    for line, data in read:
        if isinstance(data, dict):
            data.setdefault("source", default_source)
        out.append(RawRecord(line, data))
    return out


class IngestRateLimiter:
    """A token bucket per source, in this web process: ``burst`` requests at once, refilled
    at ``per_minute``. Only signed requests spend from it, so nobody else can use a source's
    allowance up."""

    def __init__(
        self,
        per_minute: float = 120.0,
        burst: int = 60,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.now = now
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, source_id: int) -> int | None:
        """Spend one request; None when allowed, else the seconds to wait."""
        with self._lock:
            now = self.now()
            tokens, at = self._buckets.get(source_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[source_id] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / self.rate))
            self._buckets[source_id] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget the oldest sources (full buckets anyway)
                del self._buckets[next(iter(self._buckets))]
            return None


def _limiter(request: Request) -> IngestRateLimiter:
    state = request.app.state
    limiter: IngestRateLimiter | None = getattr(state, "ingest_limiter", None)
    if limiter is None:
        limiter = state.ingest_limiter = IngestRateLimiter()
    return limiter


def _pipeline(request: Request) -> Pipeline:
    """The app's pipeline, made on first use (its analyser loads models once)."""
    state = request.app.state
    pipeline: Pipeline | None = getattr(state, "pipeline", None)
    if pipeline is None:
        pipeline = Pipeline(state.session_factory, state.settings, clock=state.clock)
        state.pipeline = pipeline
    return pipeline


def _run(
    pipeline: Pipeline, body: bytes, default_source: str, tenant_id: int, traced: trace.Trace
) -> ImportResult:
    """The body's lines through the pipeline under the request's trace (off the event loop:
    parsing and the pipeline's transactions block)."""
    records = _records(body, default_source)
    result = ImportResult()
    size = max(1, pipeline.settings.batch_size)
    with trace.use(traced):
        for start in range(0, len(records), size):
            batch = records[start : start + size]
            result.add(pipeline.run_batch(batch, tenant_id, keep_unmatched=False))
    return result
