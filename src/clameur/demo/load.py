"""Load the demo data set: tenants, brands, accounts, the floor's organisation, generated
mentions through ``import``, then the floor at work (:mod:`clameur.demo.floor`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from clameur.db import session_scope
from clameur.demo.accounts import DemoAccounts, ensure_demo_users
from clameur.demo.floor import FloorSummary, prepare_floor, stage_floor
from clameur.demo.generator import DEMO_TENANTS, generate_mentions, write_jsonl
from clameur.mentions import Mention
from clameur.pipeline import ImportResult, Pipeline
from clameur.tenancy import Tenant, add_brand, add_tenant, get_tenant, list_brands

__all__ = [
    "DemoAccounts",
    "LivingDemo",
    "demo_mentions",
    "ensure_demo_tenants",
    "ensure_demo_users",
    "load_demo",
    "load_living_demo",
]


def ensure_demo_tenants(pipeline: Pipeline) -> None:
    """Create the demo tenants and brands that do not exist yet (idempotent)."""
    with session_scope(pipeline.factory) as session:
        for spec in DEMO_TENANTS:
            exists = session.scalar(select(Tenant.id).where(Tenant.slug == spec.slug))
            if exists is None:
                tenant = add_tenant(session, pipeline.clock, spec.slug, spec.name)
            else:
                tenant = get_tenant(session, spec.slug)
            have = {b.slug for b in list_brands(session, tenant.id)}
            for brand in spec.brands:
                if brand.slug not in have:
                    queries = [_as_query(term) for term in brand.queries]
                    add_brand(session, pipeline.clock, tenant, brand.slug, brand.name, queries)


def _as_query(term: str) -> str:
    """A demo brand term in the query language: a name of several words is a phrase."""
    return f'"{term}"' if " " in term else term


def load_demo(
    pipeline: Pipeline, workdir: Path, *, count: int, seed: int, end: datetime | None = None
) -> ImportResult:
    """Generate and import the demo mentions: in the generator's fixed week, or in the week
    ending at ``end`` (the living demo passes the clock's now)."""
    ensure_demo_tenants(pipeline)
    path = workdir / "demo-mentions.jsonl"
    write_jsonl(path, generate_mentions(count=count, seed=seed, end=end))
    return pipeline.import_file(path)


def demo_mentions(pipeline: Pipeline) -> int:
    """How many mentions the demo tenants hold (0: the demo data was never loaded)."""
    slugs = [t.slug for t in DEMO_TENANTS]
    with session_scope(pipeline.factory) as session:
        stmt = (
            select(func.count(Mention.id))
            .join(Tenant, Tenant.id == Mention.tenant_id)
            .where(Tenant.slug.in_(slugs))
        )
        return int(session.scalar(stmt) or 0)


@dataclass(frozen=True, slots=True)
class LivingDemo:
    accounts: DemoAccounts
    floor: FloorSummary
    imported: ImportResult | None
    """None when the demo tenants held mentions already (kept, not imported again)."""
    kept: int = 0
    """Mentions the demo tenants held before (then nothing was imported)."""


def load_living_demo(
    pipeline: Pipeline,
    workdir: Path,
    *,
    count: int,
    seed: int,
    password: str | None = None,
) -> LivingDemo:
    """``clameur demo``: tenants, accounts and the floor's organisation; the demo mentions of
    the week ending now (``pipeline.clock``), unless the demo tenants hold mentions already
    (the mentions, their dates and the floor are kept: nothing is duplicated); then the
    floor at work. Idempotent."""
    ensure_demo_tenants(pipeline)
    accounts = ensure_demo_users(pipeline, password=password)
    prepare_floor(pipeline, accounts)
    kept = demo_mentions(pipeline)
    imported = None
    if not kept:
        end = pipeline.clock.now()
        imported = load_demo(pipeline, workdir, count=count, seed=seed, end=end)
    floor = stage_floor(pipeline, accounts)
    return LivingDemo(accounts=accounts, floor=floor, imported=imported, kept=kept)
