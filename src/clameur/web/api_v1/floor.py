"""The supervisor floor: agents and their load, queue depths, SLA at risk and breached,
open alerts and incidents (:func:`clameur.care.floor.floor`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from clameur.care.floor import floor
from clameur.web.api_v1.common import ClockDep, SessionDep, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["floor"])


class AgentOut(BaseModel):
    user_id: int
    name: str
    email: str
    role: str
    presence: str = Field(description="online, away or offline.")
    presence_since: datetime | None
    open_assigned: int = Field(description="Open conversations of this tenant they hold.")
    capacity: int
    teams: list[str]


class QueueOut(BaseModel):
    id: int
    name: str
    team: str | None
    depth: int = Field(description="Open conversations nobody holds.")
    oldest_waiting_seconds: float | None = Field(
        description="How long the longest-waiting of those has waited since the customer wrote."
    )
    at_risk: int = Field(description="SLA warned (a target mostly used), not breached.")
    breached: int
    open: int = Field(description="Every conversation of the queue still needing work.")


class FloorOut(BaseModel):
    at: datetime
    agents: list[AgentOut] = Field(description="Online first.")
    agents_online: int
    queues: list[QueueOut] = Field(description="In routing order.")
    open: int
    unassigned: int
    unqueued: int = Field(description="Open conversations in no queue.")
    sla_at_risk: int
    sla_breached: int
    alerts_open: dict[str, int] = Field(description="By severity.")
    incidents_open: int


@router.get(
    "/floor",
    response_model=FloorOut,
    summary="The supervisor floor: agents, queues, SLA risk, open alerts",
    **operation("conversations.read"),
)
def show_floor(session: SessionDep, clock: ClockDep, principal: CurrentPrincipal) -> FloorOut:
    found = floor(session, principal, clock.now())
    return FloorOut.model_validate({**asdict(found), "agents_online": found.agents_online})
