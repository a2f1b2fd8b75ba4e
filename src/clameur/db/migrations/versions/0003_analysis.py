"""analysis: intent score, toxicity labels, reach, author influence score and histograms

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "influence_bins",
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("authors", sa.Integer(), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_influence_bins_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "bin", name=op.f("pk_influence_bins")),
    )
    # Plain ADD COLUMN (no table rebuild on SQLite: a rebuild would drop the search
    # triggers of 0002 and, with foreign keys on, cascade deletes).
    op.add_column("authors", sa.Column("influence_score", sa.Float(), nullable=True))
    op.add_column("mentions", sa.Column("intent_score", sa.Float(), nullable=True))
    op.add_column(
        "mentions", sa.Column("toxicity_labels", _JSON, nullable=False, server_default="[]")
    )
    op.add_column("mentions", sa.Column("reach", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN exists in SQLite ≥ 3.35 and PostgreSQL: no rebuild either.
    for table, column in (
        ("mentions", "reach"),
        ("mentions", "toxicity_labels"),
        ("mentions", "intent_score"),
        ("authors", "influence_score"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.drop_table("influence_bins")
