from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from clameur.db import Base
from clameur.db import registry as _registry  # noqa: F401 - every table
from tests.conftest import Database

# Archive search's index is dialect-specific DDL that migration 0002 creates outside the
# models: the FTS5 table (and its shadow tables) on SQLite, a GIN expression index on
# PostgreSQL; and the vocabulary of its words that '?' wildcards expand against (migration
# 0010: fts5vocab on SQLite, a trigger-filled table on PostgreSQL). Only these names are
# left out of the comparison.
SEARCH_INDEX = re.compile(
    r"^(mentions_fts(_data|_idx|_config|_docsize|_content|_vocab)?|ix_mentions_search"
    r"|search_vocabulary|ix_search_vocabulary_token)$"
)


def _outside_search_index(name: str | None, _type: str, _parents: object) -> bool:
    return name is None or not SEARCH_INDEX.match(name)


def test_the_migrations_build_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": _outside_search_index}
        )
        diff = compare_metadata(context, Base.metadata)
    if db.engine.dialect.name == "sqlite":
        diff = _without_renamed_foreign_keys(diff)
    assert diff == []


def _fk_signature(fk: Any) -> tuple[Any, ...]:
    return (
        fk.table.name,
        tuple(c.name for c in fk.columns),
        fk.referred_table.name,
        tuple(e.column.name for e in fk.elements),
    )


def _without_renamed_foreign_keys(diff: list[Any]) -> list[Any]:
    """SQLite does not report the names of foreign keys added by ``ALTER TABLE … ADD
    COLUMN … REFERENCES`` (migration 0006 adds them that way to avoid rebuilding a table):
    a removed and an added key on the same columns and target are the same key."""
    removed = {_fk_signature(d[1]) for d in diff if d[0] == "remove_fk"}
    added = {_fk_signature(d[1]) for d in diff if d[0] == "add_fk"}
    same = removed & added
    return [
        d for d in diff if not (d[0] in {"remove_fk", "add_fk"} and _fk_signature(d[1]) in same)
    ]


def test_the_search_index_exists_at_head(db: Database) -> None:
    """A later migration that rebuilds ``mentions`` on SQLite would drop the FTS triggers."""
    with db.engine.connect() as connection:
        if db.engine.dialect.name == "sqlite":
            found = set(
                connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
                ).scalars()
            )
            wanted = {
                "mentions_fts",
                "mentions_fts_insert",
                "mentions_fts_delete",
                "mentions_fts_update",
            }
            assert wanted <= found
        else:
            names = {ix["name"] for ix in inspect(connection).get_indexes("mentions")}
            assert "ix_mentions_search" in names
