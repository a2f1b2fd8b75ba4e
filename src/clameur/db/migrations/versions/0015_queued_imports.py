"""queued imports: ``clameur import`` on the bus, chunk progress and summary per import

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

With ``CLAMEUR_BUS_URL=redis://…`` an import queues its lines in chunks for the workers;
``queued_imports`` holds, per import, whose turn it is (``next_seq``: chunks commit in file
order), the chunks dead-lettered, and the counts and line errors the chunks add up to, which
``clameur import --wait`` prints (``clameur.pipeline.queued``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queued_imports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=True),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=True),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.Column("dead_chunks", _JSON, nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("unmatched", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("errors", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_queued_imports_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queued_imports")),
    )


def downgrade() -> None:
    op.drop_table("queued_imports")
