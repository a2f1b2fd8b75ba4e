"""Spike detection on generated replays: false alerts on ordinary weeks, delay on waves.

For each seed and traffic level, a week of ordinary traffic (daily rhythm, quiet weekends,
hour-to-hour variation) runs through the full pipeline on a fresh SQLite database, with a
complaint wave planted on day 4–7 at a random time of day. Reported: spike alerts before
the wave (false alerts), whether the wave was caught, the delay from its first mention to
the alert (event time), and how many spike incidents the wave made.

    .venv/bin/python bench/detection_replays.py [--seeds 8] [--peaks 5,20,80] [--waves 40,120,400]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.demo import replays
from clameur.detection import alerts_of
from clameur.pipeline import Pipeline
from clameur.tenancy import add_brand, add_tenant

MONDAY = datetime(2030, 3, 4, tzinfo=UTC)


def run_one(seed: int, peak: float, wave: int, workdir: Path) -> dict[str, object]:
    rng = random.Random(seed * 1000 + int(peak) + wave)  # noqa: S311 - benchmark data
    engine = create_engine_for(f"sqlite:///{workdir}/s{seed}-{peak}-{wave}.db")
    upgrade(engine)
    factory = make_session_factory(engine)
    clock = FrozenClock(datetime(2031, 1, 1, tzinfo=UTC))
    with session_scope(factory) as session:
        tenant = add_tenant(session, clock, "acme", "Acme")
        add_brand(session, clock, tenant, "volta", "Volta", ["volta"])
        tenant_id = tenant.id
    start = MONDAY + timedelta(days=rng.randint(3, 6), minutes=rng.randrange(24 * 60))
    week = replays.ordinary_traffic(MONDAY, days=7, peak_per_hour=peak, seed=seed)
    planted = replays.complaint_wave(start, count=wave, minutes=180, seed=seed + 7) if wave else []
    pipeline = Pipeline(factory=factory, settings=Settings(batch_size=1000), clock=clock)
    pipeline.ingest(replays.merged(week, planted), tenant_id)
    with session_scope(factory) as session:
        spikes = [a for a in alerts_of(session, tenant_id) if "spike" in a["kind"]]
    engine.dispose()
    before = [a for a in spikes if datetime.fromisoformat(a["triggered_at"]) < start]
    during = [
        a
        for a in spikes
        if start <= datetime.fromisoformat(a["triggered_at"]) <= start + timedelta(hours=3)
    ]
    delay = (
        (datetime.fromisoformat(during[0]["triggered_at"]) - start).total_seconds() / 60
        if during
        else None
    )
    return {
        "false": len(before),
        "caught": bool(during),
        "delay": delay,
        "incidents": len(during),
        "mentions": len(week),
        "hour": start.hour,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--peaks", default="5,20,80")
    parser.add_argument("--waves", default="40,120,400")
    args = parser.parse_args()
    peaks = [float(p) for p in args.peaks.split(",")]
    waves = [int(w) for w in args.waves.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        print("peak/h  wave  weeks  false alerts  caught  delay min (median, max)  incidents")
        for peak in peaks:
            for wave in waves:
                rows = [run_one(seed, peak, wave, Path(tmp)) for seed in range(args.seeds)]
                delays = [r["delay"] for r in rows if r["delay"] is not None]
                med = f"{statistics.median(delays):.0f}" if delays else "-"
                top = f"{max(delays):.0f}" if delays else "-"  # type: ignore[type-var]
                print(
                    f"{peak:6.0f} {wave:5d} {len(rows):6d} {sum(r['false'] for r in rows):13d} "  # type: ignore[misc]
                    f"{sum(bool(r['caught']) for r in rows):4d}/{len(rows)}  {med:>6} {top:>6}"
                    f"  {max(int(r['incidents']) for r in rows):9d}",  # type: ignore[call-overload]
                    flush=True,
                )


if __name__ == "__main__":
    main()
