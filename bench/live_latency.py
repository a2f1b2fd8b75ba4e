"""Live updates: how soon a mention imported by another process shows in an open inbox,
SQLite or PostgreSQL (issue #13, "Measured": p95 ≤ 2 s over 50 imports).

Data: bench/inbox.py's builder at a small size (``--mentions 20000 --open 3000``: one
tenant of ~7,500 conversations, 3,000 open, 200 agents in 20 queues, plus a second tenant of
5,000), reused with ``--keep``. The builder's first agent gets a password.

Then:

1. the real server in a subprocess: ``clameur serve --no-worker`` (the web process alone:
   the importing process runs the pipeline itself, as in the embedded deployment) on a free
   loopback port, ``CLAMEUR_DATABASE_URL`` pointing at the database;
2. this process signs the agent in (``/login`` with its CSRF field) and opens the inbox's
   SSE stream ``/live``; a listener thread timestamps every event; on each ``inbox`` event
   a second thread does what the page's htmx does, ``GET /inbox/rows`` of the agent's view
   (``view=all&source=blog``: the "blog" source, which the builder's data never uses; the
   blog conversations older than the newest 40 are resolved by a silent ``UPDATE`` after
   each import, so the list holds ~40 rows and the new one is always on its first page),
   and timestamps the answer with the conversation ids it lists;
3. ``--imports`` times (default 50, one every ``--gap`` seconds): a one-line JSONL file (a
   blog complaint by a new author, which opens a conversation) is imported by **another
   process**: ``python -c`` running the ``clameur`` command's own entry point (``clameur
   import FILE --tenant bench --json``) with a SQLAlchemy ``after_commit`` listener that
   prints the wall-clock time of each commit. The new conversation's id is read from the
   database afterwards.

Reported, from the import's **last commit** (wall clock, same machine): the first
``inbox`` event whose data lists the new conversation, and the end of the first
``/inbox/rows`` answer that shows it. p50 / p95 / max; the import process's own time
(start to exit) beside.

The database is a file in /tmp (SQLite) or the schema ``bench_live`` of the ``test``
database (PostgreSQL); both are dropped at the end unless ``--keep``.

    .venv/bin/python bench/live_latency.py --backend sqlite --keep
    .venv/bin/python bench/live_latency.py --backend postgresql --keep
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from sqlalchemy import Engine, func, select, update  # noqa: E402

import inbox as inbox_bench  # noqa: E402
from _databases import database_url, drop_database, open_database  # noqa: E402
from clameur.care.models import Conversation, Queue  # noqa: E402
from clameur.db import (  # noqa: E402
    make_session_factory,
    session_scope,
    upgrade,
)
from clameur.mentions.models import Mention  # noqa: E402
from clameur.tenancy.accounts import get_user, set_password  # noqa: E402
from clameur.tenancy.models import Tenant  # noqa: E402

SCHEMA = "bench_live"
PASSWORD = "Grenadine-sur-le-quai-42"
ROWS = "/inbox/rows?view=all&source=blog"
KEPT_OPEN = 40
IMPORT = """
import sys, time
from sqlalchemy import event
from sqlalchemy.orm import Session
event.listen(Session, "after_commit", lambda s: print("COMMIT", time.time(), flush=True))
sys.argv = ["clameur", "import", sys.argv[1], "--tenant", "bench", "--json"]
from clameur.cli import main
main()
"""
"""The importing process: the ``clameur`` command, with each commit's wall time printed."""
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ROW = re.compile(r'id="conv-(\d+)"')


# -- the data -----------------------------------------------------------------------------


def ensure_data(args: argparse.Namespace) -> tuple[Engine, str]:
    """The database (built when its size is not the asked one); the agent's e-mail."""
    engine = open_database(args, SCHEMA)
    mentions, open_ = inbox_bench.stored(engine)
    if mentions < args.mentions + 20_000 or open_ < args.open + 3000:
        drop_database(engine, args, SCHEMA)
        engine = open_database(args, SCHEMA)
        inbox_bench.build(engine, args)
    else:
        print(f"reusing {mentions:,} mentions, {open_:,} open conversations")
        upgrade(engine)  # a database kept from an older schema
    with session_scope(make_session_factory(engine)) as session:
        tenant_id = session.execute(select(Tenant.id).where(Tenant.slug == "bench")).scalar_one()
        first_queue = session.execute(
            select(func.min(Queue.id)).where(Queue.tenant_id == tenant_id)
        ).scalar_one()
        email = f"agent{first_queue}-0@bench.test"
        set_password(session, get_user(session, email), PASSWORD)
    return engine, email


# -- the server and the page --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(url: str) -> Any:
    """``clameur serve --no-worker`` in a subprocess; yields its base URL."""
    port = free_port()
    env = {**os.environ, "CLAMEUR_DATABASE_URL": url}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-m", "clameur", "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"clameur serve exited ({process.returncode})")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def signed_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=15)
    form = client.get("/login")
    found = _CSRF.search(form.text)
    assert found, "no CSRF field on /login"
    data = {"email": email, "password": PASSWORD, "csrf_token": found.group(1), "next": "/"}
    answer = client.post("/login", data=data)
    if answer.status_code not in (200, 303):
        raise RuntimeError(f"sign-in: {answer.status_code} {answer.text[:300]}")
    return client


@dataclass
class Page:
    """What the open inbox saw: SSE events and the rows it fetched, with wall times."""

    events: list[tuple[float, str, str]] = field(default_factory=list)
    rows: list[tuple[float, set[int]]] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    refresh: queue.Queue[float] = field(default_factory=queue.Queue)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def listen(self, client: httpx.Client) -> None:
        """The SSE stream, reconnected when the server ends it (as EventSource does)."""
        while not self.stop.is_set():
            try:
                self._listen_once(client)
            except httpx.HTTPError:
                if self.stop.is_set():
                    return
                time.sleep(0.1)

    def _listen_once(self, client: httpx.Client) -> None:
        name, data = "", []
        with client.stream("GET", "/live", timeout=httpx.Timeout(15, read=None)) as stream:
            for line in stream.iter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and name:
                    at = time.time()
                    with self.lock:
                        self.events.append((at, name, "\n".join(data)))
                    if name == "inbox":
                        self.refresh.put(at)
                    name, data = "", []
                if self.stop.is_set():
                    return

    def fetch(self, client: httpx.Client) -> None:
        """The htmx refresh: one ``/inbox/rows`` per ``inbox`` event (events arriving
        during a fetch are answered by the next one, as htmx's queue does)."""
        while not self.stop.is_set():
            try:
                self.refresh.get(timeout=0.2)
            except queue.Empty:
                continue
            while not self.refresh.empty():
                self.refresh.get_nowait()
            answer = client.get(ROWS, headers={"HX-Request": "true"})
            at = time.time()
            ids = {int(i) for i in _ROW.findall(answer.text)}
            with self.lock:
                self.rows.append((at, ids))

    def event_for(self, conversation_id: int, after: float) -> float | None:
        with self.lock:
            for at, name, data in self.events:
                if at >= after and name == "inbox" and conversation_id in _ids(data):
                    return at
        return None

    def rows_with(self, conversation_id: int, after: float) -> float | None:
        with self.lock:
            return next(
                (at for at, ids in self.rows if at >= after and conversation_id in ids), None
            )


def _ids(data: str) -> list[int]:
    try:
        found = json.loads(data)
    except ValueError:
        return []
    return [i for i in found if isinstance(i, int)] if isinstance(found, list) else []


# -- one import ---------------------------------------------------------------------------


@dataclass
class Import:
    commits: list[float]
    started: float
    ended: float


def import_one(url: str, path: Path, n: int, run: str) -> Import:
    line = {
        "source": "blog",
        "external_id": f"live-{run}-{n}",
        "text": f"@bench ma commande n'est jamais arrivée, je veux un remboursement ({n})",
        "created_at": datetime.now(UTC).isoformat(),
        "author": {"handle": f"live_{run}_{n}", "followers": 120},
        "lang": "fr",
    }
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    env = {**os.environ, "CLAMEUR_DATABASE_URL": url}
    started = time.time()
    done = subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-c", IMPORT, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ended = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"import {n}: {done.returncode} {done.stderr[-500:]}")
    commits = [float(x.split()[1]) for x in done.stdout.splitlines() if x.startswith("COMMIT ")]
    if not commits:
        raise RuntimeError(f"import {n}: no commit seen; {done.stdout[-300:]}")
    return Import(commits, started, ended)


def conversation_of(engine: Engine, external_id: str) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            select(Mention.conversation_id).where(
                Mention.source == "blog", Mention.external_id == external_id
            )
        ).scalar_one()
    if found is None:
        raise RuntimeError(f"mention {external_id} opened no conversation")
    return int(found)


def tidy(engine: Engine, newest: int) -> None:
    """Resolve the blog conversations older than the newest :data:`KEPT_OPEN` (silently:
    no event), so the next one is always on the list's first page of 50 (among equal
    scores the older conversation comes first)."""
    c = Conversation.__table__.c
    with engine.begin() as conn:
        conn.execute(
            update(Conversation.__table__)
            .where(c.source == "blog", c.status == "open", c.id <= newest - KEPT_OPEN)
            .values(status="resolved")
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--mentions", type=int, default=20_000)
    parser.add_argument("--open", type=int, default=3000, help="open conversations")
    parser.add_argument("--db", default="/tmp/clameur-bench-live.db")
    parser.add_argument("--pg-url", default=inbox_bench.PG_URL)
    parser.add_argument("--imports", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between imports")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the database")
    args = parser.parse_args()

    engine, email = ensure_data(args)
    url = database_url(args, SCHEMA)
    run = str(int(time.time()))
    try:
        with served(url) as base, tempfile.TemporaryDirectory() as tmp:
            measure(engine, args, base, email, url, Path(tmp) / "one.jsonl", run)
    finally:
        if not args.keep:
            drop_database(engine, args, SCHEMA)


def measure(
    engine: Engine, args: argparse.Namespace, base: str, email: str, url: str, path: Path, run: str
) -> None:
    stream_client = signed_in(base, email)
    rows_client = httpx.Client(base_url=base, cookies=stream_client.cookies, timeout=15)
    page = Page()
    threads = [
        threading.Thread(target=page.listen, args=(stream_client,), daemon=True),
        threading.Thread(target=page.fetch, args=(rows_client,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    if not page.connected.wait(15):
        raise RuntimeError("the SSE stream did not open")
    time.sleep(1.0)  # the poller's first round only reads the marks
    print(
        f"\n{engine.dialect.name}: {args.imports} imports by another process, one every "
        f"{args.gap} s; load average {os.getloadavg()[0]:.1f}"
    )
    with engine.connect() as conn:
        c = Conversation.__table__.c
        newest = conn.execute(select(func.max(c.id)).where(c.source == "blog")).scalar()
    tidy(engine, (newest or 0) + 1)
    to_event: list[float] = []
    to_rows: list[float] = []
    process: list[float] = []
    for n in range(args.imports):
        one = import_one(url, path, n, run)
        committed = one.commits[-1]
        conversation_id = conversation_of(engine, f"live-{run}-{n}")
        deadline = time.time() + 10
        event_at = rows_at = None
        while time.time() < deadline and (event_at is None or rows_at is None):
            event_at = page.event_for(conversation_id, one.started)
            rows_at = page.rows_with(conversation_id, one.started)
            time.sleep(0.01)
        if event_at is None or rows_at is None:
            raise RuntimeError(f"import {n}: conversation {conversation_id} not shown in 10 s")
        tidy(engine, conversation_id)
        to_event.append(event_at - committed)
        to_rows.append(rows_at - committed)
        process.append(one.ended - one.started)
        print(
            f"  {n:>2}: conversation {conversation_id}, commits at "
            f"{', '.join(f'{(c - one.started) * 1000:.0f}' for c in one.commits)} ms, "
            f"event +{to_event[-1] * 1000:.0f} ms, rows +{to_rows[-1] * 1000:.0f} ms",
            flush=True,
        )
        time.sleep(args.gap)
    page.stop.set()
    print(f"{'from the import commit, ms':<34} {'p50':>7} {'p95':>7} {'max':>7}")
    for label, values in (
        ("SSE `inbox` event listing it", to_event),
        ("`/inbox/rows` showing it", to_rows),
        ("(the import process, start to exit)", process),
    ):
        print(
            f"{label:<34} {percentile(values, 0.5) * 1000:>7.0f} "
            f"{percentile(values, 0.95) * 1000:>7.0f} {max(values) * 1000:>7.0f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f}")
    stream_client.close()
    rows_client.close()


if __name__ == "__main__":
    main()
