"""Scaled-out import throughput: PostgreSQL + Redis Streams with 1, 2… worker processes.

Generates N demo mentions (default 20,000) with the project's generator; for each worker
count, a fresh PostgreSQL schema with the demo tenants and a fresh Redis key prefix, that
many `clameur worker` processes started and ready (their start-up and model loading are
not timed), then `clameur import FILE --wait --json` timed from its start to its summary
— reading, checking and queueing the lines, and every chunk stored by the workers — and
the CPU time the processes used (the import's and the workers', with their start-up:
`getrusage`/`wait4`; PostgreSQL's and Redis's own are not counted). The
embedded import of the same file on the same PostgreSQL (`clameur import`, in-memory bus)
is measured beside it, so the figures of one run compare.

    .venv/bin/python bench/scaleout.py [--size 20000] [--workers 1 2] [--concurrency 1]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from clameur.analysis import PlaceholderAnalyzer
from clameur.config import Settings
from clameur.core.bus_redis import RedisBus
from clameur.db import create_engine_for, make_session_factory, upgrade
from clameur.demo.generator import generate_mentions, write_jsonl
from clameur.demo.load import ensure_demo_tenants
from clameur.pipeline import Pipeline

CLAMEUR = [sys.executable, "-m", "clameur"]


def fresh_schema(server: str, schema: str) -> str:
    admin = create_engine_for(server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    separator = "&" if "?" in server else "?"
    url = f"{server}{separator}options=-csearch_path%3D{schema}"
    engine = create_engine_for(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    ensure_demo_tenants(Pipeline(factory, Settings(), analyzer=PlaceholderAnalyzer()))
    engine.dispose()
    return url


def drop_schema(server: str, schema: str) -> None:
    admin = create_engine_for(server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def environment(url: str, bus_url: str, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "CLAMEUR_DATABASE_URL": url,
        "CLAMEUR_BUS_URL": bus_url,
        "CLAMEUR_BUS_PREFIX": prefix,
        "CLAMEUR_SMTP_HOST": "",
        "CLAMEUR_LOG_LEVEL": "WARNING",
    }


def timed_import(path: Path, env: dict[str, str]) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    done = subprocess.run(
        [*CLAMEUR, "import", str(path), "--json", "--wait"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def run(
    path: Path, n: int, server: str, redis_url: str | None, workers: int, concurrency: int
) -> dict[str, object]:
    schema = f"bench_scaleout_{workers}"
    url = fresh_schema(server, schema)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    processes: list[subprocess.Popen[str]] = []
    worker_cpu = 0.0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        if redis_url is None:  # the embedded import, for comparison
            elapsed, result = timed_import(path, environment(url, "memory://", prefix))
        else:
            env = environment(url, redis_url, prefix)
            for _ in range(workers):
                processes.append(
                    subprocess.Popen(
                        [*CLAMEUR, "worker", "--concurrency", str(concurrency)],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            for process in processes:  # ready: the models are loaded, the loops started
                assert process.stderr is not None
                for line in process.stderr:
                    if line.startswith("worker running"):
                        break
                else:
                    raise SystemExit("a worker ended before it was ready")
                # keep reading what it says, so that a full pipe never blocks it
                threading.Thread(target=process.stderr.read, daemon=True).start()
            elapsed, result = timed_import(path, {**env, "CLAMEUR_LOG_LEVEL": "WARNING"})
    finally:
        for process in processes:
            process.terminate()
        for process in processes:  # reaped here, with what each used
            _pid, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            worker_cpu += usage.ru_utime + usage.ru_stime
        if redis_url is not None:
            bus = RedisBus.from_url(redis_url, prefix=prefix)
            bus.delete_keys()
            bus.client.close()
        drop_schema(server, schema)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    stored = int(result["imported"]) + int(result["updated"])  # type: ignore[call-overload]
    return {
        "mode": "embedded" if redis_url is None else "redis",
        "workers": 0 if redis_url is None else workers,
        "concurrency": concurrency,
        "mentions": n,
        "stored": stored,
        "seconds": round(elapsed, 2),
        "mentions_per_s": round(stored / elapsed),
        "cpu_s_processes": round(cpu, 1),
        "cpu_s_workers": round(worker_cpu, 1),
        "cpu_ms_per_mention": round(1000 * cpu / stored, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-embedded", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clameur-bench-") as tmp:
        path = Path(tmp) / f"mentions-{args.size}.jsonl"
        write_jsonl(path, generate_mentions(count=args.size, seed=1))
        if not args.no_embedded:
            print(json.dumps(run(path, args.size, args.database_url, None, 0, 1)), flush=True)
        for workers in args.workers:
            figures = run(
                path, args.size, args.database_url, args.redis_url, workers, args.concurrency
            )
            print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
