"""The benches' databases: a SQLite file, or a PostgreSQL schema of the ``test`` database
(each bench names its own, so their data can be kept side by side with ``--keep``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import Engine, text

from clameur.db import create_engine_for


def database_url(args: argparse.Namespace, schema: str) -> str:
    if args.backend == "sqlite":
        return f"sqlite:///{args.db}"
    separator = "&" if "?" in args.pg_url else "?"
    return f"{args.pg_url}{separator}options=-csearch_path%3D{schema}"


def open_database(args: argparse.Namespace, schema: str) -> Engine:
    if args.backend == "postgresql":
        admin = create_engine_for(args.pg_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        admin.dispose()
    return create_engine_for(database_url(args, schema))


def drop_database(engine: Engine, args: argparse.Namespace, schema: str) -> None:
    engine.dispose()
    if args.backend == "sqlite":
        for path in Path(args.db).parent.glob(Path(args.db).name + "*"):
            path.unlink()
        return
    admin = create_engine_for(args.pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()
