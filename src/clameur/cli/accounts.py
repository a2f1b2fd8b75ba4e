"""``clameur user …``, ``clameur token …`` and ``clameur audit``: people, API tokens, the
audit log."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from clameur.cli.output import emit_json, safe
from clameur.cli.runtime import Runtime
from clameur.clock import SystemClock
from clameur.db import session_scope
from clameur.errors import InvalidInputError
from clameur.tenancy import ROLES, add_member, get_tenant, get_user, members
from clameur.tenancy import auth as tenancy_auth
from clameur.tenancy.accounts import add_user, find_user, revoke, set_password
from clameur.tenancy.audit import audit, entries
from clameur.tenancy.passwords import check_new_password

user_app = typer.Typer(
    help="Users: agents, supervisors, admins, client viewers, operators.", no_args_is_help=True
)
token_app = typer.Typer(help="API tokens (one user, one tenant).", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _password(new_user: bool) -> str | None:
    password = os.environ.get("CLAMEUR_PASSWORD")
    if password is None and new_user:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if password is not None:
        check_new_password(password)
    return password


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(help="The user's e-mail (their login).")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="The tenant where they get the role.")
    ] = None,
    role: Annotated[str | None, typer.Option("--role", help=" | ".join(ROLES))] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    operator: Annotated[
        bool,
        typer.Option("--operator", help="The contact centre's own admin: manages tenants."),
    ] = False,
) -> None:
    """Add a user, or give an existing user a role in one more tenant. A new user's password
    comes from CLAMEUR_PASSWORD or a prompt (12 characters at least, not a common one)."""
    if (tenant is None) != (role is None):
        raise InvalidInputError("give --tenant and --role together", where="role")
    if tenant is None and not operator:
        raise InvalidInputError("a user needs --tenant and --role, or --operator", where="tenant")
    runtime = Runtime.load()
    clock = SystemClock()
    with session_scope(runtime.ready()) as session:
        existing = find_user(session, email)
        password = _password(existing is None)
        if tenant is not None and role is not None:
            owner = get_tenant(session, tenant)
            user, created = add_member(
                session, clock, email, owner.id, role, name=name, password=password
            )
            audit(
                session,
                tenant_id=owner.id,
                at=clock.now(),
                actor_id=None,
                action="user.grant",
                object_type="user",
                object_id=user.id,
                data={"email": user.email, "role": role, "via": "cli"},
            )
        else:
            created = existing is None
            user = existing or add_user(session, clock, email, name=name, password=password)
        if operator:
            user.operator = True
        where = f" as {role} in {tenant}" if tenant else ""
        what = "added" if created else "updated"
        typer.echo(f"user {user.email} {what}{where}{' (operator)' if operator else ''}", err=True)


@user_app.command("remove-role")
def user_remove_role(
    email: Annotated[str, typer.Argument(help="The user's e-mail.")], tenant: TenantOption
) -> None:
    """Take away the user's role in the tenant (their sessions there end at once)."""
    runtime = Runtime.load()
    clock = SystemClock()
    with session_scope(runtime.ready()) as session:
        owner = get_tenant(session, tenant)
        user = get_user(session, email)
        if not revoke(session, user, owner.id):
            raise InvalidInputError(f"{user.email} holds no role in {tenant}", where="tenant")
        audit(
            session,
            tenant_id=owner.id,
            at=clock.now(),
            actor_id=None,
            action="user.revoke",
            object_type="user",
            object_id=user.id,
            data={"email": user.email, "via": "cli"},
        )
    typer.echo(f"{email}: no role in {tenant} any more", err=True)


@user_app.command("password")
def user_password(email: Annotated[str, typer.Argument(help="The user's e-mail.")]) -> None:
    """Set a new password (CLAMEUR_PASSWORD or a prompt); every open session ends."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        user = get_user(session, email)
        password = _password(True)
        assert password is not None
        set_password(session, user, password)
        ended = tenancy_auth.revoke_sessions(session, SystemClock(), user)
    typer.echo(f"password of {email} changed; {ended} session(s) ended", err=True)


@user_app.command("list")
def user_list(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The tenant's users and their roles."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        rows = [
            {"email": user.email, "name": user.name, "role": role, "active": user.active}
            for user, role in members(session, get_tenant(session, tenant).id)
        ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        typer.echo(f"{safe(row['email']):<40} {safe(row['role']):<11} {safe(row['name'])}")


@token_app.command("create")
def token_create(
    tenant: TenantOption,
    user: Annotated[str, typer.Option("--user", help="E-mail of the user the token acts as.")],
    name: Annotated[str | None, typer.Option("--name", help="What the token is for.")] = None,
    expires: Annotated[
        int | None, typer.Option("--expires", help="Days until it expires (default: never).")
    ] = None,
) -> None:
    """Print a new API token on stdout (shown once: only its hash is kept)."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        owner = get_tenant(session, tenant)
        created = tenancy_auth.create_token(
            session, SystemClock(), get_user(session, user), owner, name=name, expires_days=expires
        )
        token, prefix = created.token, created.row.prefix
    typer.echo(token)
    typer.echo(f"token clm_{prefix} created; store it now, it is not shown again", err=True)


@token_app.command("revoke")
def token_revoke(
    tenant: TenantOption,
    prefix: Annotated[str, typer.Argument(help="The token's visible prefix (clm_xxxxxxxx).")],
) -> None:
    """Revoke a token: it stops working at once."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        owner = get_tenant(session, tenant)
        row = tenancy_auth.find_token(session, owner.id, prefix)
        tenancy_auth.revoke_token(session, SystemClock(), row, None)
    typer.echo(f"token {prefix} revoked", err=True)


@token_app.command("list")
def token_list(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The tenant's tokens: prefix, user, name, created, expires, last used, revoked."""
    from clameur.tenancy.models import User

    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        owner = get_tenant(session, tenant)
        rows = []
        for row in tenancy_auth.list_tokens(session, owner.id):
            holder = session.get(User, row.user_id)
            rows.append(
                {
                    "prefix": f"clm_{row.prefix}",
                    "user": holder.email if holder else None,
                    "name": row.name,
                    "created_at": row.created_at.isoformat(),
                    "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                    "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
                    "revoked": row.revoked_at is not None,
                }
            )
    if as_json:
        emit_json(rows)
        return
    for item in rows:
        state = "revoked" if item["revoked"] else f"last used {item['last_used_at'] or 'never'}"
        typer.echo(
            f"{safe(item['prefix']):<14} {safe(item['user']):<32} {safe(item['name']):<24} {state}"
        )


def audit_command(
    tenant: TenantOption,
    action: Annotated[
        str | None, typer.Option("--action", help="Only actions starting with this.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N entries.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The tenant's audit log, oldest first: who did what, when, to which object."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        rows = entries(session, get_tenant(session, tenant).id, action=action, limit=limit)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        what = safe(f"{row['object_type']} {row['object_id'] or ''}".strip())
        actor = safe(row["actor"] or "system")
        typer.echo(f"{safe(row['at'])}  {actor:<32} {safe(row['action']):<28} {what}")
