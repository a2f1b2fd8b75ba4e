"""Resident memory while importing a large generated file: it must plateau, not grow.

Imports N demo mentions (default 200,000) in-process into a fresh SQLite database and prints
the resident set size every 20 batches, with the running throughput.

    .venv/bin/python bench/import_memory.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, upgrade
from clameur.demo.generator import generate_mentions, write_jsonl
from clameur.demo.load import ensure_demo_tenants
from clameur.pipeline import Pipeline


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory(prefix="clameur-mem-") as tmp:
        path = Path(tmp) / "m.jsonl"
        write_jsonl(path, generate_mentions(count=n, seed=3))
        engine = create_engine_for(f"sqlite:///{Path(tmp) / 'm.db'}")
        upgrade(engine)
        pipeline = Pipeline(factory=make_session_factory(engine), settings=Settings())
        ensure_demo_tenants(pipeline)
        size = path.stat().st_size
        start = time.perf_counter()
        batches = 0
        print(f"before import: rss {rss_mib():.0f} MiB")

        def report(done: int) -> None:
            nonlocal batches
            batches += 1
            if batches % 20 == 0:
                elapsed = time.perf_counter() - start
                print(
                    f"{done / size:6.1%} of file  batches {batches:4d}  rss {rss_mib():6.0f} MiB"
                    f"  {batches * 1000 / elapsed:6.0f} mentions/s"
                )

        result = pipeline.import_file(path, progress=report)
        print(f"done: {result.imported} imported in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
