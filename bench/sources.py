"""Connector polling: N RSS sources served on loopback, polled by T poller threads.

Starts a ThreadingHTTPServer with N feeds of E entries each (every entry matches the brand),
adds N ``rss`` sources to a fresh database, then has T threads poll what is due until every
source was polled once — the worker's ``sources`` loop with ``--concurrency T``. Reports the
wall time of that round, mentions per second through the full pipeline, and the time of a
second round, which the feeds answer with ``304 Not Modified``.

    .venv/bin/python bench/sources.py [--sources 100] [--entries 20] [--threads 4]
        [--database-url postgresql+psycopg://…]   (default: a temporary SQLite file)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import update

from clameur.clock import SystemClock
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.pipeline import Pipeline
from clameur.sources.models import Source
from clameur.sources.schedule import Poller, PollOutcome
from clameur.sources.service import add_source
from clameur.tenancy import add_brand, add_tenant


def feed(index: int, entries: int) -> bytes:
    items = "".join(
        f"<item><guid>feed{index}-{n}</guid><title>Volta avis {index}-{n}</title>"
        f"<link>http://127.0.0.1/{index}/{n}</link>"
        f"<description>&lt;p&gt;Mon forfait Volta numéro {n} est super&lt;/p&gt;</description>"
        f"<pubDate>Mon, 30 Nov 2026 {n % 24:02d}:00:00 GMT</pubDate></item>"
        for n in range(entries)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Blog {index}</title>{items}</channel></rss>"
    ).encode()


def serve(feeds: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            body = feeds.get(self.path)
            etag = f'"{self.path}"'
            if body is not None and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return httpd


def round_of_polls(pollers: list[Poller]) -> tuple[float, list[PollOutcome]]:
    """Every poller thread polls what is due, one source at a time, until nothing is."""
    done: list[PollOutcome] = []
    lock = threading.Lock()

    def run(poller: Poller) -> None:
        while batch := poller.poll_due(limit=1):
            with lock:
                done.extend(batch)

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(p,)) for p in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="clameur-bench-sources-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    engine = create_engine_for(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    clock = SystemClock()
    settings = Settings(database_url=url, allow_private_fetch=True)

    httpd = serve({f"/feed/{i}": feed(i, args.entries) for i in range(args.sources)})
    port = httpd.server_address[1]
    with session_scope(factory) as session:
        tenant = add_tenant(session, clock, "bench", "Bench")
        add_brand(session, clock, tenant, "volta", "Volta", ["volta"])
        for i in range(args.sources):
            add_source(
                session, clock, tenant_id=tenant.id, kind="rss", name=f"feed-{i}",
                url=f"http://127.0.0.1:{port}/feed/{i}", interval_seconds=60,
            )  # fmt: skip
    pipeline = Pipeline(factory=factory, settings=settings, clock=clock)
    pollers = [
        Poller(factory=factory, settings=settings, clock=clock, ingest=pipeline.ingest_polled)
        for _ in range(args.threads)
    ]
    pipeline.ingest_polled([], tenant.id, lambda _s, _c: None)  # load the models first

    first_time, first = round_of_polls(pollers)
    imported = sum(o.counts.get("imported", 0) for o in first)
    failed = [o for o in first if o.status != "ok"]
    print(  # noqa: T201 - a benchmark's report
        f"{args.sources} sources × {args.entries} entries, {args.threads} poller threads, "
        f"{engine.dialect.name}:\n"
        f"  first round: {len(first)} polls in {first_time:.2f} s, {imported} mentions "
        f"imported ({imported / first_time:.0f} mentions/s through the pipeline), "
        f"{len(failed)} failed"
    )
    with session_scope(factory) as session:
        session.execute(update(Source).values(next_run_at=clock.now()))  # all due again
    second_time, second = round_of_polls(pollers)
    print(  # noqa: T201
        f"  second round (304 Not Modified): {len(second)} polls in {second_time:.2f} s "
        f"({len(second) / second_time:.0f} polls/s)"
    )
    httpd.shutdown()
    engine.dispose()
    if failed:
        print(f"  first failure: {failed[0].error}", file=sys.stderr)  # noqa: T201
        raise SystemExit(1)


if __name__ == "__main__":
    main()
