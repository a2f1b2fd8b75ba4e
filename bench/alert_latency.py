"""Alert latency, embedded: from ingestion of the tipping mention to the webhook leaving.

A live runner (bus → pipeline → outbox relay, `clameur.pipeline.live`) runs on a fresh
SQLite database with the shipped models; a tenant's alert rule sends every alert to a
webhook served on loopback. Each trial submits one batch — a very influential author's
complaint among ordinary mentions — and measures, on one monotonic clock, the time from
`submit` to the moment the loopback server has received the signed webhook for that
alert. Trials run one after the other.

Also reported, in event time: from each tipping post (the onset of its incident) to its
alert's ``triggered_at`` — the event time at which the detector had the evidence — and
to its ``started_at``. For an influencer's post both are the post itself: 0 s.

    .venv/bin/python bench/alert_latency.py [--trials 200] [--batch 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from clameur.clock import SystemClock
from clameur.config import Settings
from clameur.core.bus import InMemoryBus
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.demo import replays
from clameur.detection import alerts_of, set_rule
from clameur.detection.delivery import handlers
from clameur.pipeline import Pipeline
from clameur.pipeline.live import LiveRunner
from clameur.tenancy import add_brand, add_tenant

received: dict[str, float] = {}
arrived = threading.Condition()


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.perf_counter()
        post = json.loads(body).get("alert", json.loads(body)).get("evidence", {}).get("post")
        self.send_response(204)
        self.end_headers()
        with arrived:
            received.setdefault(str(post), now)
            arrived.notify_all()

    def log_message(self, *_args: object) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for(f"sqlite:///{Path(tmp)}/latency.db")
        upgrade(engine)
        factory = make_session_factory(engine)
        clock = SystemClock()
        with session_scope(factory) as session:
            tenant = add_tenant(session, clock, "acme", "Acme")
            add_brand(session, clock, tenant, "volta", "Volta", ["volta"])
            set_rule(
                session,
                tenant.id,
                None,
                {"webhooks": [{"url": url, "secret": "s3cret"}]},
                clock.now(),
            )
            tenant_id = tenant.id
        settings = Settings(batch_size=1000, allow_private_fetch=True)
        pipeline = Pipeline(factory=factory, settings=settings, clock=clock)
        runner = LiveRunner(pipeline, InMemoryBus(), handlers(settings, clock))
        start = datetime(2030, 3, 4, 9, tzinfo=UTC)
        background = replays.ordinary_traffic(start, days=3, peak_per_hour=60, seed=3)
        latencies = []
        onsets: dict[str, datetime] = {}
        with runner:
            runner.submit(background[: len(background) // 2], tenant_id)  # warm up
            runner.drain()
            for trial in range(args.trials):
                at = start + timedelta(days=3, minutes=trial)
                post = replays.influencer_post(
                    at, external_id=f"tip-{trial}", handle=f"star_{trial}", followers=300_000
                )
                chunk = background[len(background) // 2 :][trial * args.batch :][: args.batch]
                for record in chunk:
                    record["created_at"] = at.isoformat()
                onsets[f"tip-{trial}"] = at
                sent = time.perf_counter()
                runner.submit([*chunk, post], tenant_id)
                with arrived:
                    arrived.wait_for(lambda t=trial: f"tip-{t}" in received, timeout=30)
                if f"tip-{trial}" not in received:
                    raise SystemExit(f"trial {trial}: no webhook within 30 s")
                latencies.append(received[f"tip-{trial}"] - sent)
        with session_scope(factory) as session:
            found = alerts_of(session, tenant_id)
        engine.dispose()
    event_delays = []
    for alert in found:
        post = alert["evidence"].get("post")
        if alert["kind"] == "influencer" and post in onsets:
            onset = onsets[post]
            event_delays.append(
                (
                    (datetime.fromisoformat(alert["triggered_at"]) - onset).total_seconds(),
                    (datetime.fromisoformat(alert["started_at"]) - onset).total_seconds(),
                )
            )
    server.shutdown()
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(
        f"{len(latencies)} trials, batch of {args.batch + 1}: "
        f"p50 {statistics.median(latencies):.3f} s, "
        f"p99 {p99:.3f} s, max {latencies[-1]:.3f} s"
    )
    if event_delays:
        print(
            f"event time, onset → triggered_at: max {max(d[0] for d in event_delays):.0f} s; "
            f"onset → started_at: max {max(d[1] for d in event_delays):.0f} s "
            f"({len(event_delays)} influencer alerts)"
        )


if __name__ == "__main__":
    main()
