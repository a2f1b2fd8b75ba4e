"""``clameur conversations …``: care from the shell. Every acting command takes ``--as``
(the user acting, with their role in ``--tenant``): the same services and policy as the
API."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

from clameur.cli.output import emit_json, safe
from clameur.cli.runtime import Runtime
from clameur.clock import SystemClock
from clameur.db import bind_tenant, session_scope
from clameur.errors import InvalidInputError
from clameur.tenancy import Principal, get_tenant, get_user, resolve

if TYPE_CHECKING:
    from clameur.care.channels import ChannelRegistry
    from clameur.care.models import Reply

T = TypeVar("T")

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
        flags = f" [{safe(', '.join(c['flags']))}]" if c["flags"] else ""
        typer.echo(
            f"#{c['id']:<6} {safe(c['status']):<10} {safe(c['priority'] or '-'):<3} "
            f"{safe(c['source']):<9} @{safe(c['author']):<20} {len(c['mentions']):>3} "
            f"mention(s){flags}"
        )
    typer.echo(f"{len(found)} conversation(s)", err=True)


def principal(session: Session, tenant: str, email: str) -> Principal:
    """Who acts in a command: the user ``email`` with their role in ``tenant``; the session
    is bound to that tenant from then on (every ORM read of tenant-owned rows is scoped)."""
    actor = resolve(session, get_user(session, email), get_tenant(session, tenant), via="cli")
    bind_tenant(session, actor.tenant_id)
    return actor


TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug.")]
ActorOption = Annotated[
    str,
    typer.Option("--as", help="E-mail of the user acting (their role in the tenant applies)."),
]


@conversations_app.command("show")
def conversation_show(
    conversation_id: Annotated[int, typer.Argument(help="Conversation id.")],
    tenant: TenantOption,
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
            }
        )


def _act(tenant: str, actor: str, action: Callable[[Session, Principal], T]) -> T:
    """Run one action in its own transaction, as ``actor`` in ``tenant`` (audited)."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        return action(session, principal(session, tenant, actor))


def _channels() -> ChannelRegistry:
    """The channels replies leave through: what each network allows (visibility)."""
    return Runtime.load().channels


@conversations_app.command("status")
def conversation_status(
    conversation_id: Annotated[int, typer.Argument(help="Conversation id.")],
    status: Annotated[str, typer.Argument(help="A standard status or the tenant's own label.")],
    tenant: TenantOption,
    actor: ActorOption,
) -> None:
    """Change a conversation's status (SLA clocks pause, resume or stop accordingly)."""
    from clameur.care import conversations

    _act(
        tenant,
        actor,
        lambda session, who: conversations.set_status(
            session, who, conversation_id, status, at=SystemClock().now()
        ),
    )
    typer.echo(f"conversation {conversation_id}: {status}", err=True)


@conversations_app.command("note")
def conversation_note(
    conversation_id: Annotated[int, typer.Argument(help="Conversation id.")],
    text: Annotated[str, typer.Argument(help="The note; @colleague mentions them.")],
    tenant: TenantOption,
    actor: ActorOption,
) -> None:
    """Add an internal note (never sent to the customer)."""
    from clameur.care import conversations

    _act(
        tenant,
        actor,
        lambda session, who: conversations.add_note(
            session, who, conversation_id, text, at=SystemClock().now()
        ),
    )
    typer.echo(f"note added to conversation {conversation_id}", err=True)


def _reply_out(reply: Reply) -> dict[str, object]:
    return {
        "id": reply.id,
        "conversation_id": reply.conversation_id,
        "status": reply.status,
        "visibility": reply.visibility,
    }


def _on_reply(
    tenant: str, actor: str, as_json: bool, action: Callable[[Session, Principal], Reply]
) -> None:
    """Run a reply action as ``actor`` and print the reply it leaves (id and status)."""
    found = _act(tenant, actor, lambda session, who: _reply_out(action(session, who)))
    if as_json:
        emit_json(found)
    else:
        typer.echo(f"reply {found['id']}: {safe(found['status'])}")


JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print {id, conversation_id, status, visibility}.")
]


@conversations_app.command("reply")
def conversation_reply(
    conversation_id: Annotated[int, typer.Argument(help="Conversation id.")],
    text: Annotated[str, typer.Argument(help="The answer to the customer.")],
    tenant: TenantOption,
    actor: ActorOption,
    public: Annotated[
        bool | None,
        typer.Option(
            "--public/--private",
            help="Answer in public or privately (default: public where the channel allows).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Draft and send a reply: queued for publishing, or pending_approval when a supervisor
    must approve it first. Prints the reply id and its status."""
    from clameur.care import replies

    clock = SystemClock()
    visibility = None if public is None else ("public" if public else "private")
    channels = _channels()

    def reply(session: Session, who: Principal) -> Reply:
        draft = replies.draft_reply(
            session, clock, who, conversation_id, text, visibility=visibility, channels=channels
        )
        return replies.send_reply(session, clock, who, draft.id, channels=channels)

    _on_reply(tenant, actor, as_json, reply)


@conversations_app.command("assign")
def conversation_assign(
    conversation_id: Annotated[int, typer.Argument(help="Conversation id.")],
    tenant: TenantOption,
    actor: ActorOption,
    to: Annotated[str | None, typer.Option("--to", help="E-mail of the user who gets it.")] = None,
    me: Annotated[bool, typer.Option("--me", help="Assign it to yourself.")] = False,
) -> None:
    """Assign a conversation to yourself (--me) or to a colleague (--to; supervisors and
    admins); with neither, give it back to its queue."""
    from clameur.care import routing

    if me and to is not None:
        raise InvalidInputError("give --to or --me, not both", where="to")
    clock = SystemClock()

    def assign(session: Session, who: Principal) -> str:
        target = who.user_id if me else (get_user(session, to).id if to is not None else None)
        routing.assign(session, clock, who, conversation_id, target)
        return who.email if me else (to or "its queue")

    holder = _act(tenant, actor, assign)
    typer.echo(f"conversation {conversation_id}: assigned to {holder}", err=True)


@conversations_app.command("approve")
def conversation_approve(
    reply_id: Annotated[int, typer.Argument(help="Reply id (pending approval).")],
    tenant: TenantOption,
    actor: ActorOption,
    as_json: JsonFlag = False,
) -> None:
    """Approve a reply waiting for approval: it is queued for publishing."""
    from clameur.care import replies

    clock = SystemClock()
    channels = _channels()
    _on_reply(
        tenant,
        actor,
        as_json,
        lambda session, who: replies.approve_reply(
            session, clock, who, reply_id, channels=channels
        ),
    )


@conversations_app.command("reject")
def conversation_reject(
    reply_id: Annotated[int, typer.Argument(help="Reply id (pending approval).")],
    reason: Annotated[str, typer.Argument(help="Why (shown on the conversation's timeline).")],
    tenant: TenantOption,
    actor: ActorOption,
    as_json: JsonFlag = False,
) -> None:
    """Refuse a reply waiting for approval; the agent may edit it and send it anew."""
    from clameur.care import replies

    clock = SystemClock()
    _on_reply(
        tenant,
        actor,
        as_json,
        lambda session, who: replies.reject_reply(session, clock, who, reply_id, reason),
    )
