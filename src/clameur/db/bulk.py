"""Bulk inserts that give back the new ids, fast on SQLite and PostgreSQL alike.

``INSERT … RETURNING`` with a guaranteed row order makes SQLAlchemy execute one row at a
time on SQLite. Returning the natural key with the id needs no order: rows go out in
multi-row ``VALUES`` batches and are matched back by key.

On PostgreSQL the import's hot-path rows go through the driver's ``COPY`` instead (see
:func:`copy_rows`): SQLAlchemy's multi-row ``VALUES`` of a thousand rows is a statement
longer than psycopg's parse cache takes, parsed again by a Python regex each time, and a
batch's rows cost a bind pass each. New ids come from the table's sequence in one round
trip first (see :func:`insert_returning_ids`). SQLite keeps ``executemany``, its fast path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session

from clameur.errors import ClameurError


class BulkWriteError(ClameurError):
    """A bulk write was asked for something it cannot do (names the table and column)."""


def _is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def keys_in(
    session: Session,
    columns: Sequence[InstrumentedAttribute[Any]],
    keys: Sequence[tuple[Any, ...]],
    *,
    chunk: int = 500,
) -> list[ColumnElement[bool]]:
    """Conditions ``(columns) IN keys``, one statement's worth each: on PostgreSQL a single
    ``IN (SELECT * FROM unnest(arrays))``, a parameter per column (a short statement
    psycopg parses once, whatever the keys); on SQLite chunks of ``chunk`` tuples."""
    if not keys:
        return []
    if session.get_bind().dialect.name != "postgresql":
        return [tuple_(*columns).in_(keys[i : i + chunk]) for i in range(0, len(keys), chunk)]
    arrays = [
        bindparam(None, [key[i] for key in keys], type_=ARRAY(column.type))
        for i, column in enumerate(columns)
    ]
    names = [f"k{i}" for i in range(len(columns))]
    listed: Select[Any] = select(literal_column("*")).select_from(
        func.unnest(*arrays).table_valued(*names)
    )
    return [tuple_(*columns).in_(listed)]


def _copy(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY table (columns) FROM STDIN`` through psycopg, in the session's transaction.

    A database error comes out as SQLAlchemy's (``IntegrityError`` for a unique key stored
    meanwhile), so callers and the pipeline's retry see the same errors as an ``INSERT``.
    """
    import psycopg  # noqa: PLC0415 - PostgreSQL only; SQLite installs need not load it

    quote = connection.dialect.identifier_preparer
    sql = (
        f"COPY {quote.format_table(table)} ({', '.join(quote.quote(c) for c in columns)}) "
        "FROM STDIN"
    )
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise DBAPIError.instance(
            sql, None, exc, psycopg.Error, dialect=connection.dialect
        ) from exc
    finally:
        cursor.close()


def copy_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows of plain values (ints, floats, strings, bytes, booleans, None) given in
    ``columns`` order, with no ids back: ``COPY`` on PostgreSQL, the driver's
    ``executemany`` on SQLite (no per-row parameter processing on either)."""
    if not rows:
        return
    connection = session.connection()
    if _is_postgresql(connection):
        _copy(connection, table, columns, rows)
        return
    marks = ", ".join("?" * len(columns))
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - names are constants
    connection.exec_driver_sql(sql, list(rows))


def _constant(value: Any) -> Any:
    return value


def _defaults(table: Table, given: Iterable[str]) -> dict[str, Callable[[], Any]]:
    """The Python-side column defaults an ``INSERT`` would add (``COPY`` won't): a maker of
    the value for each column not ``given``."""
    out: dict[str, Callable[[], Any]] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        arg: Any = getattr(default, "arg", None)
        if default.is_scalar:
            out[column.name] = partial(_constant, arg)
        elif default.is_callable:
            out[column.name] = partial(arg, None)  # SQLAlchemy wraps it as f(context)
        else:
            raise BulkWriteError(
                f"bulk insert into {table.name}: default of column {column.name} "
                "is neither a value nor a function"
            )
    return out


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys), with no ids back: on PostgreSQL by
    ``COPY`` with each column's bind processing and Python defaults applied as an
    ``INSERT`` would; on SQLite Core's ``executemany``."""
    if not rows:
        return
    connection = session.connection()
    if not _is_postgresql(connection):
        session.execute(insert(table), list(rows))
        return
    dialect = connection.dialect
    given = list(rows[0])
    defaults = list(_defaults(table, given).items())
    columns = given + [name for name, _ in defaults]
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]

    def values(row: dict[str, Any]) -> list[Any]:
        raw = [row[name] for name in given] + [make() for _, make in defaults]
        return [v if p is None else p(v) for v, p in zip(raw, processors, strict=True)]

    _copy(connection, table, columns, map(values, rows))


def _next_ids(connection: Connection, table: Table, n: int) -> list[int]:
    """``n`` new ids of ``table`` from its sequence, in one round trip, ascending."""
    sql = (
        "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq) "
        "SELECT nextval(s.seq) FROM s, generate_series(1, %s)"
    )
    name = connection.dialect.identifier_preparer.format_table(table)
    return sorted(row[0] for row in connection.exec_driver_sql(sql, (name, n)))


def insert_returning_ids(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> list[int]:
    """Insert ``rows``; return their ids in the same order. ``key`` must be unique."""
    if not rows:
        return []
    connection = session.connection()
    if _is_postgresql(connection):
        ids = _next_ids(connection, table, len(rows))
        insert_rows(session, table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
        return ids
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
    connection = session.connection()
    if _is_postgresql(connection):
        return _insert_missing_postgresql(connection, table, rows, key, id_column)
    columns = [table.c[k] for k in key]
    stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(key))
    returned = session.execute(stmt.returning(table.c[id_column], *columns), list(rows))
    found = {tuple(row[1:]): row[0] for row in returned}
    return [found.get(tuple(row[k] for k in key)) for row in rows]


def _insert_missing_postgresql(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    id_column: str,
) -> list[int | None]:
    """One ``INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING RETURNING``: a
    parameter per column whatever the number of rows, so one short statement that psycopg
    parses once and PostgreSQL prepares, in the rows' order (the callers' lock order)."""
    dialect = connection.dialect
    given = list(rows[0])
    defaults = list(_defaults(table, given).items())
    columns = given + [name for name, _ in defaults]
    quote = dialect.identifier_preparer
    arrays: list[list[Any]] = []
    casts: list[str] = []
    for name in columns:
        type_ = table.c[name].type
        process = type_.dialect_impl(dialect).bind_processor(dialect)
        make = dict(defaults).get(name)
        values = [make() for _ in rows] if make is not None else [row[name] for row in rows]
        arrays.append(values if process is None else [process(v) for v in values])
        casts.append(f"%s::{type_.compile(dialect=dialect)}[]")
    listed = ", ".join(quote.quote(c) for c in columns)
    keys = ", ".join(quote.quote(k) for k in key)
    sql = (
        f"INSERT INTO {quote.format_table(table)} ({listed}) "  # noqa: S608 - names from the table
        f"SELECT * FROM unnest({', '.join(casts)}) "
        f"ON CONFLICT ({keys}) DO NOTHING RETURNING {quote.quote(id_column)}, {keys}"
    )
    returned = connection.exec_driver_sql(sql, tuple(arrays))
    found = {tuple(row[1:]): row[0] for row in returned}
    return [found.get(tuple(row[k] for k in key)) for row in rows]
