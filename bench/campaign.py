"""The coordinated-campaign detector alone, inside a real import, on generated demo mentions.

Generates N demo mentions (default 10,000, seed 1: 11 sources, templated texts, an
influencer wave and a 1.3 % fake-review burst), creates a fresh SQLite database with the
demo tenants, and imports them in-process (streamed from the generator, as `clameur
import` streams a file) in batches of 1,000 with the placeholder analyzer: the models are
not what is measured. The detect step runs
:class:`~clameur.detection.campaign.CampaignDetector` alone; its calls are timed (wall
clock, and CPU time of this process, less disturbed by other jobs), so the figure is the
detector's own cost, database work included. A second import of the same records with no
detector gives the rest of the pipeline for comparison. ``--profile`` profiles the
detector's calls only.

Over a long import (``--days`` spreads the mentions over that many days, ``--every``
prints the detector's CPU time for each slice of that many mentions, with the cluster
states it loaded: member accounts read back, bytes of JSON, whose counting is left out of
the times) it shows whether the detector's cost per mention grows with the archive
(#18); ``--no-baseline`` skips the import without the detector. Pass
``PYTHONPATH=<tree>/src`` to measure another checkout.

    .venv/bin/python bench/campaign.py [--count 10000] [--batch 1000] [--seed 1] [--profile]
        [--days 7] [--every 10000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from clameur.analysis import PlaceholderAnalyzer
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.demo.generator import generate_mentions
from clameur.demo.load import ensure_demo_tenants
from clameur.detection import NullDetector, alerts_of, campaign_store
from clameur.detection.campaign import CampaignDetector
from clameur.detection.campaign_models import CampaignBand, CampaignCluster, CampaignSignature
from clameur.detection.rules import load_rules
from clameur.mentions import Draft, StepContext
from clameur.pipeline import Pipeline
from clameur.tenancy import Tenant

LOADED = {"accounts": 0, "bytes": 0}
"""Cluster states read back by the detector (member accounts, JSON bytes), as it goes."""
COUNTING = {"cpu": 0.0}
"""CPU time spent counting them (serialising the states again): not the detector's."""
_clusters = campaign_store.clusters


def _counted_clusters(session: Any, ids: Any) -> list[Any]:
    rows = _clusters(session, ids)
    start = time.process_time()
    for row in rows:
        LOADED["accounts"] += len(row.state.get("accounts", {}))
        LOADED["bytes"] += len(json.dumps(row.state))
    COUNTING["cpu"] += time.process_time() - start
    return rows


campaign_store.clusters = _counted_clusters


class TimedCampaigns:
    """The detect step with the campaign detector only, timed."""

    def __init__(self, profiler: cProfile.Profile | None, every: int = 0) -> None:
        self.detector = CampaignDetector()
        self.wall = self.cpu = 0.0
        self.mentions = self.flagged = 0
        self.profiler = profiler
        self.every = every
        self.slice = {"cpu": 0.0, "mentions": 0, "accounts": 0, "bytes": 0}

    def detect(self, ctx: StepContext, drafts: list[Draft]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        if self.profiler:
            self.profiler.enable()
        self.detector.detect(ctx, drafts, lambda tenant_id: load_rules(ctx.session, tenant_id))
        if self.profiler:
            self.profiler.disable()
        counted = COUNTING["cpu"]
        COUNTING["cpu"] = 0.0
        self.wall += time.perf_counter() - wall - counted
        self.cpu += time.process_time() - cpu - counted
        self.mentions += len(drafts)
        self.flagged += sum("campaign" in d.flags for d in drafts)
        if self.every and self.mentions >= self.slice["mentions"] + self.every:
            print(
                json.dumps(
                    {
                        "mentions": self.mentions,
                        "slice_cpu_s": round(self.cpu - self.slice["cpu"], 2),
                        "slice_accounts_loaded": LOADED["accounts"] - self.slice["accounts"],
                        "slice_state_mib": round(
                            (LOADED["bytes"] - self.slice["bytes"]) / 2**20, 1
                        ),
                    }
                ),
                flush=True,
            )
            self.slice = {"cpu": self.cpu, "mentions": self.mentions, **LOADED}


def run(url: str, records: Iterable[dict[str, Any]], batch: int, detector: Any) -> float:
    engine = create_engine_for(url)
    upgrade(engine)
    pipeline = Pipeline(
        factory=make_session_factory(engine),
        settings=Settings(batch_size=batch),
        clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
        analyzer=PlaceholderAnalyzer(),
        detector=detector,
    )
    ensure_demo_tenants(pipeline)
    start = time.perf_counter()
    pipeline.ingest(records, None)
    elapsed = time.perf_counter() - start
    if isinstance(detector, TimedCampaigns):
        with session_scope(pipeline.factory) as session:
            for tenant in session.scalars(select(Tenant)):
                for alert in alerts_of(session, tenant.id):
                    print(json.dumps({k: alert[k] for k in ("kind", "count", "summary")}))
            for table in (CampaignSignature, CampaignBand, CampaignCluster):
                rows = session.scalar(select(func.count()).select_from(table))
                print(json.dumps({"table": table.__tablename__, "rows_at_end": rows}))
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--every", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
    timed = TimedCampaigns(profiler, args.every)
    with tempfile.TemporaryDirectory(prefix="clameur-bench-") as tmp:
        # records are streamed, as `clameur import` reads a file: a list of 10,000 dicts held
        # in memory would make every garbage collection pass slower and inflate the figures
        with_detector = run(
            f"sqlite:///{Path(tmp) / 'a.db'}",
            generate_mentions(count=args.count, seed=args.seed, days=args.days),
            args.batch,
            timed,
        )
        without = 0.0
        if not args.no_baseline:
            without = run(
                f"sqlite:///{Path(tmp) / 'b.db'}",
                generate_mentions(count=args.count, seed=args.seed, days=args.days),
                args.batch,
                NullDetector(),
            )
    print(
        json.dumps(
            {
                "mentions": timed.mentions,
                "detector_wall_s": round(timed.wall, 2),
                "detector_cpu_s": round(timed.cpu, 2),
                "detector_us_per_mention": round(timed.wall / max(1, timed.mentions) * 1e6),
                "detector_mentions_per_s": round(timed.mentions / max(timed.wall, 1e-9)),
                "flagged": timed.flagged,
                "import_wall_s_with_detector": round(with_detector, 2),
                "import_wall_s_without": round(without, 2),
            }
        )
    )
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())


if __name__ == "__main__":
    main()
