"""Campaign review: a suspected coordinated campaign's cluster, the supervisor's verdict
(confirm or reject, ``campaigns.review``) and the CSV report for the platform's abuse team
(:mod:`clameur.care.campaigns`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import Response
from pydantic import BaseModel, Field

from clameur.care import campaigns
from clameur.web.api_v1.alerts import AlertOut
from clameur.web.api_v1.common import ClockDep, Id, SessionDep, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["campaigns"])


class MemberOut(BaseModel):
    mention_id: int | None
    source: str
    external_id: str
    role: str = Field(description="tip (the post that raised it) or member.")
    posted_at: datetime
    offset_seconds: float = Field(description="Seconds after the cluster's first post.")
    text: str | None
    url: str | None
    author_id: int | None
    handle: str
    name: str | None
    account_created_at: datetime | None
    account_age_days: float | None = Field(description="The account's age when it posted.")
    followers: int | None
    verified: bool
    conversation_id: int | None


class CampaignOut(BaseModel):
    alert: AlertOut
    score: float | None
    reasons: list[str] = Field(description="Why it looks coordinated.")
    signals: dict[str, Any]
    members: list[MemberOut] = Field(description="In posting order.")
    total: int = Field(description="Posts in the cluster (members may show fewer).")
    incident_id: int | None
    conversation_ids: list[int]


class VerdictIn(BaseModel):
    note: str | None = Field(None, max_length=1000)


class VerdictOut(BaseModel):
    alert_id: int
    verdict: str = Field(description="confirmed or rejected.")
    incident_id: int | None
    conversations: list[int] = Field(description="The member conversations it changed.")


@router.get(
    "/alerts/{alert_id}/campaign",
    response_model=CampaignOut,
    summary="A suspected campaign's cluster, posts side by side",
    **operation("campaigns.read", 404),
)
def show_campaign(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, alert_id: Id
) -> CampaignOut:
    view = campaigns.campaign_view(session, principal, alert_id, now=clock.now())
    return CampaignOut.model_validate(asdict(view))


@router.post(
    "/alerts/{alert_id}/campaign/confirm",
    response_model=VerdictOut,
    summary="It is a campaign: its posts leave the queues, flagged",
    **operation("campaigns.review", 404),
)
def confirm(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    alert_id: Id,
    body: Annotated[VerdictIn | None, Body()] = None,
) -> VerdictOut:
    note = body.note if body is not None else None
    done = campaigns.confirm_campaign(session, clock, principal, alert_id, note=note)
    return VerdictOut.model_validate(asdict(done))


@router.post(
    "/alerts/{alert_id}/campaign/reject",
    response_model=VerdictOut,
    summary="Not a campaign: its conversations go back as ordinary work",
    **operation("campaigns.review", 404),
)
def reject(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    alert_id: Id,
    body: Annotated[VerdictIn | None, Body()] = None,
) -> VerdictOut:
    note = body.note if body is not None else None
    done = campaigns.reject_campaign(session, clock, principal, alert_id, note=note)
    return VerdictOut.model_validate(asdict(done))


@router.get(
    "/alerts/{alert_id}/campaign/report.csv",
    summary="The campaign's posts as CSV, for the platform's abuse team",
    response_class=Response,
    **operation(
        "campaigns.read",
        404,
        responses={200: {"content": {"text/csv": {}}, "description": "One row per post."}},
    ),
)
def report_csv(session: SessionDep, principal: CurrentPrincipal, alert_id: Id) -> Response:
    text = campaigns.campaign_report_csv(session, principal, alert_id)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{alert_id}.csv"'},
    )
