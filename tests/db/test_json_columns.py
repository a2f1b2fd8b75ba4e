"""JSON columns read back what was written, on both backends (orjson encodes and decodes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from clameur.db.base import json_type
from tests.conftest import Database

VALUE: dict[str, Any] = {
    "text": "Ça déborde — « encore » 🚨 \u2067rtl\u2069",
    "floats": [0.1, 1e-05, 123456.789, -0.0004],
    "ints": [0, -1, 2**53 + 1, 2**63 - 1],
    "nested": {"bins": {"3": [1.5, 0.25, 2.0, 4.0]}, "empty": [], "none": None},
    "flags": [True, False],
}


def test_json_column_round_trip(db: Database) -> None:
    table = Table(
        "json_round_trip",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("doc", json_type()),
    )
    table.create(db.engine)
    with db.engine.begin() as connection:
        connection.execute(insert(table), [{"id": 1, "doc": VALUE}])
        stored = connection.execute(select(table.c.doc)).scalar_one()
    assert stored == VALUE
