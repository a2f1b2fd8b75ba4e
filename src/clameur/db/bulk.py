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
    """Update rows by ``id``: one ``executemany`` per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        columns = tuple(sorted(k for k in row if k != "id"))
        groups[columns].append({f"v_{k}": v for k, v in row.items()})
    for columns, params in groups.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("v_id"))
            .values({c: bindparam(f"v_{c}") for c in columns})
        )
        session.execute(stmt, params)
