"""Load the demo data set: tenants, brands, then generated mentions through ``import``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from clameur.db import session_scope
from clameur.demo.accounts import DemoAccounts, ensure_demo_users
from clameur.demo.generator import DEMO_TENANTS, generate_mentions, write_jsonl
from clameur.pipeline import ImportResult, Pipeline
from clameur.tenancy import Tenant, add_brand, add_tenant, get_tenant, list_brands

__all__ = ["DemoAccounts", "ensure_demo_tenants", "ensure_demo_users", "load_demo"]


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


def load_demo(pipeline: Pipeline, workdir: Path, *, count: int, seed: int) -> ImportResult:
    ensure_demo_tenants(pipeline)
    path = workdir / "demo-mentions.jsonl"
    write_jsonl(path, generate_mentions(count=count, seed=seed))
    return pipeline.import_file(path)
