"""Hostile queries on a large archive (issue #14): the worst queries the limits accept, a
normal search beside four of them, and facets of a broad query — SQLite or PostgreSQL.

Reuses the archive of ``bench/search.py`` (same database, same generated mentions; built on
first use and kept). Every search runs as the API runs it: a first page of 50 with facets,
under the API's deadline (``--timeout``, ``CLAMEUR_SEARCH_TIMEOUT_SECONDS``'s default) and
the facets' budget (``--facets-timeout``, ``CLAMEUR_SEARCH_FACETS_SECONDS``'s); a search
stopped by it is reported as ``stopped``.

    .venv/bin/python bench/search_abuse.py --backend sqlite
    .venv/bin/python bench/search_abuse.py --backend postgresql
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clameur.config import Settings
from clameur.db import make_session_factory
from clameur.listening import SearchTimeout, search
from clameur.listening.query import parse
from clameur.tenancy.models import Tenant

sys.path.insert(0, str(Path(__file__).parent))
import search as archive  # noqa: E402 - bench/search.py, the archive builder

Run = Callable[[], tuple[float, str, int | None]]


def hostile_queries(df: dict[str, int], total: int) -> list[tuple[str, str]]:
    """(label, query): the costliest shapes the limits let through, on the archive's words."""
    words = sorted(
        (k for k, n in df.items() if k.isalpha() and k.isascii() and len(k) >= 4),
        key=lambda k: -df[k],
    )
    common = words[:300]
    fives = [w for w in words if len(w) == 5][:40]
    jokers = [w[0] + "??" + w[3] + "?" for w in fives]  # v??t? shapes, the example
    jokers = list(dict.fromkeys(jokers))[:14]
    queries = [
        ("256-word OR (broad)", " OR ".join(common[:256])),
        ("256-word AND", " ".join(common[:256])),
        ("16 ? wildcards", " OR ".join(["?" + fives[0][1:], "?" + fives[1][1:], *jokers])),
        (
            "16 NEAR, 5x5 sides",
            " OR ".join(
                f"({' OR '.join(common[i : i + 5])}) NEAR/1000 "
                f"({' OR '.join(common[i + 5 : i + 10])})"
                for i in range(0, 160, 10)
            ),
        ),
        (
            "64 broad phrases",
            " OR ".join(f'"{common[i]} {common[i + 1]}"' for i in range(0, 128, 2)),
        ),
        ("16 deep, alternating", _alternating(common)),
    ]
    for _label, query in queries:
        parse(query)  # accepted: under every limit
    return queries


def _alternating(common: list[str]) -> str:
    query = f'"{common[0]} {common[1]}"'
    for level in range(16):
        op = " OR " if level % 2 else " "
        query = f"{common[level + 2]}{op}({query})"
    return query


def runner(
    factory: sessionmaker[Session], tenant_id: int, query: str, timeout: float, **options: Any
) -> Run:
    def once() -> tuple[float, str, int | None]:
        session = factory()
        start = time.perf_counter()
        try:
            found = search(session, tenant_id, query, timeout=timeout, **options)
            outcome = "no facets" if found.facets_stopped else "ok"
            return (time.perf_counter() - start) * 1000, outcome, found.total
        except SearchTimeout:
            return (time.perf_counter() - start) * 1000, "stopped", None
        finally:
            session.close()

    return once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/clameur-bench-search.db")
    parser.add_argument("--pg-url", default=archive.PG_URL)
    parser.add_argument("--repeat", type=int, default=5)
    defaults = Settings()
    parser.add_argument("--timeout", type=float, default=defaults.search_timeout_seconds)
    parser.add_argument("--facets-timeout", type=float, default=defaults.search_facets_seconds)
    parser.add_argument("--normal-runs", type=int, default=60)
    args = parser.parse_args()

    engine, vocab_path = archive.open_database(args)
    if not archive.ready(engine, args.mentions, vocab_path):
        engine = archive.reset(engine, args)
        archive.load(engine, args.mentions, vocab_path)
    df: dict[str, int] = json.loads(vocab_path.read_text())["df"]
    factory = make_session_factory(engine)
    with factory() as session:
        tenant_id = session.execute(select(Tenant.id).where(Tenant.slug == "bench")).scalar_one()
    page = {"limit": 50, "facets": True, "brands": True, "facets_timeout": args.facets_timeout}
    picked = dict(archive.pick_queries(df, args.mentions))
    print(
        f"\n{args.backend}, {args.mentions:,} mentions, API mode (page 50 + facets, "
        f"deadline {args.timeout:g} s, facets {args.facets_timeout:g} s), ms"
    )

    print(f"\n{'worst-case accepted query':<24} {'chars':>6} {'matches':>9} {'p50':>8} {'max':>8}")
    hostile = hostile_queries(df, args.mentions)
    for label, query in hostile:
        run = runner(factory, tenant_id, query, args.timeout, **page)
        results = [run() for _ in range(args.repeat)]
        times = [r[0] for r in results]
        outcome = {r[1] for r in results}
        matches = results[-1][2]
        shown = f"{matches:,}" if matches is not None else "/".join(sorted(outcome))
        print(
            f"{label:<24} {len(query):>6} {shown:>9} {statistics.median(times):>8.1f} "
            f"{max(times):>8.1f}",
            flush=True,
        )

    print(f"\n{'facets of a broad query':<24} {'query':<20} {'matches':>9} {'p50':>8} {'p95':>8}")
    for label in ("broad word", "unindexed fields"):
        run = runner(factory, tenant_id, picked[label], args.timeout, **page)
        results = [run() for _ in range(args.repeat * 2)]
        times = [r[0] for r in results]
        total = results[-1][2]
        print(
            f"{label:<24} {picked[label][:20]:<20} {total if total is not None else '—':>9} "
            f"{statistics.median(times):>8.1f} {archive.p95(times):>8.1f}",
            flush=True,
        )

    normal = runner(factory, tenant_id, picked["rare AND common"], args.timeout, **page)
    alone = [normal()[0] for _ in range(args.normal_runs)]
    stop = threading.Event()
    heavy = [q for _label, q in hostile]

    def attacker(k: int) -> None:
        i = k
        while not stop.is_set():
            runner(factory, tenant_id, heavy[i % len(heavy)], args.timeout, **page)()
            i += 1

    threads = [threading.Thread(target=attacker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    beside = [normal()[0] for _ in range(args.normal_runs)]
    stop.set()
    for thread in threads:
        thread.join()
    print(
        f"\nnormal search ({picked['rare AND common']}), page 50 + facets: "
        f"alone p50 {statistics.median(alone):.1f} p95 {archive.p95(alone):.1f}; "
        f"beside 4 worst-case loops p50 {statistics.median(beside):.1f} "
        f"p95 {archive.p95(beside):.1f}"
    )


if __name__ == "__main__":
    main()
