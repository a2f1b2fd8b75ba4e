"""Campaign review: ``/campaigns/{alert_id}`` shows a suspected coordinated campaign's
cluster side by side (texts, account ages, followers, timing) and lets a supervisor
confirm it (its conversations leave the queues, flagged; the platform gets a CSV report)
or reject it (they go back as ordinary work), through :mod:`clameur.care.campaigns`.

Everyone may look (``campaigns.read``) and download the report; only supervisors and
admins give the verdict (``campaigns.review``). Included by :mod:`.alerts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from clameur.care import campaigns
from clameur.errors import ClameurError
from clameur.tenancy.principal import Principal
from clameur.web.auth import CSRF_FIELD, CurrentPage, PageSession, clock_of, page_session
from clameur.web.pages.alerts_common import (
    DbSession,
    acting_page,
    bad_token,
    csrf_valid,
    missing,
    parse_time,
    refusal,
    translator,
)
from clameur.web.pages.common import N_, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

NEW_ACCOUNT_DAYS = 30
"""An account younger than this when it posted is marked on its card."""
FEW_FOLLOWERS = 20

STRIP_WIDTH, STRIP_HEIGHT = 320.0, 60.0
STRIP_LEFT, STRIP_RIGHT = 12.0, 12.0


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    member: campaigns.CampaignMember


def timing(members: list[campaigns.CampaignMember]) -> list[Dot]:
    """Where each post sits on the cluster's time strip (posts at the same moment stack)."""
    if not members:
        return []
    last = max(m.offset_seconds for m in members) or 1.0
    width = STRIP_WIDTH - STRIP_LEFT - STRIP_RIGHT
    dots: list[Dot] = []
    seen: dict[int, int] = {}
    for m in members:
        x = round(STRIP_LEFT + width * m.offset_seconds / last, 1)
        slot = round(x / 8)
        stacked = seen.get(slot, 0)
        seen[slot] = stacked + 1
        dots.append(Dot(x, round(STRIP_HEIGHT - 20 - 9 * (stacked % 4), 1), m))
    return dots


SIGNALS = (
    ("under_7_days", N_("%(n)s of %(total)s accounts were less than 7 days old")),
    ("under_30_days", N_("%(n)s of %(total)s accounts were less than 30 days old")),
    ("under_20_followers", N_("%(n)s of %(total)s accounts had fewer than 20 followers")),
    ("first_posts", N_("%(n)s of %(total)s posts were their author's first here")),
    ("one_star", N_("%(n)s one-star reviews")),
    ("five_star", N_("%(n)s five-star reviews")),
    ("verified", N_("%(n)s verified accounts")),
)


def signals(request: Request, page: PageSession, found: dict[str, Any]) -> list[str]:
    """The detector's signal counts in words, in the page's language."""
    _ = translator(request, page)
    total = found.get("accounts") or 0
    out = []
    for key, message in SIGNALS:
        n = found.get(key)
        if (
            isinstance(n, int)
            and n > 0
            and not (key == "under_30_days" and n <= (found.get("under_7_days") or 0))
        ):
            out.append(_(message, n=n, total=total))
    return out


def _context(
    request: Request, page: PageSession, session: Session, principal: Principal, alert_id: int
) -> dict[str, Any]:
    now = clock_of(request).now()
    found = campaigns.campaign_view(session, principal, alert_id, now=now)
    alert = dict(found.alert)
    for name in ("triggered_at", "updated_at", "resolved_at", "verdict_at", "acknowledged_at"):
        alert[name] = parse_time(alert.get(name))
    evidence = alert.get("evidence") or {}
    first, last = parse_time(evidence.get("first_at")), parse_time(evidence.get("last_at"))
    if found.members:
        first = first or found.members[0].posted_at
        last = last or found.members[-1].posted_at
    similarity = evidence.get("median_similarity")
    return {
        "section": "alerts",
        "alert": alert,
        "view": found,
        "signals": signals(request, page, found.signals),
        "dots": timing(found.members),
        "strip": {"width": STRIP_WIDTH, "height": STRIP_HEIGHT},
        "first_at": first,
        "last_at": last,
        "span_seconds": (last - first).total_seconds() if first and last else None,
        "similarity": similarity if isinstance(similarity, int | float) else None,
        "accounts": len({m.handle for m in found.members}),
        "new_account_days": NEW_ACCOUNT_DAYS,
        "few_followers": FEW_FOLLOWERS,
        "error": None,
    }


@router.get("/campaigns/{alert_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request, alert_id: int, page: CurrentPage, session: DbSession
) -> HTMLResponse:
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        context = _context(request, page, session, principal, alert_id)
    except ClameurError:
        _ = translator(request, page)
        return missing(request, page, session, _("This campaign"))
    return render(request, "campaign.html", context, page=page, session=session)


def _verdict(
    request: Request,
    page: PageSession,
    session: Session,
    alert_id: int,
    verdict: str,
    note: str,
    form_token: str,
) -> Response:
    back = f"/campaigns/{alert_id}"
    if not csrf_valid(request, page, form_token):
        return bad_token(request, page, session, back=back)
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    decide = campaigns.confirm_campaign if verdict == "confirm" else campaigns.reject_campaign
    try:
        decide(session, clock_of(request), principal, alert_id, note=note.strip() or None)
    except ClameurError as exc:
        return refusal(request, page, session, exc, back=back)
    return RedirectResponse(back, status_code=303)


Note = Annotated[str, Form(max_length=1000)]
Token = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


@router.post("/campaigns/{alert_id}/confirm", response_class=HTMLResponse)
def confirm(
    request: Request,
    alert_id: int,
    page: CurrentPage,
    session: DbSession,
    note: Note = "",
    csrf_token: Token = "",
) -> Response:
    """It is a coordinated campaign: its conversations leave the queues, flagged."""
    return _verdict(request, page, session, alert_id, "confirm", note, csrf_token)


@router.post("/campaigns/{alert_id}/reject", response_class=HTMLResponse)
def reject(
    request: Request,
    alert_id: int,
    page: CurrentPage,
    session: DbSession,
    note: Note = "",
    csrf_token: Token = "",
) -> Response:
    """Genuine customers after all: their conversations go back as ordinary work."""
    return _verdict(request, page, session, alert_id, "reject", note, csrf_token)


@router.get("/campaigns/{alert_id}/report.csv")
def report(request: Request, alert_id: int, page: CurrentPage, session: DbSession) -> Response:
    """The posts of the cluster for the platform's abuse team (CSV-injection safe)."""
    found = acting_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    page, principal = found
    try:
        text = campaigns.campaign_report_csv(session, principal, alert_id)
    except ClameurError:
        _ = translator(request, page)
        return missing(request, page, session, _("This campaign"))
    headers = {
        "Content-Disposition": f'attachment; filename="campaign-{alert_id}.csv"',
        "Cache-Control": "no-store",
    }
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
