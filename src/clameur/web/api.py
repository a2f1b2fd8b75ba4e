"""REST API v1 (authentication and the tenant-scoped resources come with the web-app issue)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from clameur import __version__
from clameur.db import current_revision
from clameur.db.migrate import head_revision
from clameur.pipeline.worker import STATUS
from clameur.web.deps import db_session

router = APIRouter(prefix="/api/v1", tags=["system"])


class LoopHealth(BaseModel):
    last_run: str | None
    """When the loop last finished a round (ISO 8601), null before its first."""
    runs: int
    last_error: str | None
    """The error of the last round, null when it succeeded."""


class WorkerHealth(BaseModel):
    running: bool
    """True when this process runs the background loops (``serve`` without --no-worker)."""
    loops: dict[str, LoopHealth]


class Health(BaseModel):
    status: str
    version: str
    database: str
    schema_revision: str | None
    schema_current: bool
    worker: WorkerHealth


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness, database readiness and the background loops of this process",
    openapi_extra={"security": []},  # public: load balancers probe it without a token
)
def health(
    request: Request, session: Annotated[Session, Depends(db_session, scope="function")]
) -> Health:
    session.execute(text("SELECT 1"))
    engine = request.app.state.engine
    revision = current_revision(engine)
    current = revision == head_revision()
    return Health(
        status="ok" if current else "degraded",
        version=__version__,
        database=engine.dialect.name,
        schema_revision=revision,
        schema_current=current,
        worker=WorkerHealth.model_validate(STATUS.snapshot()),
    )
