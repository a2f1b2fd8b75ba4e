"""The live stream (``/live``, Server-Sent Events) and who is on a conversation.

A conversation's page reports every few seconds that its agent is viewing it, and when
they type (``POST /presence/{id}``); the answer is the fragment of everyone else there, and
the tenant's other pages hear ``presence-{id}`` at once. The registry is in this process
(:class:`clameur.care.presence.MemoryPresence`): one web process, the embedded deployment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care.conversations import get as get_conversation
from clameur.care.presence import PresenceRegistry
from clameur.errors import UnauthenticatedError
from clameur.tenancy import authorize
from clameur.tenancy.models import User
from clameur.tenancy.principal import Principal
from clameur.web.auth import CurrentPage, page_session
from clameur.web.deps import db_session
from clameur.web.live import LiveHub
from clameur.web.pages.common import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

DbSession = Annotated[Session, Depends(db_session, scope="function")]


@dataclass(frozen=True, slots=True)
class Person:
    user_id: int
    name: str
    state: str


def hub_of(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.live
    return hub


def presence_of(request: Request) -> PresenceRegistry:
    registry: PresenceRegistry = request.app.state.presence
    return registry


def _principal(page: CurrentPage) -> Principal:
    if page.principal is None:
        raise UnauthenticatedError("this account holds no role in any tenant")
    return page.principal


def others_on(
    request: Request, session: Session, conversation_ids: Iterable[int], me: int
) -> dict[int, list[Person]]:
    """Who else is viewing or typing in each conversation (names read in one query)."""
    registry = presence_of(request)
    found = {cid: registry.others(cid, me) for cid in conversation_ids}
    user_ids = {p.user_id for people in found.values() for p in people}
    names: dict[int, str] = {}
    if user_ids:
        rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(user_ids)))
        names = {uid: name or email for uid, name, email in rows}
    return {
        cid: [Person(p.user_id, names.get(p.user_id, "?"), p.state) for p in people]
        for cid, people in found.items()
        if people
    }


@router.get("/live")
async def live(request: Request, page: CurrentPage) -> StreamingResponse:
    principal = _principal(page)
    authorize(principal, "conversations.read")
    stream = hub_of(request).stream(principal.tenant_id, request.is_disconnected)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


@router.post("/presence/{conversation_id}", response_class=HTMLResponse)
def report_presence(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    state: Annotated[Literal["viewing", "typing", "left"], Form()] = "viewing",
) -> HTMLResponse:
    """The agent's screen: viewing, typing, or left. Answers who else is there."""
    principal = _principal(page)
    authorize(principal, "conversations.read")
    get_conversation(session, principal.tenant_id, conversation_id)  # 404 outside the tenant
    registry = presence_of(request)
    me = principal.user_id
    before = [(p.user_id, p.state) for p in registry.others(conversation_id, -1)]
    if state == "left":
        registry.leave(conversation_id, me)
    else:
        registry.touch(conversation_id, me, state)
    after = [(p.user_id, p.state) for p in registry.others(conversation_id, -1)]
    if sorted(before) != sorted(after):
        hub_of(request).notify(principal.tenant_id, f"presence-{conversation_id}", "")
        hub_of(request).notify(principal.tenant_id, "presence", str(conversation_id))
    return _fragment(request, page, session, conversation_id, me)


@router.get("/presence/{conversation_id}", response_class=HTMLResponse)
def show_presence(
    request: Request, conversation_id: int, page: CurrentPage, session: DbSession
) -> HTMLResponse:
    principal = _principal(page)
    authorize(principal, "conversations.read")
    get_conversation(session, principal.tenant_id, conversation_id)
    return _fragment(request, page, session, conversation_id, principal.user_id)


def _fragment(
    request: Request, page: CurrentPage, session: Session, conversation_id: int, me: int
) -> HTMLResponse:
    people = others_on(request, session, [conversation_id], me).get(conversation_id, [])
    context = {"people": people, "conversation_id": conversation_id}
    return render(request, "fragments/presence.html", context, page=page, session=None)
