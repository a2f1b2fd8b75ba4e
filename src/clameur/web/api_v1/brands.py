"""Brands and their listening queries: ``/api/v1/brands`` (reading: any role; writing:
``brands.manage``). A query that does not parse is a 422 naming it and the column."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from clameur.db.repository import TenantRepository
from clameur.errors import InvalidInputError
from clameur.tenancy.models import Brand
from clameur.tenancy.service import (
    QueryError,
    add_brand,
    delete_brand,
    get_brand,
    get_tenant,
    update_brand,
)
from clameur.web.api_v1.common import ClockDep, SessionDep, audit_write, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["brands"])

Queries = list[str]


class BrandOut(BaseModel):
    slug: str
    name: str
    queries: list[str] = Field(description="Listening queries (docs/queries.md).")
    created_at: datetime


class BrandList(BaseModel):
    items: list[BrandOut]


class BrandIn(BaseModel):
    slug: str = Field(description="1–63 lower-case letters, digits or '-'.", max_length=63)
    name: str = Field("", max_length=200)
    queries: Queries = Field(default_factory=list, max_length=500)


class BrandPatch(BaseModel):
    name: str | None = Field(None, max_length=200)
    queries: Queries | None = Field(None, max_length=500, description="Replaces every query.")


class BrandQueryError(InvalidInputError):
    """A 422 whose ``errors`` point at the query (``loc`` with its index) and the column."""

    def __init__(self, exc: QueryError) -> None:
        super().__init__(exc.reason)
        self.detail: dict[str, Any] = {
            "loc": ["body", "queries", exc.index],
            "msg": exc.reason,
            "type": "query_syntax",
        }
        if exc.column is not None:
            self.detail["column"] = exc.column


class Brands(TenantRepository[Brand]):
    model = Brand


def brand_out(brand: Brand) -> BrandOut:
    return BrandOut(
        slug=brand.slug, name=brand.name, queries=list(brand.queries), created_at=brand.created_at
    )


def _check(queries: Sequence[str], text_limit: int = 2000) -> None:
    for index, query in enumerate(queries):
        if len(query) > text_limit:
            raise InvalidInputError(
                f"query {index + 1} is longer than {text_limit} characters",
                where=f"queries[{index}]",
            )


@router.get(
    "/brands",
    response_model=BrandList,
    summary="The tenant's brands",
    **operation("brands.read"),
)
def list_brands(session: SessionDep, principal: CurrentPrincipal) -> BrandList:
    brands = Brands.of(session, principal)
    rows = brands.all(brands.select().order_by(Brand.slug))
    return BrandList(items=[brand_out(b) for b in rows])


@router.post(
    "/brands",
    response_model=BrandOut,
    status_code=201,
    summary="Add a brand with its listening queries",
    **operation("brands.manage", 409),
)
def create_brand(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, body: BrandIn
) -> BrandOut:
    _check(body.queries)
    tenant = get_tenant(session, principal.tenant_slug)
    try:
        brand = add_brand(session, clock, tenant, body.slug, body.name, body.queries)
    except QueryError as exc:
        raise BrandQueryError(exc) from None
    data = {"slug": brand.slug, "queries": brand.queries}
    audit_write(session, principal, clock.now(), "brand.add", "brand", brand.id, data)
    return brand_out(brand)


@router.get(
    "/brands/{brand_slug}",
    response_model=BrandOut,
    summary="One brand",
    **operation("brands.read", 404),
)
def show_brand(session: SessionDep, principal: CurrentPrincipal, brand_slug: str) -> BrandOut:
    return brand_out(get_brand(session, principal.tenant_id, brand_slug))


@router.patch(
    "/brands/{brand_slug}",
    response_model=BrandOut,
    summary="Rename a brand or replace its queries",
    **operation("brands.manage", 404),
)
def patch_brand(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    brand_slug: str,
    body: BrandPatch,
) -> BrandOut:
    if body.queries is not None:
        _check(body.queries)
    try:
        brand = update_brand(
            session, principal.tenant_id, brand_slug, name=body.name, queries=body.queries
        )
    except QueryError as exc:
        raise BrandQueryError(exc) from None
    data = {"slug": brand.slug, **body.model_dump(exclude_none=True)}
    audit_write(session, principal, clock.now(), "brand.update", "brand", brand.id, data)
    return brand_out(brand)


@router.delete(
    "/brands/{brand_slug}",
    status_code=204,
    summary="Remove a brand (its alerts and conversations stay, without a brand)",
    **operation("brands.manage", 404),
)
def remove_brand(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, brand_slug: str
) -> Response:
    brand = delete_brand(session, principal.tenant_id, brand_slug)
    audit_write(
        session, principal, clock.now(), "brand.delete", "brand", brand.id, {"slug": brand.slug}
    )
    return Response(status_code=204)
