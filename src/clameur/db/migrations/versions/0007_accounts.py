"""accounts: memberships (a role per tenant), operators, sign-in sessions, API tokens,
sign-in attempts; users lose their single role

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def _tenant_fk(table: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete=ondelete,
    )


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("operator", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "memberships",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("user_id", _BIGID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        _tenant_fk("memberships"),
        _user_fk("memberships"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("tenant_id", "user_id", name=op.f("uq_memberships_tenant_id_user_id")),
    )
    op.create_index("ix_memberships_user", "memberships", ["user_id"])
    # Each user's single role becomes a membership: in their tenant, or (the contact
    # centre's staff, no tenant) in every tenant, which is what they could reach before.
    op.execute(
        "INSERT INTO memberships (user_id, role, created_at, tenant_id) "
        "SELECT u.id, u.role, u.created_at, u.tenant_id FROM users u WHERE u.tenant_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO memberships (user_id, role, created_at, tenant_id) "
        "SELECT u.id, u.role, u.created_at, t.id FROM users u CROSS JOIN tenants t "
        "WHERE u.tenant_id IS NULL"
    )
    op.drop_column("users", "role")

    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", _BIGID, nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("last_seen_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        _tenant_fk("auth_sessions", "SET NULL"),
        _user_fk("auth_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    op.create_index("ix_auth_sessions_user", "auth_sessions", ["user_id"])

    op.create_table(
        "api_tokens",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("user_id", _BIGID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("last_used_at", _TIME, nullable=True),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.Column("tenant_id", _BIGID, nullable=False),
        _tenant_fk("api_tokens"),
        _user_fk("api_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_tokens_prefix")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_tokens_secret_hash")),
    )
    op.create_index("ix_api_tokens_tenant_user", "api_tokens", ["tenant_id", "user_id"])

    op.create_table(
        "login_attempts",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_email_at", "login_attempts", ["email", "at"])
    op.create_index("ix_login_attempts_address_at", "login_attempts", ["address", "at"])

    op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_instance_secrets")),
    )


def downgrade() -> None:
    op.drop_table("instance_secrets")
    op.drop_table("login_attempts")
    op.drop_table("api_tokens")
    op.drop_table("auth_sessions")
    op.add_column(
        "users", sa.Column("role", sa.String(length=16), nullable=False, server_default="agent")
    )
    op.drop_table("memberships")
    op.drop_column("users", "operator")
