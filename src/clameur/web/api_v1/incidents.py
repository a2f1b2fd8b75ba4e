"""Incidents (conversations grouped around one alert, answered together): list, get, the
progress of a bulk reply, close (``incidents.manage``, through
:func:`clameur.care.incidents.close_incident`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clameur.care.incidents import PROGRESS_STATUSES, bulk_progress, close_incident
from clameur.care.models import Conversation, Incident
from clameur.care.repository import Incidents
from clameur.db.repository import TenantRepository
from clameur.errors import InvalidInputError
from clameur.tenancy.models import Brand
from clameur.tenancy.principal import Principal
from clameur.web.api_v1.common import MAX_ID, ClockDep, Id, SessionDep, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["incidents"])

STATUSES = ("open", "closed")


class IncidentOut(BaseModel):
    id: int
    title: str
    status: str = Field(description="open or closed.")
    alert: int | None = Field(description="The id of the alert that opened it.")
    brand: str | None
    opened_at: datetime = Field(description="Event time of that alert.")
    holding_answer: str | None
    holding_answer_approved: bool
    conversations: int = Field(description="How many conversations it groups.")


class AuthorProgress(BaseModel):
    author_id: int
    handle: str
    name: str | None
    conversation_id: int = Field(description="Where the author is (was) answered.")
    reply_id: int | None
    status: str = Field(description=", ".join(PROGRESS_STATUSES) + ".")
    error: str | None = Field(description="Why sending failed.")
    sent_at: datetime | None


class ProgressOut(BaseModel):
    incident_id: int
    status: str = Field(description="The incident's: open or closed.")
    authors: int = Field(description="Authors to answer, one reply each.")
    totals: dict[str, int] = Field(description="Authors per status of their reply.")
    done: int = Field(description="Sent or failed: the progress bar's filled part.")
    rows: list[AuthorProgress] = Field(description="One per author: answered ones first.")


class IncidentPage(BaseModel):
    items: list[IncidentOut] = Field(description="Newest first.")
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


def _out(session: Session, principal: Principal, rows: list[Incident]) -> list[IncidentOut]:
    ids = [row.id for row in rows]
    counts: dict[int | None, int] = {}
    brands: dict[int, str] = {}
    if ids:
        grouped = session.execute(
            TenantRepository.of(session, principal, Conversation)
            .select(Conversation.incident_id, func.count(), steer=False)
            .where(Conversation.incident_id.in_(ids))
            .group_by(Conversation.incident_id)
        )
        counts = {incident_id: count for incident_id, count in grouped}
        brand_ids = {row.brand_id for row in rows if row.brand_id is not None}
        slugs = session.execute(select(Brand.id, Brand.slug).where(Brand.id.in_(brand_ids)))
        brands = {brand_id: slug for brand_id, slug in slugs}
    return [
        IncidentOut(
            id=row.id,
            title=row.title,
            status=row.status,
            alert=row.alert_id,
            brand=brands.get(row.brand_id) if row.brand_id is not None else None,
            opened_at=row.opened_at,
            holding_answer=row.holding_answer,
            holding_answer_approved=row.approved_at is not None,
            conversations=counts.get(row.id, 0),
        )
        for row in rows
    ]


@router.get(
    "/incidents",
    response_model=IncidentPage,
    summary="The tenant's incidents, newest first",
    **operation("incidents.read"),
)
def list_incidents(
    session: SessionDep,
    principal: CurrentPrincipal,
    status: Annotated[str | None, Query(description="open or closed.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="`next` of the previous page.")
    ] = None,
) -> IncidentPage:
    if status is not None and status not in STATUSES:
        raise InvalidInputError("status is open or closed", where="status")
    repo = Incidents.of(session, principal)
    stmt = repo.select()
    if status is not None:
        stmt = stmt.where(Incident.status == status)
    if cursor is not None:
        stmt = stmt.where(Incident.id < cursor)
    rows = list(repo.all(stmt.order_by(Incident.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return IncidentPage(
        items=_out(session, principal, rows), next=str(rows[-1].id) if more else None
    )


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentOut,
    summary="One incident",
    **operation("incidents.read", 404),
)
def show_incident(session: SessionDep, principal: CurrentPrincipal, incident_id: Id) -> IncidentOut:
    (found,) = _out(session, principal, [Incidents.of(session, principal).get(incident_id)])
    return found


@router.post(
    "/incidents/{incident_id}/close",
    response_model=IncidentOut,
    summary="End incident mode (replies follow the usual approval rules again)",
    **operation("incidents.manage", 404),
)
def close(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, incident_id: Id
) -> IncidentOut:
    Incidents.of(session, principal).get(incident_id)
    incident = close_incident(session, clock, principal, incident_id)
    (found,) = _out(session, principal, [incident])
    return found


@router.get(
    "/incidents/{incident_id}/progress",
    response_model=ProgressOut,
    summary="How the bulk reply is going: one row per author",
    **operation("incidents.read", 404),
)
def progress(session: SessionDep, principal: CurrentPrincipal, incident_id: Id) -> ProgressOut:
    return ProgressOut.model_validate(bulk_progress(session, principal, incident_id))
