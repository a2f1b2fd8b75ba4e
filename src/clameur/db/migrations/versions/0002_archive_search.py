"""archive search: mentions.search_text, indexed by FTS5 (SQLite) or GIN (PostgreSQL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

``search_text`` holds a mention's index keys as ASCII tokens (see
``clameur.listening.search_index``); existing mentions are filled here. The index itself is
dialect-specific and lives outside the SQLAlchemy models (tests/db excludes it explicitly):

- SQLite: ``mentions_fts``, an FTS5 table with external content (``mentions.search_text``,
  rowid = ``mentions.id``), kept in step by three triggers. A later migration that makes
  SQLite rebuild ``mentions`` (batch "move and copy") drops these triggers: it must call
  :func:`create_sqlite_triggers` again (tests/db checks that they exist at head).
- PostgreSQL: ``ix_mentions_search``, a GIN index on
  ``array_to_tsvector(string_to_array(search_text, ' '))`` (no text-search parser or
  dictionary: the tokens are already folded, so ``unaccent`` is not needed).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "mentions_fts"
TRIGGERS = ("mentions_fts_insert", "mentions_fts_delete", "mentions_fts_update")
PG_INDEX = "ix_mentions_search"
PG_VECTOR = "array_to_tsvector(string_to_array(search_text, ' '))"
_BATCH = 2000


def upgrade() -> None:
    with op.batch_alter_table("mentions") as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    _backfill()
    if op.get_bind().dialect.name == "sqlite":
        # tokens are [a-z0-9]+ already folded: unicode61 splits on the spaces only;
        # detail=none, columnsize=0: the pre-filter needs no positions nor sizes.
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5(search_text, content='mentions', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 0', "
            "detail=none, columnsize=0)"
        )
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")  # noqa: S608 - constants
        create_sqlite_triggers()
    else:
        op.execute(f"CREATE INDEX {PG_INDEX} ON mentions USING gin (({PG_VECTOR}))")


def create_sqlite_triggers() -> None:
    """The triggers that keep ``mentions_fts`` in step with ``mentions`` (SQLite only)."""
    insert_ = f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text);"  # noqa: S608
    delete_ = (
        f"INSERT INTO {FTS}({FTS}, rowid, search_text) "  # noqa: S608 - constant names
        "VALUES ('delete', old.id, old.search_text);"
    )
    op.execute(f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON mentions BEGIN {insert_} END")
    op.execute(f"CREATE TRIGGER {TRIGGERS[1]} AFTER DELETE ON mentions BEGIN {delete_} END")
    op.execute(
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER UPDATE OF search_text ON mentions "
        f"BEGIN {delete_} {insert_} END"
    )


def _backfill() -> None:
    """Compute ``search_text`` for the mentions stored before this revision, in batches."""
    from clameur.listening.search_index import document_keys, search_text

    bind = op.get_bind()
    mentions = sa.table(
        "mentions",
        sa.column("id", sa.Integer),
        sa.column("text", sa.Text),
        sa.column("search_text", sa.Text),
    )
    update = (
        sa.update(mentions)
        .where(mentions.c.id == sa.bindparam("m_id"))
        .values(search_text=sa.bindparam("m_search_text"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(mentions.c.id, mentions.c.text)
            .where(mentions.c.id > last)
            .order_by(mentions.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        params: list[dict[str, Any]] = [
            {"m_id": row.id, "m_search_text": search_text(document_keys(row.text))} for row in rows
        ]
        bind.execute(update, params)
        last = rows[-1].id


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    else:
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    with op.batch_alter_table("mentions") as batch_op:
        batch_op.drop_column("search_text")
