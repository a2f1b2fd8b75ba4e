"""alert start: ``alerts.started_at``, the event time of the incident's first member

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

``triggered_at`` is the event time of the mention whose arrival made the detector raise the
alert (when the evidence was there); ``started_at`` is the first member's event time (when
the incident began). Until this revision detectors wrote the first member's time into
``triggered_at``, so existing rows get ``started_at = triggered_at``: that is what their
``triggered_at`` meant. A plain ADD COLUMN (no batch copy of the table on SQLite).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE alerts SET started_at = triggered_at WHERE started_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("started_at")
