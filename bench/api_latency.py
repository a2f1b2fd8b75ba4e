"""API latency over real HTTP with 1,000,000 mentions, SQLite or PostgreSQL; what auth costs.

Data: bench/inbox.py's builder (one tenant, 1,000,000 mentions, 100,000 open conversations
in 20 queues, plus a small second tenant), with one change: each mention's text is a
generated demo text (``clameur.demo.generator``, seed 1, the texts bench/search.py
searches) and its ``search_text`` is computed as the store step does, so the search index
(FTS5 / GIN, maintained on insert) holds realistic vocabulary. An ``agent`` member is added
to the big tenant with ``add_member`` and given an API token (``create_token``).

The app (``create_app``) is served by uvicorn in a background thread on a free loopback
port; one ``httpx.Client`` (keep-alive) times requests from the main thread, after a
warm-up, and reports p50 / p95 / p99 in ms:

- ``GET /api/v1/conversations?status=open`` (first page), and with a queue filter when the
  route has one (read from the OpenAPI document); skipped, and said so, while the route
  does not exist;
- ``GET /api/v1/mentions?q=…`` with ``facets=false`` and with facets (the default),
  rotating over selective queries built from the data's own vocabulary (bench/search.py's
  ``pick_queries``: words whose document frequency is 0.01–0.04 %, with a common word);
  the match counts are printed.

What authentication costs, three ways:

1. **A/B, same process and data**: the same requests with the token, and with
   ``app.dependency_overrides[api_principal]`` returning the same principal resolved once
   (no token lookup, no last-used write), alternated in blocks of 20.
2. ``token_principal`` alone, in a loop of sessions (connection already checked out).
3. **Before the change** (``--before 099196d``, the commit before accounts landed): that
   code is checked out in a git worktree and served in a subprocess
   (``PYTHONPATH=<worktree>/src``, this venv's python) against the same database, called
   with ``?tenant=<slug>``; today's code is served the same way (a subprocess) so the two
   are compared like for like, alternated in blocks. The worktree is removed at the end.

The database is a file in /tmp (SQLite) or the schema ``bench_api`` of the ``test``
database (PostgreSQL); both are dropped at the end unless ``--keep`` (then reused when
their size matches).

    .venv/bin/python bench/api_latency.py --backend sqlite
    .venv/bin/python bench/api_latency.py --backend postgresql --keep
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from sqlalchemy import Engine, func, select, text  # noqa: E402

import inbox as inbox_bench  # noqa: E402
import search as search_bench  # noqa: E402
from clameur.care.models import Queue  # noqa: E402
from clameur.clock import SystemClock  # noqa: E402
from clameur.config import Settings  # noqa: E402
from clameur.db import create_engine_for, make_session_factory, session_scope  # noqa: E402
from clameur.demo.generator import generate_mentions  # noqa: E402
from clameur.listening import document_keys, search, search_text  # noqa: E402
from clameur.mentions.models import Mention  # noqa: E402
from clameur.tenancy.accounts import add_member  # noqa: E402
from clameur.tenancy.auth import create_token, token_principal  # noqa: E402
from clameur.tenancy.models import Tenant  # noqa: E402
from clameur.tenancy.principal import Principal  # noqa: E402
from clameur.web.app import create_app  # noqa: E402
from clameur.web.auth import api_principal  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_api"
AGENT = "api-bench-agent@bench.test"
BLOCK = 20
"""Requests per block when two variants are alternated."""
SLOW_MS = 500.0
SLOW_N = 10
"""A scenario whose first request takes longer than SLOW_MS is timed SLOW_N times only."""
SERVE = """
import sys, uvicorn, clameur
from clameur.config import Settings
from clameur.web.app import create_app
print(clameur.__file__, flush=True)
app = create_app(Settings(database_url=sys.argv[1]))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


# -- the data -----------------------------------------------------------------------------


class SearchableBuilder(inbox_bench.Builder):
    """bench/inbox.py's builder with demo texts and their ``search_text`` (its own texts are
    55 words repeated, with an empty ``search_text``: nothing a search would find)."""

    def __init__(self, engine: Engine, seed: int) -> None:
        super().__init__(engine, seed)
        self.texts = self._texts()
        self.df: Counter[str] = Counter()
        self.main_tenant: int | None = None

    @staticmethod
    def _texts() -> Iterator[dict[str, Any]]:
        while True:
            yield from generate_mentions(count=1_000_000, seed=1)

    def mention(self, tid: int, *rest: Any) -> dict[str, Any]:
        row = super().mention(tid, *rest)
        record = next(self.texts)
        keys = document_keys(record["text"])
        row["text"], row["search_text"] = record["text"], search_text(keys)
        row["lang"] = record.get("lang")
        if self.main_tenant is None:
            self.main_tenant = tid
        if tid == self.main_tenant:
            self.df.update(keys)
        return row


def open_database(args: argparse.Namespace) -> Engine:
    if args.backend == "sqlite":
        return create_engine_for(f"sqlite:///{args.db}")
    with create_engine_for(args.pg_url).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    return create_engine_for(database_url(args))


def database_url(args: argparse.Namespace) -> str:
    if args.backend == "sqlite":
        return f"sqlite:///{args.db}"
    separator = "&" if "?" in args.pg_url else "?"
    return f"{args.pg_url}{separator}options=-csearch_path%3D{SCHEMA}"


def drop_database(engine: Engine, args: argparse.Namespace) -> None:
    engine.dispose()
    vocab_path(args).unlink(missing_ok=True)
    if args.backend == "sqlite":
        for path in Path(args.db).parent.glob(Path(args.db).name + "*"):
            path.unlink()
        return
    admin = create_engine_for(args.pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


def vocab_path(args: argparse.Namespace) -> Path:
    if args.backend == "sqlite":
        return Path(f"{args.db}.vocab.json")
    return Path(f"/tmp/clameur-bench-api-{SCHEMA}.vocab.json")


def build(engine: Engine, args: argparse.Namespace) -> None:
    """bench/inbox.py's ``build`` with :class:`SearchableBuilder` in place of its builder."""
    made: list[SearchableBuilder] = []

    def builder(engine: Engine, seed: int) -> SearchableBuilder:
        made.append(SearchableBuilder(engine, seed))
        return made[-1]

    original = inbox_bench.Builder
    inbox_bench.Builder = builder  # type: ignore[misc,assignment]
    try:
        inbox_bench.build(engine, args)
    finally:
        inbox_bench.Builder = original  # type: ignore[misc]
    vocab_path(args).write_text(json.dumps({"count": args.mentions, "df": dict(made[0].df)}))


def ensure_data(args: argparse.Namespace) -> tuple[Engine, dict[str, int]]:
    engine = open_database(args)
    expected = (args.mentions + 20_000, args.open + 3000)
    path = vocab_path(args)
    if inbox_bench.stored(engine) != expected or not path.exists():
        drop_database(engine, args)
        engine = open_database(args)
        build(engine, args)
    else:
        print(f"reusing {expected[0]:,} mentions, {expected[1]:,} open conversations")
    df: dict[str, int] = json.loads(path.read_text())["df"]
    return engine, df


def agent_token(engine: Engine) -> tuple[str, int]:
    """A committed token of an agent of the big tenant (created when missing)."""
    clock = SystemClock()
    with session_scope(make_session_factory(engine)) as session:
        tenant = session.execute(select(Tenant).where(Tenant.slug == "bench")).scalar_one()
        user, _ = add_member(session, clock, AGENT, tenant.id, "agent", name="API bench agent")
        token = create_token(session, clock, user, tenant, name="bench/api_latency.py").token
        return token, tenant.id


# -- serving and timing -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn in a background thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def served_elsewhere(src: Path, url: str) -> Iterator[str]:
    """``src``'s app served by uvicorn in a subprocess (``PYTHONPATH=src``)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src)}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", SERVE, url, str(port)],
        env=env,
        cwd="/tmp",
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        loaded = process.stdout.readline().strip()
        if not loaded.startswith(str(src)):
            raise RuntimeError(f"the subprocess imported {loaded!r}, not {src}")
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"the server of {src} exited ({process.returncode})")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


Request = tuple[str, dict[str, Any]]
"""(path, query parameters)"""


def call(client: httpx.Client, base: str, request: Request, headers: dict[str, str]) -> float:
    path, params = request
    start = time.perf_counter()
    response = client.get(base + path, params=params, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path} {params}: {response.status_code} {response.text[:300]}")
    return elapsed


def timed(
    client: httpx.Client,
    base: str,
    requests: list[Request],
    headers: dict[str, str],
    n: int,
    warmup: int,
) -> list[float]:
    cycle = itertools.cycle(requests)
    for _ in range(warmup):
        call(client, base, next(cycle), headers)
    cycle = itertools.cycle(requests)
    return [call(client, base, next(cycle), headers) for _ in range(n)]


def alternated(
    variants: list[tuple[Callable[[], None], Callable[[Request], float]]],
    requests: list[Request],
    n: int,
    warmup: int,
) -> list[list[float]]:
    """Each variant (prepare, call one request) runs the same rotation, in blocks of
    :data:`BLOCK`, alternating, so a change in the machine's load hits both alike."""
    times: list[list[float]] = [[] for _ in variants]
    for prepare, one in variants:
        prepare()
        for request in itertools.islice(itertools.cycle(requests), warmup):
            one(request)
    for start in range(0, n, BLOCK):
        batch = [requests[(start + i) % len(requests)] for i in range(min(BLOCK, n - start))]
        for (prepare, one), into in zip(variants, times, strict=True):
            prepare()
            into.extend(one(request) for request in batch)
    return times


def pct(values: list[float]) -> tuple[float, float, float]:
    return inbox_bench.percentiles(values)


def row(label: str, values: list[float], extra: str = "") -> None:
    p50, p95, p99 = pct(values)
    print(
        f"{label:<58} {p50:>7.1f} {p95:>7.1f} {p99:>7.1f} {max(values):>7.1f}  {extra}", flush=True
    )


def header(title: str) -> None:
    print(f"\n{title}  (load average {load()})")
    print(f"{'':<58} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the scenarios ------------------------------------------------------------------------


def conversation_requests(app: FastAPI, queues: list[int]) -> dict[str, list[Request]]:
    """The conversations scenarios, from the route's OpenAPI parameters (none: no route)."""
    operation = app.openapi()["paths"].get("/api/v1/conversations", {}).get("get")
    if operation is None:
        return {}
    params = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
    found = {
        "conversations?status=open (first page)": [("/api/v1/conversations", {"status": "open"})]
    }
    name = next((n for n in ("queue_id", "queue") if n in params), None)
    if name is not None:
        found[f"conversations?status=open&{name}=… (20 queues)"] = [
            ("/api/v1/conversations", {"status": "open", name: q}) for q in queues
        ]
    return found


def selective_queries(df: dict[str, int], count: int) -> list[tuple[str, str]]:
    """bench/search.py's selective queries (its two broad, context ones left out)."""
    return [(label, q) for label, q in search_bench.pick_queries(df, count)][:-2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=200, help="timed requests a scenario")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000, help="open conversations")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", default="/tmp/clameur-bench-api.db")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the database")
    parser.add_argument("--before", default="099196d", help="commit to compare with ('' to skip)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the search service call (facets)"
    )
    args = parser.parse_args()

    print(f"load average {load()}")
    engine, df = ensure_data(args)
    try:
        measure(engine, df, args)
    finally:
        if not args.keep:
            drop_database(engine, args)
    print(f"\nload average {load()}")


def measure(engine: Engine, df: dict[str, int], args: argparse.Namespace) -> None:
    token, tenant_id = agent_token(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        queues = list(
            session.scalars(select(Queue.id).where(Queue.tenant_id == tenant_id).order_by(Queue.id))
        )
        principal: Principal = token_principal(session, SystemClock(), token)
        session.commit()
        stored = session.scalar(
            select(func.count()).select_from(Mention).where(Mention.tenant_id == tenant_id)
        )
    queries = selective_queries(df, stored)
    app = create_app(Settings(database_url=database_url(args)))
    auth = {"Authorization": f"Bearer {token}"}
    n, warmup = args.requests, args.warmup
    print(
        f"\n{engine.dialect.name}: 'bench' holds {stored:,} mentions; "
        f"{n} timed requests a row after {warmup} warm-up, one keep-alive client"
    )

    with served(app) as base, httpx.Client(timeout=120) as client:
        print(f"\n{'query':<44} {'matches':>8}")
        for label, q in queries:
            body = client.get(f"{base}/api/v1/mentions", params={"q": q}, headers=auth).json()
            print(f"{label + ': ' + q:<44} {body['total']:>8,}")
        mentions = {
            "mentions?q=…&facets=false (9 queries, rotating)": [
                ("/api/v1/mentions", {"q": q, "facets": "false"}) for _, q in queries
            ],
            "mentions?q=… with facets (9 queries, rotating)": [
                ("/api/v1/mentions", {"q": q}) for _, q in queries
            ],
        }
        conversations = conversation_requests(app, queues)
        scenarios = {**conversations, **mentions}
        floor = {"floor: GET /api/v1/me (two primary-key reads)": [("/api/v1/me", {})]}

        header(f"{engine.dialect.name}, over HTTP, with the token")
        if not conversations:
            print("GET /api/v1/conversations: no such route yet (not measured)")
        results: dict[str, list[float]] = {}
        sizes: dict[str, tuple[int, int]] = {}
        for label, requests in {**scenarios, **floor}.items():
            slow = call(client, base, requests[0], auth) > SLOW_MS
            sizes[label] = (SLOW_N, 1) if slow else (n, warmup)
            if label in floor:  # cheap: enough requests for the A/B to see 1 ms
                sizes[label] = (n * 5, warmup)
            results[label] = timed(client, base, requests, auth, *sizes[label])
            row(label, results[label], f"(slow: {SLOW_N} requests)" if slow else "")
        for label, q in queries:
            per = [
                t
                for i, t in enumerate(results[next(iter(mentions))])
                if i % len(queries) == queries.index((label, q))
            ]
            row(f"  facets=false, {q}"[:58], per, f"({len(per)} requests)")

        header(f"{engine.dialect.name}, auth A/B: token vs the principal injected")

        def with_token() -> None:
            app.dependency_overrides.pop(api_principal, None)

        def injected() -> None:
            app.dependency_overrides[api_principal] = lambda: principal

        def one(request: Request) -> float:
            return call(client, base, request, auth)

        for label, requests in {**scenarios, **floor}.items():
            a, b = alternated([(with_token, one), (injected, one)], requests, *sizes[label])
            (a50, a95, _), (b50, b95, _) = pct(a), pct(b)
            row(f"{label} [token]", a)
            row(f"{label} [injected]", b, f"auth: p50 {a50 - b50:+.2f}, p95 {a95 - b95:+.2f} ms")
        with_token()

    print(f"\ntoken_principal alone, {n * 5} sessions (load average {load()})")
    times = []
    clock = SystemClock()
    for i in range(n * 5 + warmup):
        with factory() as session:
            session.execute(text("SELECT 1"))
            start = time.perf_counter()
            token_principal(session, clock, token)
            session.commit()
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    row("token_principal + commit (connection checked out)", times)

    in_process(factory, tenant_id, queries, n, warmup, args.profile)
    if args.before:
        before_after(args, token, queries, n, warmup)


def in_process(
    factory: Any,
    tenant_id: int,
    queries: list[tuple[str, str]],
    n: int,
    warmup: int,
    profile: bool,
) -> None:
    """The search service alone, a new session each call: what HTTP and FastAPI add."""
    header("search service in-process (what the route calls), a new session each")
    for facets in (False, True):
        times = []
        for i in range(n + warmup):
            q = queries[i % len(queries)][1]
            with factory() as session:
                start = time.perf_counter()
                search(session, tenant_id, q, limit=50, facets=facets, brands=True)
                if i >= warmup:
                    times.append((time.perf_counter() - start) * 1000)
        row(f"search(limit=50, facets={facets}, brands=True)", times)
    if profile:
        profiler = cProfile.Profile()
        for i in range(len(queries) * 3):
            with factory() as session:
                profiler.enable()
                search(
                    session,
                    tenant_id,
                    queries[i % len(queries)][1],
                    limit=50,
                    facets=True,
                    brands=True,
                )
                profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
        print(out.getvalue())


def before_after(
    args: argparse.Namespace, token: str, queries: list[tuple[str, str]], n: int, warmup: int
) -> None:
    """The same search request against the code before accounts, both served alike."""
    worktree = Path("/tmp/clameur-before")
    repo = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(repo)]
    if not worktree.exists():
        subprocess.run(
            [*git, "worktree", "add", "--detach", str(worktree), args.before],  # noqa: S603
            check=True,
            capture_output=True,
        )
    try:
        url = database_url(args)
        with (
            served_elsewhere(worktree / "src", url) as old,
            served_elsewhere(repo / "src", url) as new,
            httpx.Client(timeout=120) as client,
        ):
            header(f"before ({args.before}, ?tenant=) vs now (token), both in a subprocess")
            auth = {"Authorization": f"Bearer {token}"}
            for facets in ("false", "true"):
                requests: list[Request] = [
                    ("/api/v1/mentions", {"q": q, "facets": facets}) for _, q in queries
                ]

                def before(request: Request) -> float:
                    path, params = request
                    return call(client, old, (path, {"tenant": "bench", **params}), {})

                def now(request: Request) -> float:
                    return call(client, new, request, auth)

                def nothing() -> None:
                    return None

                a, b = alternated([(nothing, now), (nothing, before)], requests, n, warmup)
                (a50, a95, _), (b50, b95, _) = pct(a), pct(b)
                row(f"mentions?q=…&facets={facets} [now]", a)
                row(
                    f"mentions?q=…&facets={facets} [before]",
                    b,
                    f"change: p50 {a50 - b50:+.2f}, p95 {a95 - b95:+.2f} ms",
                )
    finally:
        subprocess.run(
            [*git, "worktree", "remove", "--force", str(worktree)],  # noqa: S603
            check=False,
            capture_output=True,
        )


if __name__ == "__main__":
    main()
