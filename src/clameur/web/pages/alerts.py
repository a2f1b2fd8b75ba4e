"""The alerts pages: ``/alerts`` (the list, open ones by default, filters, keyset pages,
live on ``sse:alerts``) and ``/alerts/{id}`` (summary, the spike's chart against its
baseline, the evidence's mentions and authors; acknowledge, mute for N hours, resolve, the
link to its incident or its campaign review). Campaign review is in :mod:`.campaigns`,
included here.

Reads and writes go through :mod:`clameur.detection.triage` with the page's principal:
viewers see everything, supervisors and admins act (``alerts.manage``); the buttons a role
may not use are not on the page, and the service refuses them anyway.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import and_, func
from sqlalchemy.orm import Session

from clameur.db.repository import TenantRepository
from clameur.detection import triage
from clameur.detection.models import Alert, AlertMention
from clameur.detection.rules import SEVERITIES
from clameur.errors import ClameurError, InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand
from clameur.tenancy.principal import Principal
from clameur.web.auth import CSRF_FIELD, CurrentPage, PageSession, clock_of, page_session
from clameur.web.pages import alerts_chart, campaigns
from clameur.web.pages.alerts_common import (
    DbSession,
    acting_page,
    bad_token,
    csrf_valid,
    done,
    missing,
    parse_time,
    refusal,
    refused,
    translator,
)
from clameur.web.pages.common import N_, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

PAGE = 25
EVIDENCE = 30
"""Member mentions shown on an alert's page (the API lists them all)."""
TOP_AUTHORS = 10
KINDS = ("volume_spike", "negative_spike", "influencer", "campaign")
STATUS_FILTERS = ("open", "resolved", "closed", "all")
MUTE_HOURS = (1, 2, 4, 8, 24, 72, 168)

BASELINE_LABELS = {
    "same hour of the week": N_("the same hour of the week"),
    "same hour of the day": N_("the same hour of the day"),
    "recent hours": N_("the recent hours"),
    "cold start": N_("a default level (little history yet)"),
}
_TIMES = (
    "triggered_at",
    "started_at",
    "updated_at",
    "acknowledged_at",
    "resolved_at",
    "muted_until",
)


def view(item: dict[str, Any]) -> dict[str, Any]:
    """A triage item for a template: times as datetimes, and its state in one word
    (``open``, ``acknowledged``, ``muted``, ``resolved`` or ``closed``)."""
    out = dict(item)
    for name in (*_TIMES, "verdict_at"):
        out[name] = parse_time(item.get(name))
    if item.get("status") in ("resolved", "closed"):
        out["state"] = item["status"]
    elif item.get("muted"):
        out["state"] = "muted"
    elif item.get("acknowledged_at"):
        out["state"] = "acknowledged"
    else:
        out["state"] = "open"
    return out


def labels(request: Request, page: PageSession) -> dict[str, Any]:
    """Template helpers: the names of baselines in the page's language, the mute choices."""
    _ = translator(request, page)
    return {
        "baseline_name": lambda b: _(BASELINE_LABELS[b]) if b in BASELINE_LABELS else b,
        "mute_hours": MUTE_HOURS,
    }


def _brands(session: Session, principal: Principal) -> dict[str, str]:
    """The tenant's brands, slug → name (the filter's options, the rows' brand names)."""
    rows = session.execute(
        TenantRepository.of(session, principal, Brand)
        .select(Brand.slug, Brand.name)
        .order_by(Brand.name)
    )
    return {slug: name for slug, name in rows}


def _filters(
    status: str | None, kind: str | None, severity: str | None, brand: str | None, brands: Any
) -> dict[str, str]:
    """The list's filters that make sense (an unknown value is dropped, not an error)."""
    chosen = {"status": status if status in STATUS_FILTERS else "open"}
    if kind in KINDS:
        chosen["kind"] = kind
    if severity in SEVERITIES:
        chosen["severity"] = severity
    if brand and brand in brands:
        chosen["brand"] = brand
    return chosen


def _list_context(
    request: Request,
    page: PageSession,
    session: Session,
    principal: Principal,
    chosen: dict[str, str],
    cursor: str | None,
) -> dict[str, Any]:
    brands = _brands(session, principal)
    now = clock_of(request).now()
    status = chosen["status"]
    error = None
    try:
        found = triage.list_alerts(
            session,
            principal,
            status=None if status == "all" else status,
            kind=chosen.get("kind"),
            severity=chosen.get("severity"),
            brand=chosen.get("brand"),
            limit=PAGE,
            cursor=cursor or None,
            now=now,
        )
    except InvalidInputError:  # a cursor from elsewhere: start again at the first page
        found = triage.list_alerts(
            session,
            principal,
            status=None if status == "all" else status,
            kind=chosen.get("kind"),
            severity=chosen.get("severity"),
            brand=chosen.get("brand"),
            limit=PAGE,
            now=now,
        )
        _ = translator(request, page)
        cursor, error = None, _("That page no longer exists: here is the first.")
    query = urlencode(chosen)
    return {
        "section": "alerts",
        "live": True,
        "items": [view(item) for item in found.items],
        "next_cursor": found.next_cursor,
        "cursor": cursor,
        "filters": chosen,
        "query": query,
        "brands": brands,
        "kinds": KINDS,
        "severities": SEVERITIES,
        "statuses": STATUS_FILTERS,
        "error": error,
        **labels(request, page),
    }


Filter = Annotated[str | None, Query(max_length=64)]


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    page: CurrentPage,
    session: DbSession,
    status: Filter = None,
    kind: Filter = None,
    severity: Filter = None,
    brand: Filter = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    chosen = _filters(status, kind, severity, brand, _brands(session, principal))
    context = _list_context(request, page, session, principal, chosen, cursor)
    return render(request, "alerts.html", context, page=page, session=session)


@router.get("/alerts/rows", response_class=HTMLResponse)
def alerts_rows(
    request: Request,
    page: CurrentPage,
    session: DbSession,
    status: Filter = None,
    kind: Filter = None,
    severity: Filter = None,
    brand: Filter = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    """The list's rows alone: what the page fetches again on ``sse:alerts``."""
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    chosen = _filters(status, kind, severity, brand, _brands(session, principal))
    context = _list_context(request, page, session, principal, chosen, cursor)
    return render(request, "alerts/_rows.html", context, page=page, session=None)


# -- one alert --------------------------------------------------------------------------------


def _evidence(session: Session, principal: Principal, alert_id: int) -> list[dict[str, Any]]:
    """The alert's first member mentions (event order) with their text and author."""
    am = AlertMention
    rows = session.execute(
        TenantRepository.of(session, principal, AlertMention)
        .select(
            am.role,
            am.created_at,
            am.source,
            am.external_id,
            am.author,
            Mention.text,
            Mention.url,
            Mention.conversation_id,
            Mention.sentiment,
            Author.name,
            Author.followers,
            Author.verified,
        )
        .outerjoin(
            Mention,
            and_(
                Mention.tenant_id == am.tenant_id,
                Mention.source == am.source,
                Mention.external_id == am.external_id,
            ),
        )
        .outerjoin(Author, Author.id == Mention.author_id)
        .where(am.alert_id == alert_id)
        .order_by(am.created_at, am.external_id)
        .limit(EVIDENCE)
    ).all()
    return [row._asdict() for row in rows]


def _authors(session: Session, principal: Principal, alert_id: int) -> tuple[list[Any], int]:
    """The alert's most frequent authors (handle, mentions) and how many authors in all."""
    am = AlertMention
    repo: TenantRepository[AlertMention] = TenantRepository.of(session, principal, AlertMention)
    count = func.count().label("n")
    top = session.execute(
        repo.select(am.author, count)
        .where(am.alert_id == alert_id)
        .group_by(am.author)
        .order_by(count.desc(), am.author)
        .limit(TOP_AUTHORS)
    ).all()
    total = session.scalar(
        repo.select(func.count(func.distinct(am.author))).where(am.alert_id == alert_id)
    )
    return [(handle, n) for handle, n in top], int(total or 0)


def _detail_context(
    request: Request, page: PageSession, session: Session, principal: Principal, alert_id: int
) -> dict[str, Any]:
    now = clock_of(request).now()
    item = view(triage.get_alert(session, principal, alert_id, now=now))
    brand_id = session.scalar(
        TenantRepository.of(session, principal, Alert)
        .select(Alert.brand_id)
        .where(Alert.id == alert_id)
    )
    brands = _brands(session, principal)
    top, author_total = _authors(session, principal, alert_id)
    return {
        "section": "alerts",
        "live": True,
        "alert": item,
        "brand_name": brands.get(item["brand"] or "", item["brand"]),
        "chart": alerts_chart.spike_chart(session, principal, item, brand_id),
        "evidence": _evidence(session, principal, alert_id),
        "top_authors": top,
        "author_total": author_total,
        "error": None,
        **labels(request, page),
    }


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request, alert_id: int, page: CurrentPage, session: DbSession
) -> HTMLResponse:
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        context = _detail_context(request, page, session, principal, alert_id)
    except ClameurError:
        _ = translator(request, page)
        return missing(request, page, session, _("This alert"))
    return render(request, "alert.html", context, page=page, session=session)


def _state_context(
    request: Request, page: PageSession, session: Session, principal: Principal, alert_id: int
) -> dict[str, Any]:
    now = clock_of(request).now()
    item = view(triage.get_alert(session, principal, alert_id, now=now))
    return {"alert": item, "error": None, **labels(request, page)}


@router.get("/alerts/{alert_id}/state", response_class=HTMLResponse)
def alert_state(
    request: Request, alert_id: int, page: CurrentPage, session: DbSession
) -> HTMLResponse:
    """The alert's handling and its buttons: what the page fetches again on
    ``sse:alerts``, and what an action answers to htmx."""
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        context = _state_context(request, page, session, principal, alert_id)
    except ClameurError as exc:
        return refusal(request, page, session, exc, back="/alerts")
    return render(request, "alerts/_state.html", context, page=page, session=None)


def _act(
    request: Request,
    page: PageSession,
    session: Session,
    alert_id: int,
    form_token: str,
    action: str,
    **values: Any,
) -> Response:
    back = f"/alerts/{alert_id}"
    if not csrf_valid(request, page, form_token):
        return bad_token(request, page, session, back=back)
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    now = clock_of(request).now()
    _ = translator(request, page)
    try:
        if action == "acknowledge":
            triage.acknowledge(session, now, principal, alert_id)
            message = _("Alert acknowledged.")
        elif action == "mute":
            hours = values["hours"]
            triage.mute(session, now, principal, alert_id, hours)
            message = _("Alert muted for %(hours)s h: no notification until then.", hours=hours)
        else:
            triage.resolve(session, now, principal, alert_id, note=values.get("note") or None)
            message = _("Alert resolved.")
        context = _state_context(request, page, session, principal, alert_id)
    except ClameurError as exc:
        return refusal(request, page, session, exc, back=back)
    return done(
        request,
        page,
        session,
        back=back,
        message=message,
        fragment="alerts/_state.html",
        context=context,
    )


Token = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


@router.post("/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
def acknowledge(
    request: Request, alert_id: int, page: CurrentPage, session: DbSession, csrf_token: Token = ""
) -> Response:
    return _act(request, page, session, alert_id, csrf_token, "acknowledge")


@router.post("/alerts/{alert_id}/mute", response_class=HTMLResponse)
def mute(
    request: Request,
    alert_id: int,
    page: CurrentPage,
    session: DbSession,
    hours: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Token = "",
) -> Response:
    if not csrf_valid(request, page, csrf_token):
        return bad_token(request, page, session, back=f"/alerts/{alert_id}")
    chosen = int(hours) if hours.isdigit() else 0
    if chosen not in MUTE_HOURS:
        _ = translator(request, page)
        message = _("Choose how long to mute the alert.")
        back = f"/alerts/{alert_id}"
        return refused(request, page, session, status_code=422, message=message, back=back)
    return _act(request, page, session, alert_id, csrf_token, "mute", hours=chosen)


@router.post("/alerts/{alert_id}/resolve", response_class=HTMLResponse)
def resolve(
    request: Request,
    alert_id: int,
    page: CurrentPage,
    session: DbSession,
    note: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Token = "",
) -> Response:
    return _act(request, page, session, alert_id, csrf_token, "resolve", note=note.strip())


router.include_router(campaigns.router)

__all__ = ["router"]
