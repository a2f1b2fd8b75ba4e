"""Canned replies: the team's and one's own (list, create). Typing ``/shortcode`` in a reply
is expanded by ``POST /conversations/{id}/expand``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care.canned import (
    MAX_TEXT,
    add_canned_reply,
    list_canned_replies,
    template_variables,
)
from clameur.care.models import CannedReply
from clameur.tenancy.models import Brand
from clameur.tenancy.principal import Principal
from clameur.tenancy.service import get_brand
from clameur.web.api_v1.common import ClockDep, SessionDep, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["canned replies"])


class CannedOut(BaseModel):
    id: int
    name: str
    text: str = Field(description="A template: {name}, {handle}, {brand}, {agent}…")
    lang: str
    brand: str | None = Field(description="A brand's slug; null: every brand.")
    shortcode: str | None = Field(description="Typed as /shortcode in a reply.")
    personal: bool = Field(description="One's own (nobody else sees it), or the team's.")
    tags: list[str]
    variables: list[str]


class CannedIn(BaseModel):
    name: str = Field(max_length=100)
    text: str = Field(max_length=MAX_TEXT)
    lang: str = Field(max_length=12, description="An ISO 639-1 code, e.g. fr or fr-CA.")
    brand: str | None = Field(None, max_length=63, description="A brand's slug; null: all.")
    shortcode: str | None = Field(None, max_length=33, description="[a-z0-9_-]{1,32}.")
    personal: bool = Field(
        False, description="One's own (any agent); the team's needs canned.manage."
    )
    tags: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=20)


def _out(session: Session, principal: Principal, rows: list[CannedReply]) -> list[CannedOut]:
    ids = {r.brand_id for r in rows if r.brand_id is not None}
    slugs: dict[int, str] = {}
    if ids:
        found = session.execute(select(Brand.id, Brand.slug).where(Brand.id.in_(ids)))
        slugs = {brand_id: slug for brand_id, slug in found}
    return [
        CannedOut(
            id=r.id,
            name=r.name,
            text=r.text,
            lang=r.lang,
            brand=slugs.get(r.brand_id) if r.brand_id is not None else None,
            shortcode=r.shortcode,
            personal=r.owner_id is not None,
            tags=list(r.tags or []),
            variables=template_variables(r.text),
        )
        for r in rows
    ]


@router.get(
    "/canned-replies",
    response_model=list[CannedOut],
    summary="The canned replies one may use: one's own first, then the team's",
    **operation("replies.write"),
)
def list_canned(
    session: SessionDep,
    principal: CurrentPrincipal,
    brand: Annotated[str | None, Query(description="A brand's slug.", max_length=63)] = None,
    lang: Annotated[str | None, Query(max_length=12)] = None,
) -> list[CannedOut]:
    brand_id = get_brand(session, principal.tenant_id, brand).id if brand else None
    rows = list_canned_replies(session, principal, brand_id=brand_id, lang=lang)
    return _out(session, principal, rows)


@router.post(
    "/canned-replies",
    response_model=CannedOut,
    status_code=201,
    summary="Add a canned reply: one's own, or (canned.manage) the team's",
    **operation("replies.write", 404, 409),
)
def create_canned(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, body: CannedIn
) -> CannedOut:
    brand_id = get_brand(session, principal.tenant_id, body.brand).id if body.brand else None
    made = add_canned_reply(
        session,
        clock,
        principal,
        name=body.name,
        text=body.text,
        lang=body.lang,
        brand_id=brand_id,
        tags=body.tags,
        shortcode=body.shortcode,
        personal=body.personal,
    )
    (out,) = _out(session, principal, [made])
    return out
