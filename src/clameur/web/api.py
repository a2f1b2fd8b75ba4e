"""System routes: liveness (``/api/v1/health``), readiness (``/api/v1/ready``) and the
Prometheus metrics (``/metrics``). docs/operations.md describes them for operators."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from clameur.pipeline.health import readiness
from clameur.pipeline.worker import STATUS
from clameur.tenancy.policy import authorize
from clameur.web.auth import api_principal, clock_of, settings_of
from clameur.web.deps import db_session

router = APIRouter(prefix="/api/v1", tags=["system"])
metrics_router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str = Field(description='Always "ok": the process answers.')


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness: the process answers (no dependency is checked)",
    openapi_extra={"security": []},  # public: load balancers and supervisors probe it
)
def health() -> Health:
    return Health(status="ok")


class Check(BaseModel):
    ok: bool
    detail: str | None = Field(None, description="What failed (null when ok).")


class LoopHealth(BaseModel):
    last_run: str | None = Field(description="When the loop last finished a round (ISO 8601).")
    runs: int
    failing: bool = Field(description="The last round failed (the error is in the logs).")


class WorkerHealth(BaseModel):
    running: bool = Field(description="This process runs the background loops.")
    loops: dict[str, LoopHealth]


class Ready(BaseModel):
    status: str = Field(description='"ready", or "unready" (then the answer is a 503).')
    checks: dict[str, Check] = Field(
        description="database, migrations, outbox_relay, and bus when CLAMEUR_BUS_URL is "
        "Redis: each dependency's check."
    )
    worker: WorkerHealth


@router.get(
    "/ready",
    response_model=Ready,
    summary="Readiness: each dependency's check; 503 naming the one that failed",
    responses={503: {"model": Ready, "description": "A dependency failed its check."}},
    openapi_extra={"security": []},  # public: load balancers probe it without a token
)
async def ready(request: Request) -> JSONResponse:
    state = request.app.state
    checks = await run_in_threadpool(
        readiness, state.engine, settings_of(request), clock_of(request), state.bus_probe
    )
    snapshot = STATUS.snapshot()
    loops = {
        name: LoopHealth(
            last_run=s["last_run"], runs=s["runs"], failing=s["last_error"] is not None
        )
        for name, s in snapshot["loops"].items()
    }
    ok = all(check.ok for check in checks.values())
    document = Ready(
        status="ready" if ok else "unready",
        checks={name: Check(ok=c.ok, detail=c.detail) for name, c in checks.items()},
        worker=WorkerHealth(running=snapshot["running"], loops=loops),
    )
    return JSONResponse(document.model_dump(), status_code=200 if ok else 503)


@metrics_router.get("/metrics", include_in_schema=False)
def metrics(
    request: Request, session: Annotated[Session, Depends(db_session, scope="function")]
) -> Response:
    """Prometheus text format: this process's metrics and the deployment's gauges. Read
    with ``Authorization: Bearer $CLAMEUR_METRICS_TOKEN``, or an operator's API token or
    session (``metrics.read``)."""
    from clameur.core.metrics import CONTENT_TYPE, exposition

    if not _metrics_token(request):
        authorize(api_principal(request, session), "metrics.read")
    body = exposition(request.app.state.cluster_registry)
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def _metrics_token(request: Request) -> bool:
    expected = settings_of(request).metrics_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())
