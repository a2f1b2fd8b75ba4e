"""Archive search latency on a large archive, SQLite (FTS5) or PostgreSQL (GIN).

Loads N generated demo mentions (seed 1; English and French, 11 sources) for one tenant,
written in bulk with their ``search_text`` as the store step computes it (the FTS5 triggers
or the GIN index maintained on insert, as in production), then times
``clameur.listening.search`` in-process, warm, for:

- **selective** queries, built from words whose document frequency is 0.01–0.08 % (so the
  query matches at most 0.1 % of the mentions): a rare word, rare AND common, a phrase,
  NEAR, OR, an exclusion, a prefix wildcard, a hashtag, a field — every match returned
  (``clameur search`` without ``--limit``), and the API's first page with facets;
- for context, broad and unindexed queries (first page of 50, with and without facets).

The database is kept between runs (``--db`` file for SQLite; schema ``bench_search`` on
PostgreSQL) and reloaded only when its size differs from ``--mentions``.

    .venv/bin/python bench/search.py --backend sqlite --mentions 1000000
    .venv/bin/python bench/search.py --backend postgresql --mentions 1000000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from clameur.db import create_engine_for, make_session_factory, upgrade
from clameur.db.migrate import current_revision, head_revision
from clameur.demo.generator import generate_mentions
from clameur.listening import document_keys, search, search_text
from clameur.listening.search_facets import AUTHORS, MENTIONS, brand_set, facet_code
from clameur.mentions.schemas import parse_datetime
from clameur.tenancy.models import Brand, Tenant

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_search"
BATCH = 5000


def open_database(args: argparse.Namespace) -> tuple[Engine, Path]:
    if args.backend == "sqlite":
        return create_engine_for(f"sqlite:///{args.db}"), Path(f"{args.db}.vocab.json")
    admin = create_engine_for(args.pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    admin.dispose()
    separator = "&" if "?" in args.pg_url else "?"
    url = f"{args.pg_url}{separator}options=-csearch_path%3D{SCHEMA}"
    return create_engine_for(url), Path(f"/tmp/clameur-bench-search-{SCHEMA}.vocab.json")


def ready(engine: Engine, count: int, vocab_path: Path) -> bool:
    """Whether the kept archive can be reused: its size, its vocabulary file, and a schema
    at the head revision (an older archive lacks what later migrations add, e.g. the
    brand sets of 0012)."""
    if stored(engine) != count or not vocab_path.exists():
        return False
    return current_revision(engine) == head_revision()


def stored(engine: Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(MENTIONS)).scalar_one())
    except Exception:  # noqa: BLE001 - no schema yet
        return -1


def reset(engine: Engine, args: argparse.Namespace) -> Engine:
    engine.dispose()
    if args.backend == "sqlite":
        for path in Path(args.db).parent.glob(Path(args.db).name + "*"):
            path.unlink()
        return open_database(args)[0]
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    return engine


def load(engine: Engine, count: int, vocab_path: Path) -> None:
    upgrade(engine)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    df: Counter[str] = Counter()
    start = time.perf_counter()
    with engine.begin() as conn:
        tenant_id = conn.execute(
            insert(Tenant.__table__).returning(Tenant.__table__.c.id),  # type: ignore[arg-type]
            {"slug": "bench", "name": "Bench", "created_at": now, "settings": {}},
        ).scalar_one()
        authors = [
            {
                "tenant_id": tenant_id,
                "source": "twitter",
                "handle": f"user{i}",
                "verified": False,
                "first_seen_at": now,
                "last_seen_at": now,
            }
            for i in range(2000)
        ]
        conn.execute(insert(AUTHORS), authors)
        author_ids = list(conn.execute(select(AUTHORS.c.id).order_by(AUTHORS.c.id)).scalars())
        brands = [
            {"tenant_id": tenant_id, "slug": slug, "name": slug, "queries": [], "created_at": now}
            for slug in BRANDS
        ]
        conn.execute(insert(Brand.__table__), brands)  # type: ignore[arg-type]
        brand_ids = list(conn.execute(select(Brand.id).order_by(Brand.id)).scalars())
    rows: list[dict[str, Any]] = []
    keys_time = 0.0
    for n, record in enumerate(generate_mentions(count=count, seed=1)):
        t0 = time.perf_counter()
        keys = document_keys(record["text"])
        row_text = search_text(keys)
        keys_time += time.perf_counter() - t0
        df.update(keys)
        rows.append(
            {
                "tenant_id": tenant_id,
                "source": record["source"],
                "external_id": str(n),
                "author_id": author_ids[n % len(author_ids)],
                "text": record["text"],
                "search_text": row_text,
                "created_at": parse_datetime(record["created_at"], "c"),
                "lang": record.get("lang"),
                "sentiment": SENTIMENTS[n % 3],
                "brand_set": brand_set(brands_of(n, brand_ids)),
                "facet_code": facet_code(
                    record["source"],
                    SENTIMENTS[n % 3],
                    record.get("lang"),
                    brand_set(brands_of(n, brand_ids)),
                ),
                "rating": record.get("rating"),
                "url": record.get("url"),
                "content_hash": "x",
                "ingested_at": now,
            }
        )
        if len(rows) == BATCH:
            _flush(engine, rows)
            if (n + 1) % 100_000 == 0:
                print(f"  loaded {n + 1:,} ({time.perf_counter() - start:.0f} s)", flush=True)
    _flush(engine, rows)
    link_brands(engine, brand_ids)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    elapsed = time.perf_counter() - start
    print(f"loaded {count:,} mentions in {elapsed:.0f} s (index keys: {keys_time:.0f} s)")
    vocab_path.write_text(json.dumps({"count": count, "df": dict(df)}))


BRANDS = ("alpha", "beta", "gamma")
SENTIMENTS = ("negative", "neutral", "positive")


def brands_of(n: int, ids: list[int]) -> list[int]:
    """What the pipeline would have linked, so that facets count realistic rows: one brand
    for 85 % of the mentions, two for 10 %, none for 5 %."""
    if n % 20 == 0:
        return []
    first = ids[n % 3]
    return sorted({first, ids[(n + 1) % 3]}) if n % 10 == 1 else [first]


def link_brands(engine: Engine, ids: list[int]) -> None:
    """``mention_brands`` for every mention, by the rule of :func:`brands_of` (external ids
    are the generation numbers)."""
    n = "CAST(external_id AS INTEGER)"
    first = f"CASE {n} % 3 WHEN 0 THEN {ids[0]} WHEN 1 THEN {ids[1]} ELSE {ids[2]} END"
    second = f"CASE ({n} + 1) % 3 WHEN 0 THEN {ids[0]} WHEN 1 THEN {ids[1]} ELSE {ids[2]} END"
    insert_links = (
        "INSERT INTO mention_brands (tenant_id, mention_id, brand_id) SELECT tenant_id, id, "
    )
    with engine.begin() as conn:
        conn.execute(text(f"{insert_links}{first} FROM mentions WHERE {n} % 20 <> 0"))  # noqa: S608
        conn.execute(text(f"{insert_links}{second} FROM mentions WHERE {n} % 10 = 1"))  # noqa: S608


def _flush(engine: Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(MENTIONS), rows)
        rows.clear()


def pick_queries(df: dict[str, int], count: int) -> list[tuple[str, str]]:
    """(label, query): selective ones from rare words, then broad ones for context."""

    def words(low: float, high: float, *, tags: bool = False) -> list[str]:
        found = [
            k
            for k, n in df.items()
            if low * count <= n <= high * count
            and len(k) >= 5
            and (k.startswith("#") if tags else k.isalpha() and k.isascii())
        ]
        return sorted(found, key=lambda k: (-df[k], k))

    rare = words(0.0001, 0.0004)
    common = words(0.05, 0.2)
    r1, r2, r3 = rare[0], rare[1], rare[2]
    c1 = common[0]
    tag = (words(0.0001, 0.0008, tags=True) or ["#" + r3])[0]
    prefix = next(
        (
            w
            for w in rare
            if len(w) >= 6
            and sum(df[k] for k in df if k.startswith(w[:-1]) and k.isalpha()) <= 0.0008 * count
        ),
        r3,
    )
    return [
        ("rare word", r1),
        ("rare AND common", f"{r1} {c1}"),
        ("phrase", f'"{r2} {c1}"'),
        ("NEAR", f"{r1} NEAR/5 {c1}"),
        ("OR of rare words", f"{r1} OR {r2} OR {r3}"),
        ("exclusion", f"{r2} -{c1}"),
        ("prefix wildcard", prefix[:-1] + "*"),
        ("hashtag", tag),
        ("word + field", f"{r3} source:(twitter OR review OR forum)"),
        ("broad word", c1),
        ("unindexed fields", "source:review rating:1"),
    ]


def timed(run: Callable[[], Any], repeat: int, warmup: int = 2) -> tuple[list[float], Any]:
    result = None
    for _ in range(warmup):
        result = run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - start) * 1000)
    return times, result


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/clameur-bench-search.db")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    engine, vocab_path = open_database(args)
    if not ready(engine, args.mentions, vocab_path):
        engine = reset(engine, args)
        load(engine, args.mentions, vocab_path)
    vocab = json.loads(vocab_path.read_text())
    factory = make_session_factory(engine)
    with factory() as session:
        tenant_id = session.execute(select(Tenant.id).where(Tenant.slug == "bench")).scalar_one()

    def run(query: str, **options: Any) -> Callable[[], Any]:
        def once() -> Any:
            session: Session = factory()
            try:
                return search(session, tenant_id, query, **options)
            finally:
                session.close()

        return once

    total = args.mentions
    print(f"\n{args.backend}, {total:,} mentions, {args.repeat} runs each, times in ms")
    print(
        f"{'query':<22} {'text':<44} {'matches':>8} {'%':>6} {'cand.':>7} {'mode':<22}"
        f" {'p50':>7} {'p95':>7}"
    )
    for label, query in pick_queries(vocab["df"], total):
        modes: list[tuple[str, dict[str, Any]]] = [
            ("all matches", {}),
            ("page 50 + facets", {"limit": 50, "facets": True}),
        ]
        if label in ("broad word", "unindexed fields"):
            modes = [
                ("page 50", {"limit": 50}),
                ("page 50 + facets", {"limit": 50, "facets": True}),
            ]
        for mode, options in modes:
            slow = "facets" in mode and label in ("broad word", "unindexed fields")
            times, result = timed(
                run(query, **options), 1 if slow else args.repeat, 0 if slow else 2
            )
            matches = result.total if result.total is not None else None
            found = f"{matches:,}" if matches is not None else f">{len(result.hits)}"
            share = f"{100 * matches / total:.3f}" if matches is not None else "—"
            print(
                f"{label:<22} {query[:44]:<44} {found:>8} {share:>6} "
                f"{result.candidates:>7,} {mode:<22} {statistics.median(times):>7.1f} "
                f"{p95(times):>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
