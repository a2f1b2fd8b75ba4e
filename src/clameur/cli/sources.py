"""``clameur source …`` (connector instances) and ``clameur poll`` (run them once)."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer

from clameur.cli.output import emit_json, fail, safe
from clameur.cli.runtime import Runtime
from clameur.clock import SystemClock
from clameur.db import session_scope
from clameur.errors import InvalidInputError
from clameur.sources import connector
from clameur.sources.schedule import Poller, PollOutcome
from clameur.sources.service import (
    add_source,
    describe,
    get_source,
    list_sources,
    prepare_secrets,
    set_enabled,
)
from clameur.tenancy import get_tenant

source_app = typer.Typer(
    help="Sources: the connectors (RSS/Atom, webhook, IMAP, web pages…) a tenant listens on.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
SECRET_ENV = "CLAMEUR_SOURCE_SECRET_"  # noqa: S105 - a variable name prefix


def _options(pairs: list[str] | None) -> dict[str, Any]:
    """``k=v`` pairs; a value that reads as JSON (number, true, a list…) is taken as such."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"expected key=value, not {pair!r}", where="--option")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        out[key.strip()] = value
    return out


def _secrets(names: list[str] | None) -> dict[str, str]:
    """Each named secret from ``CLAMEUR_SOURCE_SECRET_<NAME>``, else a hidden prompt."""
    out: dict[str, str] = {}
    for name in names or []:
        env = SECRET_ENV + name.upper()
        value = os.environ.get(env)
        if value is None:
            if not sys.stdin.isatty():
                raise InvalidInputError(f"set {env} or run in a terminal", where=f"secret {name}")
            value = typer.prompt(f"{name}", hide_input=True)
        if not value:
            raise InvalidInputError("empty", where=f"secret {name}")
        out[name] = value
    return out


@source_app.command("add")
def source_add(
    tenant: Annotated[str, typer.Argument(help="Tenant slug.")],
    kind: Annotated[str, typer.Argument(help="Connector: rss, webhook, imap, pages…")],
    url: Annotated[str | None, typer.Option("--url", help="What to poll.")] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Unique in the tenant (default: the host).")
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="key=value (repeat).")
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option(
            "--secret", help=f"A secret's name: read from {SECRET_ENV}<NAME> or prompted."
        ),
    ] = None,
    interval: Annotated[
        int | None,
        typer.Option("--interval", help="Seconds between polls (default: the connector's)."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Mention source stamped on items: blog, news, forum…"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a source to a tenant (enabled, polled at once)."""
    runtime = Runtime.load()
    connector(kind)  # an unknown kind fails before any prompt
    given = _secrets(secret)
    secrets = prepare_secrets(kind, given)
    generated = {k: v for k, v in secrets.items() if k not in given}
    clock = SystemClock()
    with session_scope(runtime.ready()) as session:
        row = add_source(
            session,
            clock,
            tenant_id=get_tenant(session, tenant).id,
            kind=kind,
            url=url,
            name=name,
            options=_options(option),
            secrets=secrets,
            interval_seconds=interval,
            source=source,
        )
        out = describe(session, row, clock.now())
    endpoint = getattr(connector(kind), "endpoint", None)
    if callable(endpoint):  # a push source: where the remote sends its mentions
        out["endpoint"] = endpoint(runtime.settings.public_base_url, out["id"])
    if as_json:
        emit_json({**out, "generated_secrets": generated} if generated else out)
        return
    typer.echo(f"source #{out['id']} {safe(out['name'])!r} added ({safe(kind)})")
    if "endpoint" in out:
        typer.echo(f"endpoint: POST {safe(out['endpoint'])}  (signed: docs/connectors.md)")
    for key, value in generated.items():
        typer.echo(f"{safe(key)}: {safe(value)}  (shown once: keep it now)")


@source_app.command("list")
def source_list(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    as_json: JsonFlag = False,
) -> None:
    """The tenant's sources and their health."""
    runtime = Runtime.load()
    now = SystemClock().now()
    with session_scope(runtime.ready()) as session:
        rows = [
            describe(session, row, now)
            for row in list_sources(session, get_tenant(session, tenant).id)
        ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        health = row["health"]
        state = "enabled" if row["enabled"] else "disabled"
        if health["consecutive_failures"]:
            state += f", {health['consecutive_failures']} failure(s)"
        typer.echo(
            f"#{row['id']:<5} {safe(row['name']):<24} {safe(row['kind']):<8} {state:<22} "
            f"{safe(row['url'] or '-')}"
        )
        if health["last_error"]:
            typer.echo(f"       last error: {safe(health['last_error'])}")
    typer.echo(f"{len(rows)} source(s)", err=True)


@source_app.command("show")
def source_show(
    source_id: Annotated[int, typer.Argument(help="Source id.")],
    as_json: JsonFlag = False,
) -> None:
    """One source: configuration (secrets by name only) and health."""
    runtime = Runtime.load()
    now = SystemClock().now()
    with session_scope(runtime.ready()) as session:
        out = describe(session, get_source(session, source_id), now)
    if as_json:
        emit_json(out)
        return
    for key in ("id", "name", "kind", "url", "source", "enabled", "interval_seconds"):
        typer.echo(f"{key}: {safe(out[key])}")
    typer.echo(f"options: {safe(json.dumps(out['options'], ensure_ascii=False))}")
    secrets = ", ".join(f"{name}: set" for name in out["secrets"]) or "none"
    typer.echo(f"secrets: {safe(secrets)}")
    for key, value in out["health"].items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
        typer.echo(f"{key}: {safe('-' if value is None else shown)}")


def _toggle(source_id: int, enabled: bool) -> None:
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        row = set_enabled(session, SystemClock(), source_id, enabled)
        name = row.name
    typer.echo(f"source #{source_id} {safe(name)!r} {'enabled' if enabled else 'disabled'}")


@source_app.command("disable")
def source_disable(source_id: Annotated[int, typer.Argument(help="Source id.")]) -> None:
    """Stop polling a source (its cursor and mentions are kept)."""
    _toggle(source_id, False)


@source_app.command("enable")
def source_enable(source_id: Annotated[int, typer.Argument(help="Source id.")]) -> None:
    """Poll a source again, at once (its backoff forgotten)."""
    _toggle(source_id, True)


def poll_command(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    once: Annotated[bool, typer.Option("--once", help="Poll once, then exit.")] = False,
    every: Annotated[bool, typer.Option("--all", help="Every enabled source, due or not.")] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON array of {source_id, name, kind, status, imported, updated, "
            "unchanged, unmatched, rejected, problems, error, next_run_at}.",
        ),
    ] = False,
) -> None:
    """Run the tenant's due sources once (``serve`` and ``worker`` poll continuously)."""
    if not once:
        raise fail("poll runs with --once (serve and worker poll continuously)")
    runtime = Runtime.load()
    pipeline = runtime.pipeline()
    poller = Poller(
        factory=pipeline.factory,
        settings=runtime.settings,
        clock=pipeline.clock,
        ingest=pipeline.ingest_polled,
    )
    with session_scope(pipeline.factory) as session:
        tenant_id = get_tenant(session, tenant).id
        ids = [row.id for row in list_sources(session, tenant_id) if row.enabled]
    outcomes: list[PollOutcome] = []
    remaining = ids
    while remaining:  # a few at a time: each lease starts when its poll is near
        batch = poller.poll_due(tenant_id=tenant_id, source_ids=remaining, force=every, limit=5)
        if not batch:
            break
        outcomes += batch
        done = {outcome.source_id for outcome in batch}
        remaining = [source_id for source_id in remaining if source_id not in done]
    rows = [outcome.as_dict() for outcome in sorted(outcomes, key=lambda o: o.source_id)]
    if as_json:
        emit_json(rows)
    else:
        _print_outcomes(rows)
    failed = [row for row in rows if row["status"] != "ok"]
    if failed:
        first = failed[0]
        raise fail(
            f"{len(failed)} source(s) failed; #{first['source_id']} {first['name']}: "
            f"{first['error']}"
        )


def _print_outcomes(rows: list[dict[str, Any]]) -> None:
    keys = ("imported", "updated", "unchanged", "unmatched", "rejected")
    for row in rows:
        head = f"#{row['source_id']:<5} {safe(row['name']):<24} {safe(row['status']):<10}"
        if row["status"] == "ok":
            typer.echo(head + " " + " ".join(f"{k}={row[k]}" for k in keys))
        else:
            typer.echo(f"{head} {safe(row['error'])}")
        for problem in row["problems"]:
            typer.echo(f"       {safe(problem['where'])}: {safe(problem['reason'])}")
    typer.echo(f"{len(rows)} source(s) polled", err=True)
