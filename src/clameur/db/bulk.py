"""Bulk inserts that give back the new ids, fast on SQLite and PostgreSQL alike.

``INSERT … RETURNING`` with a guaranteed row order makes SQLAlchemy execute one row at a
time on SQLite. Returning the natural key with the id needs no order: rows go out in
multi-row ``VALUES`` batches and are matched back by key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_returning_ids(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> list[int]:
    """Insert ``rows``; return their ids in the same order. ``key`` must be unique."""
    if not rows:
        return []
    columns = [table.c[k] for k in key]
    returned = session.execute(insert(table).returning(table.c.id, *columns), list(rows))
    found = {tuple(row[1:]): row[0] for row in returned}
    return [found[tuple(row[k] for k in key)] for row in rows]


def update_by_id(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Update rows by ``id``: one ``executemany`` per set of changed columns.

    Rows go out in id order, so two transactions updating the same rows lock them in the
    same order (no deadlock between concurrent imports on PostgreSQL).
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        columns = tuple(sorted(k for k in row if k != "id"))
        groups[columns].append({f"v_{k}": v for k, v in row.items()})
    for columns, params in groups.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("v_id"))
            .values({c: bindparam(f"v_{c}") for c in columns})
        )
        session.execute(stmt, params)


def insert_missing_returning_ids(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    *,
    id_column: str = "id",
) -> list[int | None]:
    """Insert the ``rows`` whose ``key`` is not stored yet (``INSERT … ON CONFLICT (key) DO
    NOTHING``): the new id of each row, or None where another transaction stored that key
    first. ``key`` must be a unique constraint of ``table`` and unique within ``rows``.

    Race-safe on both backends: on PostgreSQL a conflicting insert waits for the other
    transaction and skips the row if it commits; on SQLite writers are serialized. The
    caller selects the skipped keys afterwards (they are visible then on both).
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    columns = [table.c[k] for k in key]
    stmt = make(table).on_conflict_do_nothing(index_elements=list(key))
    returned = session.execute(stmt.returning(table.c[id_column], *columns), list(rows))
    found = {tuple(row[1:]): row[0] for row in returned}
    return [found.get(tuple(row[k] for k in key)) for row in rows]
