"""Each user's preferences: the interface language and the time zone of dates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from clameur.errors import ForbiddenError
from clameur.tenancy.audit import audit
from clameur.web import i18n
from clameur.web.auth import CSRF_FIELD, CurrentPage, check_csrf, clock_of, page_session
from clameur.web.deps import db_session
from clameur.web.pages.common import forbidden, language, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

DbSession = Annotated[Session, Depends(db_session, scope="function")]

COMMON_ZONES = (
    "Europe/Paris",
    "Europe/Brussels",
    "Europe/Zurich",
    "Europe/London",
    "Europe/Lisbon",
    "Africa/Casablanca",
    "Africa/Tunis",
    "Africa/Dakar",
    "Africa/Abidjan",
    "Indian/Reunion",
    "Indian/Mauritius",
    "America/Martinique",
    "America/Guadeloupe",
    "America/Cayenne",
    "America/Montreal",
    "America/New_York",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "Asia/Tokyo",
    "UTC",
)
"""Offered first (a contact centre's usual places); every IANA zone follows."""


def _form(
    request: Request, page: CurrentPage, session: Session, *, saved: bool, error: str | None
) -> HTMLResponse:
    zones = [z for z in i18n.timezone_names() if z not in COMMON_ZONES]
    context = {
        "section": "preferences",
        "languages": i18n.LANGUAGE_NAMES,
        "chosen_lang": page.user.locale or "",
        "chosen_zone": page.user.timezone or i18n.DEFAULT_TIMEZONE,
        "common_zones": COMMON_ZONES,
        "zones": zones,
        "saved": saved,
        "error": error,
        "browser_lang": language(request),
    }
    status = 422 if error else 200
    return render(
        request, "preferences.html", context, page=page, session=session, status_code=status
    )


@router.get("/preferences", response_class=HTMLResponse)
def preferences(
    request: Request, page: CurrentPage, session: DbSession, saved: bool = False
) -> HTMLResponse:
    return _form(request, page, session, saved=saved, error=None)


@router.post("/preferences", response_class=HTMLResponse)
def save_preferences(
    request: Request,
    page: CurrentPage,
    session: DbSession,
    locale: Annotated[str, Form(max_length=8)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    try:
        check_csrf(request, page.csrf_token, csrf_token)
    except ForbiddenError:
        return forbidden(request, page, session)
    _ = i18n.gettext_for(language(request, page.user))
    if locale and locale not in i18n.LANGUAGES:
        return _form(request, page, session, saved=False, error=_("Choose a language."))
    if timezone and not i18n.valid_timezone(timezone):
        return _form(request, page, session, saved=False, error=_("Choose a time zone."))
    user = page.user
    user.locale = locale or None
    user.timezone = timezone or None
    if page.principal is not None:
        audit(
            session,
            tenant_id=page.principal.tenant_id,
            at=clock_of(request).now(),
            actor_id=user.id,
            action="user.preferences",
            object_type="user",
            object_id=user.id,
            data={"locale": user.locale, "timezone": user.timezone},
        )
    return RedirectResponse("/preferences?saved=1", status_code=303)
