"""sources: connector instances (RSS/Atom, webhook, IMAP, web pages…) with their cursor,
lease and health; their secrets in a table of their own

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("options", _JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("cursor", _JSON, nullable=True),
        _time("next_run_at"),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        _time("lease_until"),
        _time("last_polled_at"),
        _time("last_success_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        _time("retry_after_until"),
        sa.Column("stats", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sources_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
    )
    op.create_index("uq_sources_tenant_name", "sources", ["tenant_id", "name"], unique=True)
    op.create_index("ix_sources_due", "sources", ["enabled", "next_run_at"], unique=False)
    op.create_table(
        "source_secrets",
        sa.Column("source_id", _BIGID, nullable=False),
        sa.Column("values", _JSON, nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_source_secrets_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_source_secrets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_source_secrets")),
    )
    op.create_index("ix_source_secrets_tenant", "source_secrets", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_source_secrets_tenant", table_name="source_secrets")
    op.drop_table("source_secrets")
    op.drop_index("ix_sources_due", table_name="sources")
    op.drop_index("uq_sources_tenant_name", table_name="sources")
    op.drop_table("sources")
