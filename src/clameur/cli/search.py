"""``clameur search``: archive search in the query language."""

from __future__ import annotations

from typing import Annotated

import typer

from clameur.cli.output import emit_json, safe
from clameur.cli.runtime import Runtime
from clameur.db import session_scope
from clameur.errors import InvalidInputError
from clameur.listening import describe_query_error, search
from clameur.listening.query import QuerySyntaxError
from clameur.tenancy import get_tenant


def search_command(
    query: Annotated[
        str,
        typer.Argument(
            help="A listening query (docs/queries.md). Put `--` before a query that starts "
            "with '-'."
        ),
    ],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most N matches (default: every match).")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print a JSON array of {source, external_id, created_at, text}."
        ),
    ] = False,
) -> None:
    """The tenant's stored mentions that match QUERY, newest first."""
    if limit is not None and limit < 1:
        raise InvalidInputError(f"must be at least 1, got {limit}", where="--limit")
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        owner = get_tenant(session, tenant)
        try:
            found = search(session, owner.id, query, limit=limit)
        except QuerySyntaxError as exc:
            raise InvalidInputError(describe_query_error(exc), where="query") from None
    if as_json:
        emit_json([hit.contract() for hit in found.hits])
        return
    for hit in found.hits:
        body = " ".join(hit.text.split())
        body = safe(body if len(body) <= 100 else body[:99] + "…")
        stamp = hit.created_at.strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{stamp}  {safe(hit.source):<9} {safe(hit.external_id):<12} {body}")
    more = " (more with a higher --limit)" if found.next_cursor else ""
    typer.echo(f"{len(found.hits)} mention(s){more}", err=True)
