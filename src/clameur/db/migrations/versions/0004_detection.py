"""detection: alert members, alert rules, detector state; alert key index and notified severity

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
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
    op.add_column("alerts", sa.Column("notified_severity", sa.String(16), nullable=True))
    op.create_index("ix_alerts_tenant_key", "alerts", ["tenant_id", "key"])
    op.create_table(
        "alert_mentions",
        sa.Column("alert_id", _BIGID, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(300), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_mentions_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        _tenant_fk("alert_mentions"),
        sa.PrimaryKeyConstraint(
            "alert_id", "source", "external_id", name=op.f("pk_alert_mentions")
        ),
    )
    op.create_index(
        "ix_alert_mentions_lookup", "alert_mentions", ["tenant_id", "source", "external_id"]
    )
    op.create_table(
        "alert_rules",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("brand_id", _BIGID, nullable=True),
        sa.Column("settings", _JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_alert_rules_brand_id_brands"),
            ondelete="CASCADE",
        ),
        _tenant_fk("alert_rules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index(
        "ix_alert_rules_tenant_brand", "alert_rules", ["tenant_id", "brand_id"], unique=True
    )
    op.create_table(
        "detection_state",
        sa.Column("detector", sa.String(32), nullable=False),
        sa.Column("brand_id", _BIGID, autoincrement=False, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        _tenant_fk("detection_state"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "detector", "brand_id", "source", name=op.f("pk_detection_state")
        ),
    )


def downgrade() -> None:
    op.drop_table("detection_state")
    op.drop_index("ix_alert_rules_tenant_brand", table_name="alert_rules")
    op.drop_table("alert_rules")
    op.drop_index("ix_alert_mentions_lookup", table_name="alert_mentions")
    op.drop_table("alert_mentions")
    op.drop_index("ix_alerts_tenant_key", table_name="alerts")
    op.execute("ALTER TABLE alerts DROP COLUMN notified_severity")
