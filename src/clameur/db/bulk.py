"""Bulk inserts that give back the new ids, fast on SQLite and PostgreSQL alike.

``INSERT … RETURNING`` with a guaranteed row order makes SQLAlchemy execute one row at a
time on SQLite. Returning the natural key with the id needs no order: rows go out in
multi-row ``VALUES`` batches and are matched back by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
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
