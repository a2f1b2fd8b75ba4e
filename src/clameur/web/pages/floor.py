"""The supervisor floor (``/floor``): agents online and their load, queue depths, the
oldest waiting conversation, SLA at risk and breached, alerts and incidents open — live.

The numbers come from :func:`clameur.care.floor.floor` (a handful of grouped queries); the
page re-reads them when the tenant's conversations, presence or alerts change (SSE) and
every 15 seconds besides (waiting times grow without any write).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from clameur.care.floor import floor
from clameur.tenancy import authorize
from clameur.web.auth import CurrentPage, clock_of, page_session
from clameur.web.deps import db_session
from clameur.web.pages.common import render, working_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

DbSession = Annotated[Session, Depends(db_session, scope="function")]
FLOOR_ACTION = "conversations.assign_others"
"""Who sees the floor: those who may hand work to others (supervisors, admins)."""


def _floor(request: Request, page: CurrentPage, session: Session, name: str) -> HTMLResponse:
    found = working_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    authorize(found.principal, FLOOR_ACTION)
    numbers = floor(session, found.principal, clock_of(request).now())
    context = {"section": "floor", "live": True, "floor": numbers}
    return render(request, name, context, page=found, session=session)


@router.get("/floor", response_class=HTMLResponse)
def floor_page(request: Request, page: CurrentPage, session: DbSession) -> HTMLResponse:
    return _floor(request, page, session, "floor.html")


@router.get("/floor/live", response_class=HTMLResponse)
def floor_fragment(request: Request, page: CurrentPage, session: DbSession) -> HTMLResponse:
    return _floor(request, page, session, "floor/numbers.html")
