"""The PostgreSQL write path of an import, statement by statement, before and after (#18).

Writes the rows a 5,000-mention import writes (shapes and counts measured on the demo
traffic: 3,300 authors, 5,000 mentions and brand links, 5,000 campaign signatures, 43,000
band rows, 24,500 vocabulary counts), in batches of 1,000 mentions, into a fresh schema,
once with the statements the import used before (SQLAlchemy Core ``executemany``: multi-row
``VALUES`` with ``RETURNING``) and once through ``clameur.db.bulk`` (``COPY``, ids from the
sequence, ``unnest`` arrays), alternating the two for several rounds on the same data and
reporting the median seconds of each write. The machine is shared: only medians of
alternating rounds mean anything.

    .venv/bin/python bench/pg_write_path.py [--rounds 5]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from clameur.db import bulk, create_engine_for, make_session_factory, upgrade
from clameur.detection import campaign_store as store
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand, MentionBrand, Tenant

AUTHORS = cast(Table, Author.__table__)
MENTIONS = cast(Table, Mention.__table__)
LINKS = cast(Table, MentionBrand.__table__)
SCHEMA = "bench_pg_write_path"
BATCHES = 5
PER_BATCH = 1_000


def _old_insert_returning(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    columns = [table.c[k] for k in ("tenant_id", "source", "external_id")]
    returned = session.execute(insert(table).returning(table.c.id, *columns), rows)
    found = {tuple(r[1:]): r[0] for r in returned}
    return [found[(r["tenant_id"], r["source"], r["external_id"])] for r in rows]


def _old_insert_missing(session: Session, rows: list[dict[str, Any]]) -> list[int | None]:
    key = ("tenant_id", "source", "handle")
    stmt = pg_insert(AUTHORS).on_conflict_do_nothing(index_elements=list(key))
    returned = session.execute(stmt.returning(AUTHORS.c.id, *[AUTHORS.c[k] for k in key]), rows)
    found = {tuple(r[1:]): r[0] for r in returned}
    return [found.get(tuple(r[k] for k in key)) for r in rows]


def _old_vocabulary(session: Session, tenant: int, rows: list[tuple[int, int, int]]) -> None:
    session.execute(
        text(
            "INSERT INTO campaign_vocabulary (tenant_id, shingle, day, docs) "
            "VALUES (:t, :s, :d, :n) ON CONFLICT (tenant_id, shingle, day) "
            "DO UPDATE SET docs = campaign_vocabulary.docs + excluded.docs"
        ),
        [{"t": tenant, "s": s, "d": d, "n": n} for s, d, n in rows],
    )


def _old_plain(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    session.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])


class Data:
    """One import's rows, batch by batch (the same for every variant and round)."""

    def __init__(self, tenant: int, brand: int, seed: int = 1) -> None:
        rnd = random.Random(seed)
        start = datetime(2025, 3, 1, tzinfo=UTC)
        self.tenant, self.brand = tenant, brand
        self.batches: list[dict[str, Any]] = []
        for b in range(BATCHES):
            at = [start + timedelta(seconds=rnd.randrange(86_400 * 3)) for _ in range(PER_BATCH)]
            handles = sorted({f"u{b}-{rnd.randrange(5_000)}" for _ in range(PER_BATCH * 2 // 3)})
            self.batches.append(
                {
                    "authors": [
                        {
                            "tenant_id": tenant,
                            "source": "x",
                            "handle": h,
                            "first_seen_at": at[0],
                            "last_seen_at": at[-1],
                            "name": h.title(),
                            "followers": rnd.randrange(10_000),
                            "account_created_at": start - timedelta(days=400),
                            "verified": False,
                            "url": f"https://x.example/{h}",
                            "influence_score": rnd.random(),
                        }
                        for h in handles
                    ],
                    "mentions": [self._mention(rnd, b, i, at[i]) for i in range(PER_BATCH)],
                    "bands": [
                        (tenant, rnd.getrandbits(62), rnd.getrandbits(62), int(at[i].timestamp()))
                        for i in range(PER_BATCH)
                        for _ in range(9)
                    ],
                    "vocabulary": sorted(
                        {
                            (rnd.getrandbits(62), 20_150 + rnd.randrange(3), rnd.randrange(1, 4))
                            for _ in range(5_000)
                        }
                    ),
                    "at": at,
                }
            )
        self.signature = bytes(range(256)) * 2

    def _mention(self, rnd: random.Random, b: int, i: int, at: datetime) -> dict[str, Any]:
        words = " ".join(
            rnd.choice(["service", "colis", "merci", "retard", "app"]) for _ in range(20)
        )
        return {
            "tenant_id": self.tenant,
            "source": "x",
            "external_id": f"m{b}-{i}",
            "author_id": None,  # set once the batch's authors have ids
            "conversation_id": None,
            "ingested_at": at,
            "text": words,
            "search_text": words,
            "brand_set": f",{self.brand},",
            "facet_code": 12345,
            "created_at": at,
            "url": f"https://x.example/status/{b}-{i}",
            "in_reply_to": None,
            "rating": None,
            "metrics": {"likes": rnd.randrange(50), "shares": rnd.randrange(5)},
            "raw": {"lang": "fr"},
            "content_hash": f"{rnd.getrandbits(128):032x}",
            "edit_history": [],
            "lang": "fr",
            "sentiment": "negative",
            "sentiment_score": rnd.random(),
            "intent": "complaint",
            "intent_score": rnd.random(),
            "toxicity": rnd.random() / 10,
            "toxicity_labels": [],
            "actionability": "actionable",
            "influence": rnd.random(),
            "reach": rnd.randrange(10_000),
            "priority": rnd.random(),
            "priority_level": "p3",
            "priority_reasons": ["negative"],
        }


def run(session: Session, data: Data, new: bool, times: dict[str, float]) -> None:
    @contextmanager
    def timed(name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        times[name] += time.perf_counter() - start

    t = data.tenant
    for batch in data.batches:
        authors: list[dict[str, Any]] = batch["authors"]
        key = ("tenant_id", "source", "handle")
        with timed("authors"):
            if new:
                ids = bulk.insert_missing_returning_ids(session, AUTHORS, authors, key)
            else:
                ids = _old_insert_missing(session, authors)
        by_handle = dict(zip((a["handle"] for a in authors), ids, strict=True))
        rows = [
            {**m, "author_id": by_handle[authors[i % len(authors)]["handle"]]}
            for i, m in enumerate(batch["mentions"])
        ]
        with timed("mentions"):
            if new:
                mention_ids = bulk.insert_returning_ids(
                    session, MENTIONS, rows, ("tenant_id", "source", "external_id")
                )
            else:
                mention_ids = _old_insert_returning(session, MENTIONS, rows)
        links = [(t, m, data.brand) for m in mention_ids]
        signatures = [
            (t, i, "x", r["external_id"], r["author_id"], data.brand, i, None, None,
             data.signature, 300.0, 10, False, False, None, 3)
            for i, r in zip(mention_ids, rows, strict=True)
        ]  # fmt: skip
        plain = bulk.copy_rows if new else _old_plain
        with timed("mention_brands"):
            plain(session, LINKS, ("tenant_id", "mention_id", "brand_id"), links)
        with timed("campaign_signatures"):
            plain(session, store.SIGNATURES, store.SIGNATURE_COLUMNS, signatures)
        with timed("campaign_bands"):
            plain(session, store.BANDS, store.BAND_COLUMNS, batch["bands"])
        with timed("campaign_vocabulary"):
            (store.add_vocabulary if new else _old_vocabulary)(session, t, batch["vocabulary"])


def clear(session: Session) -> None:
    session.execute(
        text(
            "TRUNCATE campaign_bands, campaign_signatures, campaign_vocabulary, mention_brands, "
            "mentions, authors CASCADE"
        )
    )
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    admin = create_engine_for(args.database_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    try:
        separator = "&" if "?" in args.database_url else "?"
        engine = create_engine_for(
            f"{args.database_url}{separator}options=-csearch_path%3D{SCHEMA}"
        )
        upgrade(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            now = datetime.now(UTC)
            tenant = Tenant(name="bench", slug="bench", created_at=now)
            session.add(tenant)
            session.flush()
            brand = Brand(tenant_id=tenant.id, name="Brand", slug="brand", created_at=now)
            session.add(brand)
            session.commit()
            data = Data(tenant.id, brand.id)
        results: dict[str, dict[str, list[float]]] = {
            "before": defaultdict(list),
            "after": defaultdict(list),
        }
        for r in range(args.rounds):
            for variant in ("before", "after") if r % 2 == 0 else ("after", "before"):
                times: dict[str, float] = defaultdict(float)
                with factory() as session:
                    run(session, data, variant == "after", times)
                    session.commit()
                    clear(session)
                for name, seconds in times.items():
                    results[variant][name].append(seconds)
                results[variant]["total"].append(sum(times.values()))
        print(f"{'write':22s} {'before s':>9s} {'after s':>9s}  (medians of {args.rounds} rounds)")
        for name in results["before"]:
            b = statistics.median(results["before"][name])
            a = statistics.median(results["after"][name])
            print(f"{name:22s} {b:9.3f} {a:9.3f}  ×{b / a:.1f}")
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
