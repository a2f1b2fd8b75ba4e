"""Engines and sessions. Transactions belong to the edge (request, job, CLI command)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _json_loads(text: str | bytes) -> Any:
    """JSON columns decoded by orjson, as they are encoded: what ``_json_dumps`` writes
    (never NaN, integers within 64 bits) reads back the same as with the standard
    ``json`` module, at a fraction of the cost (the detectors' states are read back on
    every batch)."""
    return orjson.loads(text)


def create_engine_for(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``: SQLite in WAL mode with foreign keys, or PostgreSQL (psycopg 3)."""
    options: dict[str, Any] = {
        "echo": echo,
        "json_serializer": _json_dumps,
        "json_deserializer": _json_loads,
    }
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **options)
    event.listen(engine, "connect", _postgresql_settings)
    return engine


def _postgresql_settings(dbapi_connection: Any, _record: Any) -> None:
    """No JIT compilation: Clameur's statements are short, and PostgreSQL's planner turns JIT
    on by estimated cost, which a large archive's statements pass although they read a page
    of rows — measured, compiling then took 250 ms of a 280 ms search page (1M mentions)."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
    finally:
        dbapi_connection.autocommit = autocommit


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
