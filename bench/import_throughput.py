"""End-to-end embedded import throughput and peak memory.

Generates N demo mentions (default 50,000) with the project's generator, then imports the
file into a fresh database with `clameur import` in a child process (so that peak RSS is
the import's alone), for each size given: a SQLite file, or with `--database-url` a
PostgreSQL database, where each size gets a schema of its own (dropped afterwards), so the
same script measures both backends. With `--profile`, also profiles an in-process import
and prints where time goes.

    .venv/bin/python bench/import_throughput.py [--sizes 50000 200000] [--profile]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, upgrade
from clameur.demo.generator import generate_mentions, write_jsonl
from clameur.demo.load import ensure_demo_tenants
from clameur.pipeline import Pipeline

CLAMEUR = [sys.executable, "-m", "clameur"]


def database_for(workdir: Path, n: int, server: str | None) -> str:
    """A fresh database for size ``n``: a SQLite file, or a new schema on ``server``."""
    if server is None:
        return f"sqlite:///{workdir / f'bench-{n}.db'}"
    schema = f"bench_import_{n}"
    admin = create_engine_for(server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options=-csearch_path%3D{schema}"


def drop_schema(server: str | None, n: int) -> None:
    if server is None:
        return
    admin = create_engine_for(server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS bench_import_{n} CASCADE"))
    admin.dispose()


def prepare(workdir: Path, n: int, server: str | None = None) -> tuple[Path, str]:
    path = workdir / f"mentions-{n}.jsonl"
    write_jsonl(path, generate_mentions(count=n, seed=1))
    url = database_for(workdir, n, server)
    engine = create_engine_for(url)
    upgrade(engine)
    ensure_demo_tenants(Pipeline(factory=make_session_factory(engine), settings=Settings()))
    engine.dispose()
    return path, url


def run_child(path: Path, url: str) -> dict[str, float]:
    env = {**os.environ, "CLAMEUR_DATABASE_URL": url, "CLAMEUR_LOG_LEVEL": "WARNING"}
    start = time.perf_counter()
    done = subprocess.run(
        [*CLAMEUR, "import", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr}")
    result = json.loads(done.stdout)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stored = result["imported"] + result["updated"]
    return {
        "lines": sum(result[k] for k in ("imported", "updated", "unchanged", "unmatched")),
        "stored": stored,
        "seconds": round(elapsed, 2),
        "mentions_per_s": round(stored / elapsed),
        "peak_rss_mib_max_so_far": round(peak_mib),
        "file_mib": round(path.stat().st_size / 2**20, 1),
    }


def profile(path: Path, url: str) -> str:
    engine = create_engine_for(url)
    pipeline = Pipeline(factory=make_session_factory(engine), settings=Settings())
    profiler = cProfile.Profile()
    profiler.enable()
    pipeline.import_file(path)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server (default: SQLite files)"
    )
    args = parser.parse_args()
    server = args.database_url
    backend = "sqlite" if server is None else "postgresql"
    with tempfile.TemporaryDirectory(prefix="clameur-bench-") as tmp:
        workdir = Path(tmp)
        for n in sorted(args.sizes):  # ascending, so the running max RSS is this size's peak
            path, url = prepare(workdir, n, server)
            try:
                print(json.dumps({"size": n, "backend": backend, **run_child(path, url)}))
            finally:
                drop_schema(server, n)
        if args.profile:
            path, url = prepare(workdir, 10_000, server)
            try:
                print(profile(path, url))
            finally:
                drop_schema(server, 10_000)


if __name__ == "__main__":
    main()
