"""The tenant overview (latest alerts and mentions) and the tenant switcher.

Every route here sits behind the session (the router's dependency), and reads only the
tenant of the request's principal: a tenant the user holds no role in answers the same
404 as a tenant that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.db.repository import TenantRepository
from clameur.detection.models import Alert
from clameur.errors import ForbiddenError, NotFoundError
from clameur.mentions import Author, Mention
from clameur.reports.dashboard import dashboard
from clameur.tenancy import Brand, MentionBrand, Tenant, authorize
from clameur.tenancy.auth import switch_tenant
from clameur.tenancy.principal import Principal, resolve
from clameur.web import i18n
from clameur.web.auth import CSRF_FIELD, CurrentPage, check_csrf, clock_of, page_session
from clameur.web.deps import db_session
from clameur.web.pages.common import forbidden, render, working_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])
"""Everything behind sign-in: pages and fragments alike go on this router."""

PAGE = 20
ALERTS = 8
"""Latest alerts (incidents) shown above the mentions."""


def _not_found(request: Request, page: CurrentPage, session: Session, what: str) -> HTMLResponse:
    return render(
        request, "not_found.html", {"what": what}, status_code=404, page=page, session=session
    )


def _overview(
    request: Request, page: CurrentPage, session: Session, principal: Principal, number: int
) -> HTMLResponse:
    authorize(principal, "mentions.read")
    authorize(principal, "alerts.read")
    tenant = session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    rows = session.execute(
        TenantRepository(session, tenant.id, Mention)
        .select(Mention, Author)
        .join(Author, Author.id == Mention.author_id)
        .order_by(Mention.created_at.desc(), Mention.id.desc())
        .limit(PAGE + 1)
        .offset((number - 1) * PAGE)
    ).all()
    mention_ids = [m.id for m, _ in rows]
    brands: dict[int, list[str]] = {}
    for mention_id, name in session.execute(
        TenantRepository(session, tenant.id, MentionBrand)
        .select(MentionBrand.mention_id, Brand.name, steer=False)
        .join(Brand, Brand.id == MentionBrand.brand_id)
        .where(MentionBrand.mention_id.in_(mention_ids))
    ):
        brands.setdefault(mention_id, []).append(name)
    items: list[dict[str, Any]] = [
        {"mention": m, "author": a, "brands": brands.get(m.id, [])} for m, a in rows[:PAGE]
    ]
    alerts = session.execute(
        TenantRepository(session, tenant.id, Alert)
        .select(Alert, Brand.name)
        .join(Brand, Brand.id == Alert.brand_id, isouter=True)
        .order_by(Alert.updated_at.desc(), Alert.id.desc())
        .limit(ALERTS)
    ).all()
    context = {
        "tenant": tenant,
        "role": principal.role,
        "alerts": [{"alert": alert, "brand": brand} for alert, brand in alerts],
        "items": items,
        "page_number": number,
        "has_next": len(rows) > PAGE,
        "figures": dashboard(
            session, tenant.id, clock_of(request).now(), i18n.zone(page.user.timezone)
        ),
        "section": "dashboard",
    }
    return render(request, "mentions.html", context, page=page, session=session)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    page: CurrentPage,
    session: Annotated[Session, Depends(db_session, scope="function")],
    number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """The overview of the tenant the session works in: figures, alerts, latest mentions."""
    found = working_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    return _overview(request, found, session, found.principal, number)


@router.get("/t/{slug}", response_class=HTMLResponse)
def tenant_overview(
    request: Request,
    slug: str,
    page: CurrentPage,
    session: Annotated[Session, Depends(db_session, scope="function")],
    number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    try:
        if tenant is None:
            raise NotFoundError(slug)
        principal = resolve(session, page.user, tenant, via="session", session_id=page.row.id)
    except NotFoundError:
        return _not_found(request, page, session, slug)
    return _overview(request, page, session, principal, number)


@router.post("/switch", response_class=HTMLResponse)
def switch(
    request: Request,
    page: CurrentPage,
    session: Annotated[Session, Depends(db_session, scope="function")],
    tenant: Annotated[str, Form(max_length=63)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    try:
        check_csrf(request, page.csrf_token, csrf_token)
    except ForbiddenError:
        return forbidden(request, page, session)
    try:
        switch_tenant(session, page.row, page.user, tenant)
    except NotFoundError:
        return _not_found(request, page, session, tenant)
    return RedirectResponse("/", status_code=303)
