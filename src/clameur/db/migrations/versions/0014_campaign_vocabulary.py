"""campaign vocabulary: the tenant's shingle document frequencies, per day, and each
signature's count of rare shingles

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

The campaign detector weighs a cluster's texts by how rare their shingles are in the
tenant's own archive (``clameur.detection.campaign_idf``): ``campaign_vocabulary`` holds,
per day, how many mentions held each sampled shingle (``shingle = -1``: the day's
mentions), updated by the detector; ``campaign_signatures.rare`` is the count it found for
each mention (null for rows written before: they are a window old at most).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaign_vocabulary",
        sa.Column("shingle", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("docs", sa.Integer(), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaign_vocabulary_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "shingle", "day", name=op.f("pk_campaign_vocabulary")),
        sqlite_with_rowid=False,
    )
    op.add_column("campaign_signatures", sa.Column("rare", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_signatures") as batch:
        batch.drop_column("rare")
    op.drop_table("campaign_vocabulary")
