"""Server-rendered pages (Jinja2, autoescaped: mention text is untrusted)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clameur.detection.models import Alert
from clameur.errors import NotFoundError
from clameur.mentions import Author, Mention
from clameur.reports import stats
from clameur.tenancy import Brand, MentionBrand, Tenant, get_tenant, list_tenants
from clameur.web.deps import db_session

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "ui" / "templates")


def web_link(url: str | None) -> str | None:
    """An untrusted URL fit for ``href``: http(s) only (no ``javascript:``, ``data:``…)."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


templates.env.filters["web_link"] = web_link
PAGE = 50
ALERTS = 8
"""Latest alerts (incidents) shown above the mentions."""


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: Annotated[Session, Depends(db_session)]) -> HTMLResponse:
    counts = dict(
        session.execute(select(Mention.tenant_id, func.count()).group_by(Mention.tenant_id)).all()
    )
    tenants = [(t, counts.get(t.id, 0)) for t in list_tenants(session)]
    return templates.TemplateResponse(request, "home.html", {"tenants": tenants})


@router.get("/t/{slug}", response_class=HTMLResponse)
def tenant_mentions(
    request: Request,
    slug: str,
    session: Annotated[Session, Depends(db_session)],
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    try:
        tenant: Tenant = get_tenant(session, slug)
    except NotFoundError:
        return templates.TemplateResponse(
            request, "not_found.html", {"what": f"tenant {slug}"}, status_code=404
        )
    rows = session.execute(
        select(Mention, Author)
        .join(Author, Author.id == Mention.author_id)
        .where(Mention.tenant_id == tenant.id)
        .order_by(Mention.created_at.desc(), Mention.id.desc())
        .limit(PAGE + 1)
        .offset((page - 1) * PAGE)
    ).all()
    mention_ids = [m.id for m, _ in rows]
    brands: dict[int, list[str]] = {}
    for mention_id, name in session.execute(
        select(MentionBrand.mention_id, Brand.name)
        .join(Brand, Brand.id == MentionBrand.brand_id)
        .where(MentionBrand.mention_id.in_(mention_ids))
    ):
        brands.setdefault(mention_id, []).append(name)
    items: list[dict[str, Any]] = [
        {"mention": m, "author": a, "brands": brands.get(m.id, [])} for m, a in rows[:PAGE]
    ]
    alerts = session.execute(
        select(Alert, Brand.name)
        .join(Brand, Brand.id == Alert.brand_id, isouter=True)
        .where(Alert.tenant_id == tenant.id)
        .order_by(Alert.updated_at.desc(), Alert.id.desc())
        .limit(ALERTS)
    ).all()
    context = {
        "tenant": tenant,
        "alerts": [{"alert": alert, "brand": brand} for alert, brand in alerts],
        "items": items,
        "page": page,
        "has_next": len(rows) > PAGE,
        "stats": stats(session, tenant.id),
    }
    return templates.TemplateResponse(request, "mentions.html", context)
