from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from clameur.db import Base, create_engine_for
from clameur.db import registry as _registry  # noqa: F401 - every table
from clameur.db.migrate import upgrade
from tests.conftest import Database

# Archive search's index is dialect-specific DDL that migration 0002 creates outside the
# models: the FTS5 table (and its shadow tables) on SQLite, a GIN expression index on
# PostgreSQL; and the vocabulary of its words that '?' wildcards expand against (migration
# 0010: fts5vocab on SQLite, a trigger-filled table on PostgreSQL); and SQLite's narrow
# index that facets are counted from (migration 0012). Only these names are left out of the
# comparison.
SEARCH_INDEX = re.compile(
    r"^(mentions_fts(_data|_idx|_config|_docsize|_content|_vocab)?|ix_mentions_search"
    r"|search_vocabulary|ix_search_vocabulary_token|ix_mentions_facets)$"
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


def test_0012_fills_brand_set_from_the_links(database_url: str) -> None:
    """Mentions stored before 0012 get their brand ids from ``mention_brands``, ascending."""
    engine = create_engine_for(database_url)
    upgrade(engine, "0011")
    now = "2026-12-01 10:00:00+00:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, slug, name, created_at, settings) "
                "VALUES (1, 't', 'T', :now, '{}')"
            ),
            {"now": now},
        )
        for brand_id in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO brands (id, tenant_id, slug, name, queries, created_at) "
                    "VALUES (:id, 1, :slug, :slug, '[]', :now)"
                ),
                {"id": brand_id, "slug": f"b{brand_id}", "now": now},
            )
        conn.execute(
            text(
                "INSERT INTO authors (id, tenant_id, source, handle, verified, first_seen_at, "
                "last_seen_at) VALUES (1, 1, 'twitter', 'a', false, :now, :now)"
            ),
            {"now": now},
        )
        for mention_id in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO mentions (id, tenant_id, source, external_id, author_id, text, "
                    "created_at, content_hash, ingested_at, metrics, raw, edit_history, "
                    "toxicity_labels, priority_reasons) VALUES (:id, 1, 'twitter', :ext, 1, "
                    "'x', :now, 'h', :now, '{}', '{}', '[]', '[]', '[]')"
                ),
                {"id": mention_id, "ext": str(mention_id), "now": now},
            )
        for mention_id, brand_id in ((1, 3), (1, 1), (2, 2)):
            conn.execute(
                text(
                    "INSERT INTO mention_brands (tenant_id, mention_id, brand_id) "
                    "VALUES (1, :m, :b)"
                ),
                {"m": mention_id, "b": brand_id},
            )
    upgrade(engine)
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT id, brand_set FROM mentions")).all())
    engine.dispose()
    assert found == {1: "1,3", 2: "2", 3: None}
