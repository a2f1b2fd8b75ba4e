"""``clameur tenant …`` and ``clameur brand …``."""

from __future__ import annotations

from typing import Annotated

import typer

from clameur.cli.output import emit_json, safe
from clameur.cli.runtime import Runtime
from clameur.clock import SystemClock
from clameur.db import session_scope
from clameur.tenancy import add_brand, add_tenant, get_tenant, list_brands, list_tenants

tenant_app = typer.Typer(help="Tenants: the client companies a BPO serves.", no_args_is_help=True)
brand_app = typer.Typer(
    help="Brands of a tenant and their listening queries.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@tenant_app.command("add")
def tenant_add(
    slug: Annotated[str, typer.Argument(help="Short lower-case identifier, e.g. 'volta'.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        tenant = add_tenant(session, SystemClock(), slug, name)
        out = {"id": tenant.id, "slug": tenant.slug, "name": tenant.name}
    emit_json(out) if as_json else typer.echo(f"tenant {slug!r} created")


@tenant_app.command("list")
def tenant_list(as_json: JsonFlag = False) -> None:
    """List tenants."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        rows = [{"id": t.id, "slug": t.slug, "name": t.name} for t in list_tenants(session)]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        typer.echo(f"{safe(row['slug']):<24} {safe(row['name'])}")


@brand_app.command("add")
def brand_add(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    slug: Annotated[str, typer.Argument(help="Brand slug, unique within the tenant.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    query: Annotated[
        list[str] | None,
        typer.Option("--query", "-q", help="A listening query (repeat for several)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a brand with its listening queries."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        owner = get_tenant(session, tenant)
        brand = add_brand(session, SystemClock(), owner, slug, name, query or [])
        out = {"id": brand.id, "tenant": tenant, "slug": brand.slug, "queries": brand.queries}
    emit_json(out) if as_json else typer.echo(f"brand {slug!r} created in tenant {tenant!r}")


@brand_app.command("list")
def brand_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List brands and their queries."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        tenant_id = get_tenant(session, tenant).id if tenant else None
        slugs = {t.id: t.slug for t in list_tenants(session)}
        rows = [
            {"tenant": slugs[b.tenant_id], "slug": b.slug, "name": b.name, "queries": b.queries}
            for b in list_brands(session, tenant_id)
        ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        queries = safe(" | ".join(row["queries"]))
        typer.echo(f"{safe(row['tenant'])}/{safe(row['slug']):<24} {queries}")
