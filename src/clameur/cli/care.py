"""``clameur conversations …`` and ``clameur user add``: care and people from the shell."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from clameur.cli.output import emit_json
from clameur.cli.runtime import Runtime
from clameur.clock import SystemClock
from clameur.db import session_scope
from clameur.tenancy import get_tenant, get_user

conversations_app = typer.Typer(help="Conversations: list and script care.", no_args_is_help=True)


@conversations_app.command("list")
def conversations_list_command(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    status: Annotated[
        str | None, typer.Option("--status", help="open, pending, waiting, escalated, resolved…")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON array of {id, status, priority, source, author, mentions, "
            "incident, flags}.",
        ),
    ] = False,
) -> None:
    """The tenant's conversations, most urgent first."""
    from clameur.care.inbox import conversations_list

    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        found = conversations_list(session, get_tenant(session, tenant).id, status=status)
    if as_json:
        emit_json(found)
        return
    for c in found:
        flags = f" [{', '.join(c['flags'])}]" if c["flags"] else ""
        typer.echo(
            f"#{c['id']:<6} {c['status']:<10} {c['priority'] or '-':<3} {c['source']:<9} "
            f"@{c['author']:<20} {len(c['mentions']):>3} mention(s){flags}"
        )
    typer.echo(f"{len(found)} conversation(s)", err=True)


def _actor(session: Session, email: str | None) -> int | None:
    return get_user(session, email).id if email else None


ActorOption = Annotated[
    str | None, typer.Option("--as", help="E-mail of the user acting (written to the audit log).")
]


@conversations_app.command("show")
def conversation_show(
    conversation_id: Annotated[int, typer.Argument(help="Conversation id.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
) -> None:
    """One conversation with its timeline, as JSON."""
    from clameur.care import conversations

    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        tenant_id = get_tenant(session, tenant).id
        c = conversations.get(session, tenant_id, conversation_id)
        emit_json(
            {
                "id": c.id,
                "status": c.status,
                "custom_status": c.custom_status,
                "priority": c.priority_level,
                "source": c.source,
                "queue_id": c.queue_id,
                "assignee_id": c.assignee_id,
                "incident": c.incident_id,
                "flags": c.flags,
                "tags": c.tags,
                "sla": c.sla,
                "timeline": [
                    {"at": e.at.isoformat(), "kind": e.kind, "actor_id": e.actor_id, "data": e.data}
                    for e in conversations.timeline(session, tenant_id, c.id)
                ],
            }  # fmt: skip
        )


def _act(
    tenant: str, actor: str | None, action: Callable[[Session, int, int | None], object]
) -> None:
    """Run one agent action in its own transaction, as ``actor`` (audited), in ``tenant``."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        action(session, get_tenant(session, tenant).id, _actor(session, actor))


@conversations_app.command("status")
def conversation_status(
    conversation_id: Annotated[int, typer.Argument(help="Conversation id.")],
    status: Annotated[str, typer.Argument(help="A standard status or the tenant's own label.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    actor: ActorOption = None,
) -> None:
    """Change a conversation's status (SLA clocks pause, resume or stop accordingly)."""
    from clameur.care import conversations

    _act(tenant, actor, lambda session, tenant_id, who: conversations.set_status(
        session, tenant_id, conversation_id, status, actor_id=who, at=SystemClock().now()
    ))  # fmt: skip
    typer.echo(f"conversation {conversation_id}: {status}", err=True)


@conversations_app.command("note")
def conversation_note(
    conversation_id: Annotated[int, typer.Argument(help="Conversation id.")],
    text: Annotated[str, typer.Argument(help="The note; @colleague mentions them.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    actor: ActorOption = None,
) -> None:
    """Add an internal note (never sent to the customer)."""
    from clameur.care import conversations

    _act(tenant, actor, lambda session, tenant_id, who: conversations.add_note(
        session, tenant_id, conversation_id, text, actor_id=who, at=SystemClock().now()
    ))  # fmt: skip
    typer.echo(f"note added to conversation {conversation_id}", err=True)
