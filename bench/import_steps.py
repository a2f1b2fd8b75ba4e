"""Seconds per pipeline step of an in-process import, on SQLite or PostgreSQL (#18).

Generates N demo mentions (seed 1), imports them into a fresh database in this process
with the analysis prefetch off (so that the analyse step is timed here, not in a child)
and prints the wall time of each step of ``clameur.pipeline.chain.STEPS``. Pass a tree to
measure another checkout of the code (``PYTHONPATH=<tree>/src``), ``prof`` to also write
a cProfile to /tmp/import_steps.prof. The machine is shared: compare alternating runs.

    PYTHONPATH=src .venv/bin/python bench/import_steps.py [N] [DATABASE_URL | -] [prof]
"""

from __future__ import annotations

import cProfile
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import clameur.pipeline.chain as chain
import clameur.pipeline.service as service
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory
from clameur.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).parent))
import import_throughput as throughput  # noqa: E402 - the sibling script, found above

SECONDS: Counter[str] = Counter()


def _timed(name: str, step: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def run(ctx: Any, drafts: Any) -> Any:
        start = time.perf_counter()
        out = step(ctx, drafts)
        SECONDS[name] += time.perf_counter() - start
        return out

    return run


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    server = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    steps = tuple((name, _timed(name, step)) for name, step in chain.STEPS)
    original = chain.process_batch

    def process_batch(ctx: Any, records: Any, _steps: Any = None) -> Any:
        return original(ctx, records, steps)

    service.process_batch = process_batch  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        path, url = throughput.prepare(Path(tmp), n, server)
        try:
            engine = create_engine_for(url)
            settings = Settings(import_prefetch=False)
            pipeline = Pipeline(factory=make_session_factory(engine), settings=settings)
            pipeline.analyzer.analyse([])  # models loaded before the clock starts
            profiler = cProfile.Profile() if "prof" in sys.argv else None
            if profiler is not None:
                profiler.enable()
            start = time.perf_counter()
            result = pipeline.import_file(path)
            elapsed = time.perf_counter() - start
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats("/tmp/import_steps.prof")
            backend = "sqlite" if server is None else "postgresql"
            print(f"{backend} {n}: {elapsed:.2f} s, {result.imported / elapsed:.0f} mentions/s")
            for name, seconds in SECONDS.most_common():
                print(f"  {name:12s} {seconds:6.2f} s {seconds / elapsed * 100:5.1f} %")
            engine.dispose()
        finally:
            throughput.drop_schema(server, n)


if __name__ == "__main__":
    main()
