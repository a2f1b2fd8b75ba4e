"""Sources (connectors) of the tenant: ``/api/v1/sources`` — admins only
(``sources.manage``). Secrets are accepted at creation and never returned: a source shows
them by name (``{"password": "set"}``); a secret the connector generates (a webhook's
signing secret) is returned once, in the creation's answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from clameur.sources.service import (
    add_source,
    describe,
    get_source,
    list_sources,
    prepare_secrets,
    set_enabled,
)
from clameur.web.api_v1.common import ClockDep, Id, SessionDep, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["sources"])


class SourceOut(BaseModel):
    id: int
    kind: str
    name: str
    url: str | None = Field(description="With any password masked.")
    source: str = Field(description="The mention source stamped on its items.")
    enabled: bool
    interval_seconds: int
    options: dict[str, Any]
    secrets: dict[str, str] = Field(description='Names only: {"password": "set"}.')
    cursor: dict[str, Any] | None
    created_at: str
    health: dict[str, Any] = Field(
        description="last_polled_at, last_success_at, last_error, consecutive_failures, "
        "retry_after_until, next_run_at, backing_off, polling, items_last_hour, "
        "items_last_24h, last_poll (docs/connectors.md)."
    )
    generated_secrets: dict[str, str] | None = Field(
        None, description="Only in the creation's answer: secrets the connector generated."
    )


class SourceList(BaseModel):
    items: list[SourceOut]


class SourceIn(BaseModel):
    kind: str = Field(max_length=40, description="rss, webhook, imap, pages…")
    url: str | None = Field(None, max_length=2000)
    name: str | None = Field(None, max_length=100)
    source: str | None = Field(None, max_length=20)
    interval_seconds: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, description="Never returned.")


def _out(described: dict[str, Any]) -> SourceOut:
    described = {k: v for k, v in described.items() if k != "tenant_id"}
    return SourceOut.model_validate(described)


@router.get(
    "/sources",
    response_model=SourceList,
    response_model_exclude_none=True,
    summary="The tenant's sources and their health",
    **operation("sources.manage"),
)
def list_all(session: SessionDep, clock: ClockDep, principal: CurrentPrincipal) -> SourceList:
    now = clock.now()
    rows = list_sources(session, principal.tenant_id)
    return SourceList(items=[_out(describe(session, row, now)) for row in rows])


@router.post(
    "/sources",
    response_model=SourceOut,
    response_model_exclude_none=True,
    status_code=201,
    summary="Add a source (options validated by its connector)",
    **operation("sources.manage", 409),
)
def create(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, body: SourceIn
) -> SourceOut:
    secrets = prepare_secrets(body.kind, body.secrets)
    generated = {k: v for k, v in secrets.items() if k not in body.secrets}
    row = add_source(
        session,
        clock,
        tenant_id=principal.tenant_id,
        kind=body.kind,
        url=body.url,
        name=body.name,
        options=body.options,
        secrets=secrets,
        interval_seconds=body.interval_seconds,
        source=body.source,
        actor_id=principal.actor_id,
    )
    out = _out(describe(session, row, clock.now()))
    if generated:
        out.generated_secrets = generated
    return out


@router.get(
    "/sources/{source_id}",
    response_model=SourceOut,
    response_model_exclude_none=True,
    summary="One source: configuration and health",
    **operation("sources.manage", 404),
)
def show(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, source_id: Id
) -> SourceOut:
    row = get_source(session, source_id, principal.tenant_id)
    return _out(describe(session, row, clock.now()))


def _toggle(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, source_id: int, on: bool
) -> SourceOut:
    row = set_enabled(
        session, clock, source_id, on, tenant_id=principal.tenant_id, actor_id=principal.actor_id
    )
    return _out(describe(session, row, clock.now()))


@router.post(
    "/sources/{source_id}/disable",
    response_model=SourceOut,
    response_model_exclude_none=True,
    summary="Stop polling a source (its cursor and mentions are kept)",
    **operation("sources.manage", 404),
)
def disable(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, source_id: Id
) -> SourceOut:
    return _toggle(session, clock, principal, source_id, False)


@router.post(
    "/sources/{source_id}/enable",
    response_model=SourceOut,
    response_model_exclude_none=True,
    summary="Poll a source again, at once",
    **operation("sources.manage", 404),
)
def enable(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, source_id: Id
) -> SourceOut:
    return _toggle(session, clock, principal, source_id, True)
