"""campaigns: near-duplicate signatures, LSH bands and clusters of the campaign detector

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "campaign_clusters",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("brand_id", _BIGID, nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("centre", sa.LargeBinary(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("alert_key", sa.String(200), nullable=True),
        sa.Column("state", _JSON, nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_campaign_clusters_brand_id_brands"),
            ondelete="SET NULL",
        ),
        _tenant_fk("campaign_clusters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_clusters")),
    )
    op.create_index(
        "ix_campaign_clusters_tenant_key", "campaign_clusters", ["tenant_id", "key"], unique=True
    )
    op.create_index(
        "ix_campaign_clusters_tenant_last", "campaign_clusters", ["tenant_id", "last_at"]
    )
    op.create_table(
        "campaign_signatures",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(300), nullable=False),
        sa.Column("author_id", _BIGID, nullable=False),
        sa.Column("brand_id", _BIGID, nullable=True),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("cluster_id", _BIGID, nullable=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("age_days", sa.Float(), nullable=True),
        sa.Column("followers", sa.Integer(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("first_post", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["authors.id"],
            name=op.f("fk_campaign_signatures_author_id_authors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["campaign_clusters.id"],
            name=op.f("fk_campaign_signatures_cluster_id_campaign_clusters"),
            ondelete="CASCADE",
        ),
        _tenant_fk("campaign_signatures"),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_campaign_signatures")),
    )
    op.create_index(
        op.f("ix_campaign_signatures_cluster_id"), "campaign_signatures", ["cluster_id"]
    )
    op.create_table(
        "campaign_bands",
        sa.Column("band_hash", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("signature_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        _tenant_fk("campaign_bands"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "band_hash", "signature_key", name=op.f("pk_campaign_bands")
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("campaign_bands")
    op.drop_index(op.f("ix_campaign_signatures_cluster_id"), table_name="campaign_signatures")
    op.drop_table("campaign_signatures")
    op.drop_index("ix_campaign_clusters_tenant_last", table_name="campaign_clusters")
    op.drop_index("ix_campaign_clusters_tenant_key", table_name="campaign_clusters")
    op.drop_table("campaign_clusters")
