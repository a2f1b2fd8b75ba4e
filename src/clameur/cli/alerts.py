"""``clameur alerts`` (what detection raised) and ``clameur alert-rule`` (how it alerts)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from clameur.cli.output import emit_json, safe
from clameur.cli.runtime import Runtime
from clameur.clock import SystemClock
from clameur.db import session_scope
from clameur.detection import alerts_of, load_rules, set_rule
from clameur.errors import InvalidInputError
from clameur.tenancy import get_brand, get_tenant

rule_app = typer.Typer(
    help="Alert rules: thresholds, quiet hours, recipients.", no_args_is_help=True
)


def alerts_command(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON array of {kind, severity, triggered_at (when the detector "
            "had the evidence), started_at (the first member's time), brand, summary, "
            "evidence: {mentions, authors, …}}.",
        ),
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N alerts.")] = None,
) -> None:
    """Alerts raised for a tenant, oldest first (triggered_at is event time: that of the
    mention whose arrival raised the alert; started_at that of the first member)."""
    if limit is not None and limit < 1:
        raise InvalidInputError(f"must be at least 1, got {limit}", where="--limit")
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        found = alerts_of(session, get_tenant(session, tenant).id, limit=limit)
    if as_json:
        emit_json(found)
        return
    for alert in found:
        stamp = alert["triggered_at"][:16].replace("T", " ")
        brand = safe(alert["brand"] or "-")
        summary = safe(" ".join(alert["summary"].split())[:100])
        typer.echo(
            f"{stamp}  {safe(alert['severity']):<8} {safe(alert['kind']):<15} {brand:<12} "
            f"{alert['count']:>5}  {summary}"
        )
    typer.echo(f"{len(found)} alert(s)", err=True)


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(f"expected NAME=VALUE, got {pair!r}", where="setting")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare word: a string
        out[name.strip()] = value
    return out


@rule_app.command("set")
def rule_set(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    settings: Annotated[
        list[str],
        typer.Argument(
            help="NAME=VALUE pairs; VALUE is JSON or a bare word, e.g. min_count=12 "
            "emails='[\"ops@brand.example\"]' quiet_hours='[22, 7]'."
        ),
    ],
    brand: Annotated[
        str | None, typer.Option("--brand", help="Only this brand (default: the whole tenant).")
    ] = None,
) -> None:
    """Override alert rule settings for a tenant or one of its brands (checked before saving)."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        owner = get_tenant(session, tenant)
        brand_id = get_brand(session, owner.id, brand).id if brand else None
        set_rule(session, owner.id, brand_id, _parse_settings(settings), SystemClock().now())
    typer.echo(f"alert rule saved for {tenant}{'/' + brand if brand else ''}", err=True)


@rule_app.command("show")
def rule_show(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    brand: Annotated[str | None, typer.Option("--brand", help="A brand of the tenant.")] = None,
) -> None:
    """The effective rules (defaults, then the tenant's, then the brand's), as JSON."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        owner = get_tenant(session, tenant)
        brand_id = get_brand(session, owner.id, brand).id if brand else None
        emit_json(load_rules(session, owner.id).for_brand(brand_id).as_dict())
