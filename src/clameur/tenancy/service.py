"""Tenants and brands: creation and lookup."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.clock import Clock
from clameur.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clameur.tenancy.models import Brand, Tenant

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def check_slug(slug: str, what: str) -> str:
    if not _SLUG.match(slug):
        raise InvalidInputError(
            f"{what} slug {slug!r} must be 1–63 lower-case letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return slug


def add_tenant(session: Session, clock: Clock, slug: str, name: str) -> Tenant:
    check_slug(slug, "tenant")
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise AlreadyExistsError(f"tenant {slug!r} exists already")
    tenant = Tenant(slug=slug, name=name.strip() or slug, created_at=clock.now(), settings={})
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFoundError(f"tenant {slug!r} not found (create it with `clameur tenant add`)")
    return tenant


def get_brand(session: Session, tenant_id: int, slug: str) -> Brand:
    brand = session.scalars(
        select(Brand).where(Brand.tenant_id == tenant_id, Brand.slug == slug)
    ).one_or_none()
    if brand is None:
        raise NotFoundError(f"no brand {slug!r} in this tenant")
    return brand


def list_tenants(session: Session) -> Sequence[Tenant]:
    return session.scalars(select(Tenant).order_by(Tenant.slug)).all()


def add_brand(
    session: Session, clock: Clock, tenant: Tenant, slug: str, name: str, queries: Sequence[str]
) -> Brand:
    check_slug(slug, "brand")
    exists = select(Brand.id).where(Brand.tenant_id == tenant.id, Brand.slug == slug)
    if session.scalar(exists) is not None:
        raise AlreadyExistsError(f"brand {slug!r} exists already in tenant {tenant.slug!r}")
    cleaned = check_queries(queries)
    brand = Brand(
        tenant_id=tenant.id,
        slug=slug,
        name=name.strip() or slug,
        queries=cleaned,
        created_at=clock.now(),
    )
    session.add(brand)
    session.flush()
    return brand


class QueryError(InvalidInputError):
    """A brand query that does not parse: which one (``index``, 0-based among the queries
    given) and where in it (``column``, 1-based, when the parser knows)."""

    def __init__(self, reason: str, *, index: int, column: int | None) -> None:
        super().__init__(reason)
        self.index = index
        self.column = column


def check_queries(queries: Sequence[str]) -> list[str]:
    """Parse every query; the first malformed one is refused with its position."""
    from clameur.listening.query import QuerySyntaxError, parse

    for index, query in enumerate(queries):
        if not query.strip():
            continue
        try:
            parse(query.strip())
        except QuerySyntaxError as exc:
            raise QueryError(
                f"query {index + 1} ({query.strip()!r}): {exc}",
                index=index,
                column=exc.column,
            ) from None
    return [q.strip() for q in queries if q.strip()]


def update_brand(
    session: Session,
    tenant_id: int,
    slug: str,
    *,
    name: str | None = None,
    queries: Sequence[str] | None = None,
) -> Brand:
    """Rename a brand or replace its queries (checked first: nothing changes on an error)."""
    brand = get_brand(session, tenant_id, slug)
    cleaned = check_queries(queries) if queries is not None else None
    if name is not None:
        brand.name = name.strip() or brand.slug
    if cleaned is not None:
        brand.queries = cleaned
    session.flush()
    return brand


def delete_brand(session: Session, tenant_id: int, slug: str) -> Brand:
    """Remove a brand: its rules and mention links go with it; alerts and conversations
    stay, without a brand."""
    brand = get_brand(session, tenant_id, slug)
    session.delete(brand)
    session.flush()
    return brand


def list_brands(session: Session, tenant_id: int | None = None) -> Sequence[Brand]:
    stmt = select(Brand).order_by(Brand.tenant_id, Brand.slug)
    if tenant_id is not None:
        stmt = stmt.where(Brand.tenant_id == tenant_id)
    return session.scalars(stmt).all()
