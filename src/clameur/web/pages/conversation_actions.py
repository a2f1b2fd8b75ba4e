"""The agent's and the supervisor's actions on a conversation page, each a form post that
calls one care service with the page's principal (the service refreshes it and checks the
policy table): status with a reason, snooze, assignment, notes, tags, back-office
handover, moderation of a customer's public post, approval of a waiting reply, and saving
a canned reply. See :mod:`clameur.web.pages.conversation_base` for how they answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from clameur.care import conversations as care
from clameur.care import handover, replies, routing
from clameur.care.canned import MAX_TEXT, add_canned_reply
from clameur.care.repository import Conversations, Replies
from clameur.db.repository import TenantRepository
from clameur.errors import ClameurError, InvalidInputError, NotFoundError
from clameur.mentions.models import Mention
from clameur.tenancy.principal import Principal
from clameur.web import i18n
from clameur.web.auth import (
    CSRF_FIELD,
    CurrentPage,
    PageSession,
    channels_of,
    clock_of,
    page_session,
)
from clameur.web.pages.conversation_base import (
    DbSession,
    check_form_csrf,
    done,
    gettext,
    principal_of,
    refused,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
Reason = Annotated[str, Form(max_length=care.MAX_REASON + 100)]
Action = Callable[[Principal, i18n.Gettext], str]
SNOOZE_PRESETS = ("1h", "4h", "tomorrow", "monday", "custom")
MORNING = 9
"""The hour (the agent's time zone) "tomorrow" and "next Monday" wake up at."""


def _act(
    request: Request,
    page: PageSession,
    session: DbSession,
    conversation_id: int,
    csrf_token: str,
    action: Action,
    *,
    anchor: str = "",
    events: dict[str, object] | None = None,
) -> Response:
    """CSRF, the principal, the action; then the answer (see the base module)."""
    refused_csrf = check_form_csrf(request, page, session, csrf_token)
    if refused_csrf is not None:
        return refused_csrf
    found = principal_of(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    _ = gettext(request, page)
    try:
        Conversations.of(session, principal).get(conversation_id)  # 404 outside the tenant
        message = action(principal, _)
    except ClameurError as exc:
        return refused(request, page, session, conversation_id, exc)
    return done(request, page, conversation_id, message, anchor=anchor, events=events)


@router.post("/c/{conversation_id}/status")
def set_status(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    status: Annotated[str, Form(max_length=40)],
    reason: Reason = "",
    csrf_token: CsrfField = "",
) -> Response:
    def action(principal: Principal, _: i18n.Gettext) -> str:
        care.set_status(
            session,
            principal,
            conversation_id,
            status,
            at=clock_of(request).now(),
            reason=reason or None,
        )
        if status == "resolved":
            return _("Conversation resolved.")
        return _("Status changed.")

    return _act(request, page, session, conversation_id, csrf_token, action)


def snooze_until(
    preset: str, until: str, now: datetime, zone_name: str | None, _: i18n.Gettext
) -> datetime:
    """When a snooze ends: a preset, or the agent's local date and time (their zone)."""
    zone = i18n.zone(zone_name)
    local = now.astimezone(zone)
    if preset == "1h":
        return now + timedelta(hours=1)
    if preset == "4h":
        return now + timedelta(hours=4)
    if preset == "tomorrow":
        day = (local + timedelta(days=1)).date()
        return datetime(day.year, day.month, day.day, MORNING, tzinfo=zone)
    if preset == "monday":
        day = (local + timedelta(days=(7 - local.weekday()) % 7 or 7)).date()
        return datetime(day.year, day.month, day.day, MORNING, tzinfo=zone)
    try:
        chosen = datetime.fromisoformat(until.strip())
    except ValueError:
        raise InvalidInputError(
            _("Choose when the conversation wakes up."), where="until"
        ) from None
    return chosen.replace(tzinfo=zone) if chosen.tzinfo is None else chosen


@router.post("/c/{conversation_id}/snooze")
def snooze(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    preset: Annotated[str, Form(max_length=16)] = "custom",
    until: Annotated[str, Form(max_length=40)] = "",
    reason: Reason = "",
    csrf_token: CsrfField = "",
) -> Response:
    def action(principal: Principal, _: i18n.Gettext) -> str:
        now = clock_of(request).now()
        wake = snooze_until(preset, until, now, page.user.timezone, _)
        care.snooze(session, principal, conversation_id, wake, at=now, reason=reason or None)
        return _("Snoozed: it comes back by itself.")

    return _act(request, page, session, conversation_id, csrf_token, action)


@router.post("/c/{conversation_id}/assign")
def assign(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    to: Annotated[str, Form(max_length=20)] = "me",
    csrf_token: CsrfField = "",
) -> Response:
    def action(principal: Principal, _: i18n.Gettext) -> str:
        if to == "me":
            target: int | None = principal.user_id
        elif to in ("", "none"):
            target = None
        elif to.isdigit() and len(to) <= 18:
            target = int(to)
        else:
            raise InvalidInputError(_("Choose who takes the conversation."), where="to")
        routing.assign(session, clock_of(request), principal, conversation_id, target)
        if target is None:
            return _("Back in its queue.")
        if target == principal.user_id:
            return _("Assigned to you.")
        return _("Assigned.")

    return _act(request, page, session, conversation_id, csrf_token, action)


@router.post("/c/{conversation_id}/notes")
def add_note(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    text: Annotated[str, Form(max_length=10_000)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    def action(principal: Principal, _: i18n.Gettext) -> str:
        care.add_note(session, principal, conversation_id, text, at=clock_of(request).now())
        return _("Note added.")

    return _act(request, page, session, conversation_id, csrf_token, action, anchor="#notes")


@router.post("/c/{conversation_id}/tags")
def tags(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    add: Annotated[str, Form(max_length=400)] = "",
    remove: Annotated[str, Form(max_length=40)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    def action(principal: Principal, _: i18n.Gettext) -> str:
        added = [t.strip() for t in add.split(",") if t.strip()]
        removed = [remove.strip()] if remove.strip() else []
        if not added and not removed:
            raise InvalidInputError(_("Write a tag to add."), where="tag")
        care.tag(
            session,
            principal,
            conversation_id,
            add=added,
            remove=removed,
            at=clock_of(request).now(),
        )
        return _("Tags saved.")

    return _act(request, page, session, conversation_id, csrf_token, action, anchor="#tags")


@router.post("/c/{conversation_id}/escalate")
def escalate(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    team_id: Annotated[int, Form(ge=1)],
    field_name: Annotated[list[str] | None, Form(max_length=50)] = None,
    field_value: Annotated[list[str] | None, Form(max_length=50)] = None,
    details: Annotated[str, Form(max_length=5000)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """Hand the conversation to a back-office team with the fields it requires
    (:func:`clameur.care.handover.escalate` names the missing ones)."""

    def action(principal: Principal, _: i18n.Gettext) -> str:
        names, values = field_name or [], field_value or []
        if len(names) != len(values):
            raise InvalidInputError(_("The form is incomplete: reload the page."), where="fields")
        fields: dict[str, str] = {n[:100]: v[:2000] for n, v in zip(names, values, strict=True)}
        if details.strip():
            fields.setdefault("details", details)
        handover.escalate(session, clock_of(request), principal, conversation_id, team_id, fields)
        return _("Handed to the back office.")

    return _act(request, page, session, conversation_id, csrf_token, action, anchor="#handover")


@router.post("/c/{conversation_id}/handback")
def hand_back(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    note: Annotated[str, Form(max_length=5000)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    def action(principal: Principal, _: i18n.Gettext) -> str:
        handover.hand_back(session, clock_of(request), principal, conversation_id, note)
        return _("Handed back to the front office.")

    return _act(request, page, session, conversation_id, csrf_token, action, anchor="#handover")


@router.post("/c/{conversation_id}/moderate")
def moderate(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    mention_id: Annotated[int, Form(ge=1)],
    action_name: Annotated[str, Form(alias="action", max_length=16)],
    csrf_token: CsrfField = "",
) -> Response:
    """Hide or delete a customer's public post on its network (where the channel can)."""

    def action(principal: Principal, _: i18n.Gettext) -> str:
        repo: TenantRepository[Mention] = TenantRepository.of(session, principal, Mention)
        found = session.scalar(
            repo.select(Mention.id).where(
                Mention.id == mention_id, Mention.conversation_id == conversation_id
            )
        )
        if found is None:
            raise NotFoundError(f"mention {mention_id} is not in conversation {conversation_id}")
        forwarded = replies.moderate_mention(
            session,
            clock_of(request),
            principal,
            mention_id,
            action_name,
            channels=channels_of(request),
        )
        if not forwarded:
            return _("Recorded; this network cannot apply it: do it on the network itself.")
        if action_name == "delete":
            return _("The post will be deleted on its network.")
        return _("The post will be hidden on its network.")

    return _act(request, page, session, conversation_id, csrf_token, action)


def _reply_here(
    session: DbSession, principal: Principal, conversation_id: int, reply_id: int
) -> None:
    reply = Replies.of(session, principal).get(reply_id)
    if reply.conversation_id != conversation_id:
        raise NotFoundError(f"reply {reply_id} is not in conversation {conversation_id}")


@router.post("/c/{conversation_id}/replies/{reply_id}/approve")
def approve(
    request: Request,
    conversation_id: int,
    reply_id: int,
    page: CurrentPage,
    session: DbSession,
    csrf_token: CsrfField = "",
) -> Response:
    def action(principal: Principal, _: i18n.Gettext) -> str:
        _reply_here(session, principal, conversation_id, reply_id)
        channels = channels_of(request)
        replies.approve_reply(session, clock_of(request), principal, reply_id, channels=channels)
        return _("Reply approved: it is being published.")

    return _act(request, page, session, conversation_id, csrf_token, action)


@router.post("/c/{conversation_id}/replies/{reply_id}/reject")
def reject(
    request: Request,
    conversation_id: int,
    reply_id: int,
    page: CurrentPage,
    session: DbSession,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    def action(principal: Principal, _: i18n.Gettext) -> str:
        _reply_here(session, principal, conversation_id, reply_id)
        if not reason.strip():
            raise InvalidInputError(_("Say why the reply is rejected."), where="reason")
        replies.reject_reply(session, clock_of(request), principal, reply_id, reason)
        return _("Reply rejected; its author sees why.")

    return _act(request, page, session, conversation_id, csrf_token, action)


@router.post("/c/{conversation_id}/canned")
def save_canned(
    request: Request,
    conversation_id: int,
    page: CurrentPage,
    session: DbSession,
    name: Annotated[str, Form(max_length=100)] = "",
    text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    shortcode: Annotated[str, Form(max_length=40)] = "",
    lang: Annotated[str, Form(max_length=8)] = "",
    team: Annotated[str, Form(max_length=4)] = "",
    csrf_token: CsrfField = "",
) -> Response:
    """A canned reply of the agent's own, or (``canned.manage``) the team's."""

    def action(principal: Principal, _: i18n.Gettext) -> str:
        conversation = Conversations.of(session, principal).get(conversation_id)
        add_canned_reply(
            session,
            clock_of(request),
            principal,
            name=name,
            text=text,
            lang=lang or (conversation.lang or "fr").split("-")[0],
            shortcode=shortcode.strip() or None,
            personal=team != "1",
        )
        return _("Canned reply saved.")

    return _act(
        request,
        page,
        session,
        conversation_id,
        csrf_token,
        action,
        anchor="#reply",
        events={"canned-changed": True},
    )
