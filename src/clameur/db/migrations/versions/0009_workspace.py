"""workspace: snoozed conversations; canned replies get an owner (personal ones) and a
shortcode

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OWNER_FK = "fk_canned_replies_owner_id_users"


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: no rebuild of ``conversations`` on SQLite (a
    # rebuild with foreign keys on would null every mention's conversation).
    op.add_column(
        "conversations", sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_conversations_snoozed", "conversations", ["snoozed_until"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE canned_replies ADD COLUMN owner_id INTEGER CONSTRAINT {_OWNER_FK} "
            "REFERENCES users (id) ON DELETE CASCADE"
        )
    else:
        op.add_column("canned_replies", sa.Column("owner_id", _BIGID, nullable=True))
        op.create_foreign_key(
            _OWNER_FK, "canned_replies", "users", ["owner_id"], ["id"], ondelete="CASCADE"
        )
    op.add_column("canned_replies", sa.Column("shortcode", sa.String(length=32), nullable=True))
    op.create_index(
        "uq_canned_replies_own_shortcode",
        "canned_replies",
        ["tenant_id", "owner_id", "shortcode"],
        unique=True,
    )
    op.create_index(
        "uq_canned_replies_team_shortcode",
        "canned_replies",
        ["tenant_id", "shortcode"],
        unique=True,
        sqlite_where=sa.text("owner_id IS NULL"),
        postgresql_where=sa.text("owner_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_canned_replies_team_shortcode", table_name="canned_replies")
    op.drop_index("uq_canned_replies_own_shortcode", table_name="canned_replies")
    with op.batch_alter_table("canned_replies") as batch:  # SQLite: rebuilt (nothing refers to it)
        batch.drop_column("shortcode")
        batch.drop_column("owner_id")
    op.drop_index("ix_conversations_snoozed", table_name="conversations")
    op.execute("ALTER TABLE conversations DROP COLUMN snoozed_until")
