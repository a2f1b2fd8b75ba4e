"""What an import stores, as one digest per table and column, to show a change kept it.

Imports N demo mentions (seed 1, analysis in line) into a fresh database in this process,
then prints for every table its row count and, per column, a hash of its values in
primary-key order. Run it from two trees (``PYTHONPATH=<tree>/src``) and diff the outputs:
columns filled from the wall clock (row creation times) differ between any two runs; every
other difference is a change of behaviour.

    PYTHONPATH=src .venv/bin/python bench/import_digest.py [N] [URL | -] [TABLE.COLUMN…] > d.txt
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

from sqlalchemy import select

import clameur.db.registry  # noqa: F401 - every table in Base.metadata
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory
from clameur.db.base import Base
from clameur.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).parent))
import import_throughput as throughput  # noqa: E402 - the sibling script, found above


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    server = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    show = set(sys.argv[3:])  # table.column: print its values too
    with tempfile.TemporaryDirectory() as tmp:
        path, url = throughput.prepare(Path(tmp), n, server)
        try:
            engine = create_engine_for(url)
            pipeline = Pipeline(
                factory=make_session_factory(engine), settings=Settings(import_prefetch=False)
            )
            result = pipeline.import_file(path)
            print(f"imported {result.imported} rejected {result.rejected}")
            with engine.connect() as connection:
                for table in Base.metadata.sorted_tables:
                    order = list(table.primary_key.columns) or list(table.columns)
                    rows = connection.execute(select(table).order_by(*order)).all()
                    print(f"{table.name} rows={len(rows)}")
                    for i, column in enumerate(table.columns):
                        digest = hashlib.sha256(repr([row[i] for row in rows]).encode())
                        print(f"  {table.name}.{column.name} {digest.hexdigest()[:16]}")
                        if f"{table.name}.{column.name}" in show:
                            for row in rows:
                                print(f"    {row[0]!r}: {row[i]!r}")
            engine.dispose()
        finally:
            throughput.drop_schema(server, n)


if __name__ == "__main__":
    main()
