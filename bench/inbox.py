"""Inbox listing latency: 1,000,000 mentions, 100,000 open conversations, SQLite and PostgreSQL.

Builds one tenant with Core ``insert`` executemany (not the pipeline; seeded): 250,000
authors, 20 queues, 200 agents (10 a queue), 250,000 conversations — 100,000 ``open``,
20,000 pending/waiting/escalated, 130,000 resolved/closed — holding ~490,000 of the
1,000,000 mentions (1–25 each; the others are chatter that opened none), plus a small second
tenant. Priority scores follow the analysis' range (0–100, one decimal; 3 % unscored);
queue sizes are skewed (2,940 to 13,191 open conversations); 45 % of open conversations are
assigned. SQLite gets no ``ANALYZE`` (the embedded deployment never runs it) unless
``--sqlite-analyze``; PostgreSQL gets ``VACUUM ANALYZE`` (autovacuum's job in production).

Then ``clameur.care.inbox`` is called in-process (the service call, not HTTP), each call in
a new session, rotating over queues / agents, for:

- the first page (50) of a queue, status ``open``;
- "my conversations": an agent's, every open status;
- "unassigned" in a queue;
- for context: a queue with every open status, the second page of a queue (cursor), the
  whole tenant's first page, the whole tenant's unassigned.

The database is a file in /tmp (SQLite) or the schema ``bench_inbox`` of the ``test``
database (PostgreSQL); both are deleted at the end unless ``--keep`` (then reused when their
size matches).

    .venv/bin/python bench/inbox.py --backend sqlite
    .venv/bin/python bench/inbox.py --backend postgresql
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, event, func, insert, select, text
from sqlalchemy.orm import Session

from _databases import drop_database, open_database
from clameur.care.inbox import inbox
from clameur.care.models import OPEN_STATUSES, Conversation, Incident, Queue
from clameur.db import make_session_factory, upgrade
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand, Membership, Tenant, User

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_inbox"
CHUNK = 10_000
PROPOSED_INDEXES = {
    "ix_bench_status_priority": "tenant_id, status, priority, id",
    "ix_bench_assignee_priority": "tenant_id, assignee_id, status, priority, id",
}
"""Indexes measured with ``--proposed-indexes`` before migration 0006 adopted them (as
``ix_conversations_status_priority`` and a wider ``ix_conversations_assignee``); the flag
now only adds duplicates, kept to reproduce the docs' comparison on an older schema."""
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SOURCES = (
    ("twitter", 40),
    ("facebook", 20),
    ("instagram", 15),
    ("email", 10),
    ("review", 8),
    ("forum", 7),
)
LEVELS = (("P1", 75.0), ("P2", 55.0), ("P3", 35.0))
WORDS = (
    "commande",
    "livraison",
    "colis",
    "retard",
    "remboursement",
    "facture",
    "abonnement",
    "service",
    "client",
    "toujours",
    "rien",
    "reçu",
    "depuis",
    "semaine",
    "merci",
    "réponse",
    "urgent",
    "problème",
    "appli",
    "bug",
    "connexion",
    "compte",
    "bloqué",
    "carte",
    "paiement",
    "refusé",
    "magasin",
    "produit",
    "cassé",
    "échange",
    "retour",
    "délai",
    "order",
    "delivery",
    "late",
    "refund",
    "invoice",
    "subscription",
    "support",
    "still",
    "nothing",
    "received",
    "week",
    "thanks",
    "answer",
    "urgent",
    "problem",
    "app",
    "login",
    "account",
    "blocked",
    "card",
    "payment",
    "store",
    "broken",
)


def table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


# -- building -----------------------------------------------------------------------------


def stored(engine: Engine) -> tuple[int, int]:
    try:
        with engine.connect() as conn:
            mentions = conn.execute(select(func.count()).select_from(table(Mention))).scalar_one()
            open_ = conn.execute(
                select(func.count())
                .select_from(table(Conversation))
                .where(table(Conversation).c.status == "open")
            ).scalar_one()
            return int(mentions), int(open_)
    except Exception:  # noqa: BLE001 - no schema yet
        return -1, -1


def weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> Iterator[str]:
    names = [n for n, _ in pairs]
    weights = [w for _, w in pairs]
    while True:
        yield from rng.choices(names, weights, k=1000)


def score(rng: random.Random) -> tuple[float | None, str | None]:
    if rng.random() < 0.03:
        return None, None
    value = round(min(100.0, max(0.0, rng.gauss(45, 16))), 1)
    return value, next((n for n, floor in LEVELS if value >= floor), "P4")


class Builder:
    """Seeded rows, written CHUNK at a time with Core executemany."""

    def __init__(self, engine: Engine, seed: int) -> None:
        self.engine = engine
        self.rng = random.Random(seed)
        self.next_id = {"authors": 1, "conversations": 1, "mentions": 1}
        self.inserted = {"authors": 0, "conversations": 0, "mentions": 0}
        self.start = time.perf_counter()

    def write(self, model: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(table(model)), rows)
            self.inserted[table(model).name] += len(rows)
            rows.clear()

    def tenant(self, slug: str, queues: int, agents_per_queue: int) -> dict[str, Any]:
        with self.engine.begin() as conn:
            tenant_id = conn.execute(
                insert(table(Tenant)).returning(table(Tenant).c.id),
                {"slug": slug, "name": slug.title(), "created_at": NOW, "settings": {}},
            ).scalar_one()
            brand_ids = [
                conn.execute(
                    insert(table(Brand)).returning(table(Brand).c.id),
                    {
                        "tenant_id": tenant_id,
                        "slug": f"b{i}",
                        "name": f"Brand {i}",
                        "queries": [],
                        "created_at": NOW,
                    },
                ).scalar_one()
                for i in range(3)
            ]
            queue_ids = [
                conn.execute(
                    insert(table(Queue)).returning(table(Queue).c.id),
                    {"tenant_id": tenant_id, "name": f"Queue {i}", "position": i, "filters": {}},
                ).scalar_one()
                for i in range(queues)
            ]
            agents: dict[int, list[int]] = {}
            for q in queue_ids:
                agents[q] = []
                for i in range(agents_per_queue):
                    user_id = conn.execute(
                        insert(table(User)).returning(table(User).c.id),
                        {
                            "email": f"agent{q}-{i}@{slug}.test",
                            "name": f"Agent {q}-{i}",
                            "active": True,
                            "operator": False,
                            "created_at": NOW,
                        },
                    ).scalar_one()
                    conn.execute(
                        insert(table(Membership)),
                        {
                            "tenant_id": tenant_id,
                            "user_id": user_id,
                            "role": "agent",
                            "created_at": NOW,
                        },
                    )
                    agents[q].append(user_id)
            incident_ids = [
                conn.execute(
                    insert(table(Incident)).returning(table(Incident).c.id),
                    {
                        "tenant_id": tenant_id,
                        "title": f"Incident {i}",
                        "status": "open",
                        "opened_at": NOW - timedelta(days=i),
                    },
                ).scalar_one()
                for i in range(3)
            ]
        return {
            "id": tenant_id,
            "slug": slug,
            "brands": brand_ids,
            "queues": queue_ids,
            "agents": agents,
            "incidents": incident_ids,
        }

    def populate(
        self, tenant: dict[str, Any], authors: int, conversations: dict[str, int], mentions: int
    ) -> None:
        rng = self.rng
        tid = tenant["id"]
        sources = weighted(rng, SOURCES)
        first_author = self.next_id["authors"]
        author_source: list[str] = []
        rows: list[dict[str, Any]] = []
        for i in range(authors):
            source = next(sources)
            author_source.append(source)
            rows.append(
                {
                    "id": first_author + i,
                    "tenant_id": tid,
                    "source": source,
                    "handle": f"{tenant['slug']}_user{i}",
                    "name": f"User {i}",
                    "followers": int(rng.lognormvariate(5, 2)),
                    "verified": rng.random() < 0.01,
                    "first_seen_at": NOW - timedelta(days=200),
                    "last_seen_at": NOW,
                }
            )
            if len(rows) == CHUNK:
                self.write(Author, rows)
        self.write(Author, rows)
        self.next_id["authors"] += authors

        queue_ids: list[int] = tenant["queues"]
        queue_weights = [1 / (i + 1) ** 0.5 for i in range(len(queue_ids))]
        plan = [s for s, n in conversations.items() for _ in range(n)]
        rng.shuffle(plan)
        in_conversations = 0
        conv_rows: list[dict[str, Any]] = []
        mention_rows: list[dict[str, Any]] = []
        mean_per_conversation = 0.6 * mentions / len(plan)
        for status in plan:
            cid = self.next_id["conversations"]
            self.next_id["conversations"] += 1
            a = rng.randrange(authors)
            author_id, source = first_author + a, author_source[a]
            active = status in OPEN_STATUSES
            opened = NOW - timedelta(seconds=rng.uniform(0, (14 if active else 180) * 86400))
            count = 1 + int(rng.expovariate(1 / max(0.01, mean_per_conversation - 1)))
            times = sorted(
                opened + timedelta(seconds=rng.uniform(0, 2 * 86400)) for _ in range(count - 1)
            )
            times = [opened, *times]
            for n, at in enumerate(times):
                mention_rows.append(self.mention(tid, source, author_id, at, cid, n))
            in_conversations += count
            priority, level = score(rng)
            queue_id = rng.choices(queue_ids, queue_weights)[0]
            assigned = rng.random() < (0.45 if status == "open" else 0.9)
            assignee = rng.choice(tenant["agents"][queue_id]) if assigned else None
            due = opened + timedelta(hours=rng.choice((1, 4, 8, 24)))
            conv_rows.append(
                {
                    "id": cid,
                    "tenant_id": tid,
                    "source": source,
                    "author_id": author_id,
                    "brand_id": rng.choice(tenant["brands"]),
                    "status": status,
                    "priority_level": level,
                    "priority": priority,
                    "root_external_id": mention_rows[-count]["external_id"],
                    "opened_at": opened,
                    "last_activity_at": times[-1],
                    "mention_count": count,
                    "incident_id": rng.choice(tenant["incidents"]) if rng.random() < 0.01 else None,
                    "flags": ["campaign"] if rng.random() < 0.005 else [],
                    "lang": rng.choice(("fr", "fr", "en")),
                    "queue_id": queue_id,
                    "assignee_id": assignee,
                    "assigned_at": opened if assigned else None,
                    "tags": [],
                    "last_customer_at": times[-1],
                    "sla": {
                        "clocks": {
                            "first_response": {"state": "running", "due_at": due.isoformat()}
                        }
                    }
                    if active
                    else {},
                }
            )
            if len(mention_rows) >= CHUNK:
                self.write(Conversation, conv_rows)  # before their mentions (foreign key)
                self.write(Mention, mention_rows)
                self.progress()
        self.write(Conversation, conv_rows)
        self.write(Mention, mention_rows)
        for _ in range(max(0, mentions - in_conversations)):
            a = rng.randrange(authors)
            at = NOW - timedelta(seconds=rng.uniform(0, 180 * 86400))
            mention_rows.append(self.mention(tid, author_source[a], first_author + a, at, None, 0))
            if len(mention_rows) == CHUNK:
                self.write(Mention, mention_rows)
                self.progress()
        self.write(Mention, mention_rows)

    def mention(
        self, tid: int, source: str, author_id: int, at: datetime, cid: int | None, n: int
    ) -> dict[str, Any]:
        mid = self.next_id["mentions"]
        self.next_id["mentions"] += 1
        words = self.rng.choices(WORDS, k=self.rng.randint(6, 40))
        return {
            "id": mid,
            "tenant_id": tid,
            "source": source,
            "external_id": f"m{mid}",
            "author_id": author_id,
            "text": "@brand " + " ".join(words),
            "search_text": "",
            "created_at": at,
            "in_reply_to": f"m{mid - 1}" if n else None,
            "content_hash": "x",
            "ingested_at": NOW,
            "conversation_id": cid,
        }

    def progress(self) -> None:
        done = self.inserted["mentions"]
        if done % 100_000 < CHUNK:
            print(
                f"  {done:,} mentions, {self.inserted['conversations']:,} conversations "
                f"({time.perf_counter() - self.start:.0f} s)",
                flush=True,
            )


def build(engine: Engine, args: argparse.Namespace) -> None:
    upgrade(engine)
    builder = Builder(engine, args.seed)
    main_tenant = builder.tenant("bench", queues=20, agents_per_queue=10)
    open_ = args.open
    builder.populate(
        main_tenant,
        authors=args.mentions // 4,
        mentions=args.mentions,
        conversations={
            "open": open_,
            "pending": open_ // 10,
            "waiting": open_ // 20,
            "escalated": open_ // 20,
            "resolved": open_ * 7 // 10,
            "closed": open_ * 6 // 10,
        },
    )
    other = builder.tenant("other", queues=3, agents_per_queue=2)
    builder.populate(
        other, authors=2000, mentions=20_000, conversations={"open": 3000, "closed": 2000}
    )
    if engine.dialect.name == "postgresql":
        for name in ("authors", "conversations", "mentions"):
            with engine.begin() as conn:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
    analyse_start = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    elapsed = time.perf_counter() - builder.start
    print(
        f"built {builder.inserted['mentions']:,} mentions, "
        f"{builder.inserted['conversations']:,} conversations, "
        f"{builder.inserted['authors']:,} authors in {elapsed:.0f} s"
        + (
            f" (of which VACUUM ANALYZE {time.perf_counter() - analyse_start:.0f} s)"
            if engine.dialect.name == "postgresql"
            else ""
        ),
        flush=True,
    )


# -- timing -------------------------------------------------------------------------------


def percentiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


class Statements:
    """The statements a call sends (to count round trips and explain the page query)."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.on:
            self.seen.append((statement, params))


def explain(engine: Engine, statement: str, params: Any) -> str:
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        if engine.dialect.name == "sqlite":
            rows = raw.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
            return "\n".join(f"    {r[-1]}" for r in rows)
        with raw.cursor() as cur:
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}", params)
            return "\n".join(f"    {r[0]}" for r in cur.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000, help="open conversations")
    parser.add_argument("--db", default="/tmp/clameur-bench-inbox.db")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--repeat", type=int, default=240)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the database")
    parser.add_argument("--explain", action="store_true", help="print the page query plans")
    parser.add_argument(
        "--sqlite-analyze",
        action="store_true",
        help="SQLite: measure with ANALYZE statistics (removed afterwards)",
    )
    parser.add_argument(
        "--proposed-indexes",
        action="store_true",
        help="measure with PROPOSED_INDEXES added (dropped afterwards)",
    )
    args = parser.parse_args()

    engine = open_database(args, SCHEMA)
    if stored(engine) != (args.mentions + 20_000, args.open + 3000):
        drop_database(engine, args, SCHEMA)
        engine = open_database(args, SCHEMA)
        build(engine, args)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.begin() as conn:
            for name, columns in PROPOSED_INDEXES.items() if args.proposed_indexes else ():
                conn.execute(text(f"CREATE INDEX {name} ON conversations ({columns})"))
            if not sqlite and args.proposed_indexes:
                conn.execute(text("ANALYZE conversations"))
            if sqlite and args.sqlite_analyze:
                conn.execute(text("ANALYZE"))
        measure(engine, args)
    finally:
        try:
            with engine.begin() as conn:
                for name in PROPOSED_INDEXES if args.proposed_indexes else ():
                    conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
                if sqlite and args.sqlite_analyze:
                    conn.execute(text("DELETE FROM sqlite_stat1"))
        finally:
            if not args.keep:
                drop_database(engine, args, SCHEMA)


def measure(engine: Engine, args: argparse.Namespace) -> None:
    factory = make_session_factory(engine)
    with factory() as session:
        tenant_id = session.execute(select(Tenant.id).where(Tenant.slug == "bench")).scalar_one()
        queues = list(
            session.execute(
                select(Queue.id).where(Queue.tenant_id == tenant_id).order_by(Queue.id)
            ).scalars()
        )
        agents = list(
            session.execute(
                select(Membership.user_id)
                .where(Membership.tenant_id == tenant_id)
                .order_by(Membership.user_id)
            ).scalars()
        )
        sizes = dict(
            session.execute(
                select(Conversation.queue_id, func.count())
                .where(Conversation.tenant_id == tenant_id, Conversation.status == "open")
                .group_by(Conversation.queue_id)
            ).all()
        )
    variant = " + proposed indexes" if args.proposed_indexes else ""
    if engine.dialect.name == "sqlite":
        variant += " with ANALYZE" if args.sqlite_analyze else " without ANALYZE"
    print(
        f"\n{engine.dialect.name}{variant}: open conversations a queue {min(sizes.values()):,}"
        f"–{max(sizes.values()):,}; {args.repeat} calls each (after 20 warm-up), "
        f"a new session each, times in ms; load average {os.getloadavg()[0]:.1f}"
    )

    def second_page(n: int) -> dict[str, Any]:
        with factory() as session:
            first = inbox(session, tenant_id, queue_id=queues[n % len(queues)])
        return {"queue_id": queues[n % len(queues)], "cursor": first.next_cursor}

    scenarios: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        ("queue, first page (open)", lambda n: {"queue_id": queues[n % len(queues)]}),
        (
            "my conversations (open statuses)",
            lambda n: {"assignee_id": agents[n * 7 % len(agents)], "status": OPEN_STATUSES},
        ),
        (
            "unassigned in a queue",
            lambda n: {"queue_id": queues[n % len(queues)], "unassigned": True},
        ),
        (
            "context: queue, every open status",
            lambda n: {"queue_id": queues[n % len(queues)], "status": OPEN_STATUSES},
        ),
        ("context: queue, second page", second_page),
        ("context: whole tenant, first page", lambda n: {}),
        ("context: whole tenant, unassigned", lambda n: {"unassigned": True}),
    ]
    statements = Statements(engine)
    print(f"{'scenario':<36} {'rows':>5} {'SQL':>4} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    for label, options_for in scenarios:
        repeat = args.repeat if not label.startswith("context: whole") else args.repeat // 4
        times: list[float] = []
        rows = 0
        for n in range(-20, repeat):
            options = options_for(n)
            session: Session = factory()
            try:
                start = time.perf_counter()
                statements.on = n == 0
                page = inbox(session, tenant_id, **options)
                elapsed = (time.perf_counter() - start) * 1000
            finally:
                statements.on = False
                session.close()
            if n >= 0:
                times.append(elapsed)
                rows = len(page.items)
        sql_count = len(statements.seen)
        p50, p95, p99 = percentiles(times)
        print(
            f"{label:<36} {rows:>5} {sql_count:>4} {p50:>7.1f} {p95:>7.1f} {p99:>7.1f} "
            f"{max(times):>7.1f}",
            flush=True,
        )
        if args.explain and statements.seen:
            for statement, params in statements.seen:
                print(explain(engine, statement, params))
        statements.seen.clear()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
