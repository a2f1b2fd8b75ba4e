"""Alerts raised by detection: list (items as ``clameur alerts --json`` plus ``id`` and
their handling), get, acknowledge, mute, resolve (``alerts.manage``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from clameur.detection import triage
from clameur.web.api_v1.common import ClockDep, Id, SessionDep, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class Evidence(BaseModel, extra="allow"):
    mentions: list[str] = Field(description="External ids of the member mentions.")
    authors: list[str] = Field(description="Their authors' handles.")


class AlertOut(BaseModel):
    id: int
    kind: str = Field(description="volume_spike, negative_spike, influencer, campaign…")
    severity: str
    status: str = Field(description="open, closed (its cool-down passed) or resolved.")
    triggered_at: datetime = Field(
        description="Event time of the mention whose arrival made the detector raise it."
    )
    started_at: datetime = Field(description="Event time of the incident's first member.")
    updated_at: datetime
    brand: str | None
    summary: str
    count: int
    evidence: Evidence
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    muted_until: datetime | None = Field(None, description="No notification until then.")
    muted_by: str | None = None
    muted: bool = Field(False, description="Muted now.")
    incident_id: int | None = Field(None, description="The incident opened for it.")
    verdict: str | None = Field(None, description="A campaign's: confirmed or rejected.")
    verdict_at: datetime | None = None
    verdict_by: str | None = None


class AlertPage(BaseModel):
    items: list[AlertOut] = Field(description="Newest first.")
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class ResolveIn(BaseModel):
    note: str | None = Field(None, max_length=1000, description="What was done.")


class MuteIn(BaseModel):
    hours: int = Field(ge=1, le=triage.MAX_MUTE_HOURS, description="1–168 hours from now.")


def _out(item: dict[str, Any]) -> AlertOut:
    return AlertOut.model_validate(item)


@router.get(
    "/alerts",
    response_model=AlertPage,
    summary="The tenant's alerts, newest first",
    **operation("alerts.read"),
)
def list_alerts(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    status: Annotated[str | None, Query(description="open, closed or resolved.")] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    severity: Annotated[str | None, Query(description="low, medium, high, critical.")] = None,
    brand: Annotated[str | None, Query(description="A brand's slug.", max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=triage.MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
) -> AlertPage:
    page = triage.list_alerts(
        session,
        principal,
        status=status,
        kind=kind,
        severity=severity,
        brand=brand,
        limit=limit,
        cursor=cursor,
        now=clock.now(),
    )
    return AlertPage(items=[_out(item) for item in page.items], next=page.next_cursor)


@router.get(
    "/alerts/{alert_id}",
    response_model=AlertOut,
    summary="One alert",
    **operation("alerts.read", 404),
)
def show_alert(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, alert_id: Id
) -> AlertOut:
    return _out(triage.get_alert(session, principal, alert_id, now=clock.now()))


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    summary="Someone is on it (the alert stays open)",
    **operation("alerts.manage", 404),
)
def acknowledge_alert(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, alert_id: Id
) -> AlertOut:
    return _out(triage.acknowledge(session, clock.now(), principal, alert_id))


@router.post(
    "/alerts/{alert_id}/resolve",
    response_model=AlertOut,
    summary="Handled: the alert closes as resolved",
    **operation("alerts.manage", 404),
)
def resolve_alert(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    alert_id: Id,
    body: Annotated[ResolveIn | None, Body()] = None,
) -> AlertOut:
    note = body.note if body is not None else None
    return _out(triage.resolve(session, clock.now(), principal, alert_id, note=note))


@router.post(
    "/alerts/{alert_id}/mute",
    response_model=AlertOut,
    summary="No notification about it for some hours (it stays open)",
    **operation("alerts.manage", 404),
)
def mute_alert(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    alert_id: Id,
    body: MuteIn,
) -> AlertOut:
    return _out(triage.mute(session, clock.now(), principal, alert_id, body.hours))
