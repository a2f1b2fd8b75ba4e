"""Incidents and crisis mode: ``/incidents`` (the list) and ``/incidents/{id}`` (the crisis
page).

The crisis page groups the incident's conversations by channel (new ones appear live, on
``sse:incident-<id>``), shows the holding answer — proposed by an agent, waiting for a
supervisor's approval, approved — and, once approved, sends it to every author with
:func:`clameur.care.incidents.bulk_reply`: one reply per author, with a ``<progress>`` bar
and a per-author result table (:func:`clameur.care.incidents.bulk_progress`) that follows
the outbox as it sends. Pressing "send" twice sends nothing twice: the service skips the
authors already answered, and this process runs one bulk send at a time and commits it
before the next starts (SQLite reads outside a write transaction would not see a send that
is not committed yet; PostgreSQL also locks the incident's row).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clameur.care import incidents as care_incidents
from clameur.care.canned import MAX_TEXT
from clameur.care.models import Conversation, Incident
from clameur.care.repository import Incidents
from clameur.db.repository import TenantRepository
from clameur.detection.models import Alert
from clameur.errors import ClameurError, InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand, User
from clameur.tenancy.policy import authorize
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
from clameur.web.pages.alerts_common import (
    DbSession,
    acting_page,
    bad_token,
    csrf_valid,
    is_htmx,
    missing,
    refusal,
    toast,
    translator,
)
from clameur.web.pages.common import language, local_path, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

PAGE = 25
SHOWN = 200
"""Conversations listed on the crisis page (the counts cover them all)."""
RESULTS = 200
"""Per-author results listed (failed first; the totals cover them all)."""
EXCERPT = 160
VARIABLES = ("name", "handle", "brand", "agent", "conversation")
STATUS_FILTERS = ("open", "closed", "all")
IN_FLIGHT = ("pending_approval", "approved", "queued")

_BULK = threading.Lock()
"""One bulk send at a time in this process, committed before the next starts."""


# -- the list ---------------------------------------------------------------------------------


def _brand_names(session: Session, principal: Principal) -> dict[int, str]:
    rows = session.execute(
        TenantRepository.of(session, principal, Brand).select(Brand.id, Brand.name)
    )
    return {brand_id: name for brand_id, name in rows}


def _counts(session: Session, principal: Principal, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        TenantRepository.of(session, principal, Conversation)
        .select(Conversation.incident_id, func.count(), steer=False)
        .where(Conversation.incident_id.in_(ids))
        .group_by(Conversation.incident_id)
    )
    return {incident_id: n for incident_id, n in rows if incident_id is not None}


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request,
    page: CurrentPage,
    session: DbSession,
    status: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> HTMLResponse:
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    chosen = status if status in STATUS_FILTERS else "open"
    try:
        authorize(principal, "incidents.read")
    except ClameurError as exc:
        return refusal(request, page, session, exc)
    repo = Incidents.of(session, principal)
    stmt = repo.select()
    if chosen != "all":
        stmt = stmt.where(Incident.status == chosen)
    if cursor is not None:
        stmt = stmt.where(Incident.id < cursor)
    rows = list(repo.all(stmt.order_by(Incident.id.desc()).limit(PAGE + 1)))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    context = {
        "section": "incidents",
        "live": True,
        "incidents": rows,
        "conversations": _counts(session, principal, [r.id for r in rows]),
        "brands": _brand_names(session, principal),
        "status": chosen,
        "statuses": STATUS_FILTERS,
        "cursor": cursor,
        "next_cursor": rows[-1].id if more else None,
    }
    return render(request, "incidents.html", context, page=page, session=session)


# -- one incident: its parts --------------------------------------------------------------------


def _conversations(session: Session, principal: Principal, incident_id: int) -> dict[str, Any]:
    """The incident's conversations grouped by channel (latest activity first in each),
    the counts of every group, and how many there are in all."""
    c = Conversation
    repo: TenantRepository[Conversation] = TenantRepository.of(session, principal, Conversation)
    excerpt = (
        select(func.substr(Mention.text, 1, EXCERPT + 1))
        .where(Mention.conversation_id == c.id)
        .order_by(Mention.created_at.desc(), Mention.id.desc())
        .limit(1)
        .correlate(c)
        .scalar_subquery()
    )
    rows = session.execute(
        repo.select(
            c.id,
            c.source,
            c.status,
            c.priority_level,
            c.priority,
            c.last_activity_at,
            c.mention_count,
            c.flags,
            Author.handle,
            Author.name,
            Author.followers,
            Author.verified,
            excerpt.label("excerpt"),
        )
        .join(Author, Author.id == c.author_id)
        .where(c.incident_id == incident_id)
        .order_by(c.last_activity_at.desc(), c.id.desc())
        .limit(SHOWN)
    ).all()
    counts: dict[str, int] = dict(
        session.execute(
            repo.select(c.source, func.count())
            .where(c.incident_id == incident_id)
            .group_by(c.source)
        ).all()
    )
    groups: dict[str, list[dict[str, Any]]] = {source: [] for source in counts}
    for row in rows:
        item = row._asdict()
        text = item["excerpt"] or ""
        item["excerpt"] = text if len(text) <= EXCERPT else text[:EXCERPT].rstrip() + " …"
        groups.setdefault(row.source, []).append(item)
    ordered = sorted(groups, key=lambda source: (-counts.get(source, 0), source))
    return {
        "groups": [{"source": s, "count": counts.get(s, 0), "rows": groups[s]} for s in ordered],
        "total": sum(counts.values()),
        "shown": len(rows),
    }


_ORDER = {"failed": 0, "pending_approval": 1, "approved": 2, "queued": 3, "sent": 4}


def _progress(session: Session, principal: Principal, incident_id: int) -> dict[str, Any]:
    found = care_incidents.bulk_progress(session, principal, incident_id)
    rows = sorted(found["rows"], key=lambda r: _ORDER.get(r["status"], 5))
    totals = found["totals"]
    answered = found["authors"] - totals.get("unanswered", 0)
    return {
        **found,
        "rows": rows[:RESULTS],
        "more_rows": max(0, len(rows) - RESULTS),
        "answered": answered,
        "in_flight": sum(totals.get(s, 0) for s in IN_FLIGHT),
        "by_conversation": {
            r["conversation_id"]: r["status"] for r in found["rows"] if r["reply_id"] is not None
        },
    }


def _holding(
    session: Session, principal: Principal, incident: Incident, progress: dict[str, Any]
) -> dict[str, Any]:
    approver = session.get(User, incident.approved_by) if incident.approved_by else None
    return {
        "incident": incident,
        "approver": (approver.name or approver.email) if approver is not None else None,
        "variables": VARIABLES,
        "unanswered": progress["totals"].get("unanswered", 0),
        "authors": progress["authors"],
        "text": incident.holding_answer or "",
        "error": None,
    }


def _context(
    request: Request, session: Session, principal: Principal, incident_id: int
) -> dict[str, Any]:
    incident = Incidents.of(session, principal).get(incident_id)
    authorize(principal, "incidents.read")
    progress = _progress(session, principal, incident.id)
    brand = _brand_names(session, principal).get(incident.brand_id or 0)
    kind = None
    if incident.alert_id is not None:
        alert_kind = TenantRepository.of(session, principal, Alert).select(Alert.kind)
        kind = session.scalar(alert_kind.where(Alert.id == incident.alert_id))
    return {
        "alert_kind": kind,
        "section": "incidents",
        "live": True,
        "incident": incident,
        "brand_name": brand,
        "convs": _conversations(session, principal, incident.id),
        "progress": progress,
        "holding": _holding(session, principal, incident, progress),
    }


def _fragment(
    request: Request,
    page: PageSession,
    session: Session,
    incident_id: int,
    name: str,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        context = _context(request, session, principal, incident_id)
    except ClameurError as exc:
        return refusal(request, page, session, exc, back="/incidents")
    return render(request, name, context, page=page, session=None, headers=headers)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    request: Request, incident_id: int, page: CurrentPage, session: DbSession
) -> HTMLResponse:
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        context = _context(request, session, principal, incident_id)
    except ClameurError:
        _ = translator(request, page)
        return missing(request, page, session, _("This incident"))
    return render(request, "incident.html", context, page=page, session=session)


@router.get("/incidents/{incident_id}/conversations", response_class=HTMLResponse)
def incident_conversations(
    request: Request, incident_id: int, page: CurrentPage, session: DbSession
) -> HTMLResponse:
    """The grouped conversations alone (fetched again on ``sse:incident-<id>``)."""
    return _fragment(request, page, session, incident_id, "incidents/_conversations.html")


@router.get("/incidents/{incident_id}/progress", response_class=HTMLResponse)
def incident_progress(
    request: Request, incident_id: int, page: CurrentPage, session: DbSession
) -> HTMLResponse:
    """The progress bar and the per-author results (fetched again while sending)."""
    return _fragment(request, page, session, incident_id, "incidents/_progress.html")


# -- actions ----------------------------------------------------------------------------------


Token = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


@router.post("/incidents/{incident_id}/holding", response_class=HTMLResponse)
def holding_answer(
    request: Request,
    incident_id: int,
    page: CurrentPage,
    session: DbSession,
    text: Annotated[str, Form(max_length=20_000)] = "",
    decision: Annotated[str, Form(max_length=16)] = "propose",
    next_path: Annotated[str, Form(alias="next", max_length=300)] = "",
    csrf_token: Token = "",
) -> Response:
    """Propose the holding answer (agents: ``replies.write``; any approval is withdrawn)
    or set and approve it (supervisors: ``incidents.manage``)."""
    back = local_path(next_path) if next_path else f"/incidents/{incident_id}"
    if not csrf_valid(request, page, csrf_token):
        return bad_token(request, page, session, back=back)
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    clock = clock_of(request)
    _ = translator(request, page)
    try:
        if decision == "approve":
            care_incidents.approve_holding_answer(session, clock, principal, incident_id, text)
            message = _("Holding answer approved: agents can send it to every author.")
        else:
            care_incidents.set_holding_answer(session, clock, principal, incident_id, text)
            message = _("Holding answer proposed: it waits for a supervisor's approval.")
    except InvalidInputError as exc:
        return _holding_error(request, page, session, principal, incident_id, text, exc)
    except ClameurError as exc:
        return refusal(request, page, session, exc, back=back)
    if is_htmx(request) and not next_path:
        return _fragment(
            request, page, session, incident_id, "incidents/_holding.html", toast(message)
        )
    return RedirectResponse(back, status_code=303)


def _holding_error(
    request: Request,
    page: PageSession,
    session: Session,
    principal: Principal,
    incident_id: int,
    text: str,
    exc: InvalidInputError,
) -> Response:
    """The holding answer's form again, with the message beside the field (GOV.UK)."""
    _ = translator(request, page)
    if exc.where == "text":
        message = _("Write a holding answer of 1 to %(n)s characters.", n=MAX_TEXT)
    elif exc.where == "template":
        message = _("Braces mark variables such as {name}: write {{ or }} for a brace itself.")
    else:
        message = exc.reason
    try:
        context = _context(request, session, principal, incident_id)
    except ClameurError as missing_exc:
        return refusal(request, page, session, missing_exc, back="/incidents")
    context["holding"] = {**context["holding"], "text": text, "error": message}
    if is_htmx(request):  # htmx swaps only a 2xx: the form comes back with its message
        return render(request, "incidents/_holding.html", context, page=page, session=None)
    return render(request, "incident.html", context, page=page, session=session, status_code=422)


@router.post("/incidents/{incident_id}/send", response_class=HTMLResponse)
def send_to_every_author(
    request: Request,
    incident_id: int,
    page: CurrentPage,
    session: DbSession,
    csrf_token: Token = "",
) -> Response:
    """The approved holding answer to every author not yet answered, one reply each."""
    back = f"/incidents/{incident_id}"
    if not csrf_valid(request, page, csrf_token):
        return bad_token(request, page, session, back=back)
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        with _BULK:
            result = care_incidents.bulk_reply(
                session, clock_of(request), principal, incident_id, channels=channels_of(request)
            )
            session.commit()  # inside the lock: the next press reads these replies
    except ClameurError as exc:
        session.rollback()
        return refusal(request, page, session, exc, back=back)
    message = _sent_message(request, page, len(result.replies), len(result.skipped_authors))
    if is_htmx(request):
        return _fragment(
            request, page, session, incident_id, "incidents/_progress.html", toast(message)
        )
    return RedirectResponse(back, status_code=303)


def _sent_message(request: Request, page: PageSession, sent: int, skipped: int) -> str:
    lang = language(request, page.user)
    ngettext = i18n.ngettext_for(lang)
    if not sent:
        _ = i18n.gettext_for(lang)
        return _("Every author has already been answered: nothing was sent again.")
    text = ngettext("%(num)s reply is on its way.", "%(num)s replies are on their way.", sent)
    if skipped:
        text += " " + ngettext(
            "%(num)s author already answered was skipped.",
            "%(num)s authors already answered were skipped.",
            skipped,
        )
    return text


@router.post("/incidents/{incident_id}/close", response_class=HTMLResponse)
def close(
    request: Request,
    incident_id: int,
    page: CurrentPage,
    session: DbSession,
    csrf_token: Token = "",
) -> Response:
    """End crisis mode (``incidents.manage``)."""
    back = f"/incidents/{incident_id}"
    if not csrf_valid(request, page, csrf_token):
        return bad_token(request, page, session, back=back)
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        care_incidents.close_incident(session, clock_of(request), principal, incident_id)
    except ClameurError as exc:
        return refusal(request, page, session, exc, back=back)
    return RedirectResponse(back, status_code=303)
