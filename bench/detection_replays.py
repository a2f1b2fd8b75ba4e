"""Spike detection on generated replays: false alerts on ordinary weeks, delay on waves
and on negativity shifts.

Waves (default): for each seed and traffic level, a week of ordinary traffic (daily
rhythm, quiet weekends, hour-to-hour variation) runs through the full pipeline on a fresh
SQLite database, with a complaint wave planted on day 4–7 at a random time of day.
Reported: spike alerts before the wave (false alerts), whether the wave was caught, the
delay from its first mention (the onset) to the alert's ``triggered_at`` — the event time
at which the detector had the evidence — and how many spike incidents the wave made.

Shifts (``--shifts``): a fortnight of traffic whose complaint share varies hour to hour
(``clameur.demo.replays_spikes.mixed_traffic``, a third on average), with one negativity
shift at constant volume (complaints ``--share`` of traffic for 4 hours from a random
weekday daytime onset), or none (``--share 0``: a quiet fortnight). Reported: spike alerts
outside the shift (false alerts), whether a negative_spike came within 60 minutes of the
onset, and the delay from the onset to its ``triggered_at``. ``--truth`` reads each
mention's negativity from the generator's own complaint texts instead of the shipped
models (what the detector does when the analyzer is right; the models are noisy on these
texts and shrink the shift the detector sees).

    .venv/bin/python bench/detection_replays.py [--seeds 8] [--peaks 5,20,80] [--waves 40,120,400]
    .venv/bin/python bench/detection_replays.py --shifts [--first-seed 100] [--share 0.7] [--truth]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clameur.analysis import Analysis, AnalysisInput, Analyzer, default_analyzer
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.demo import replays, replays_spikes
from clameur.detection import alerts_of
from clameur.pipeline import Pipeline
from clameur.tenancy import add_brand, add_tenant

MONDAY = datetime(2030, 3, 4, tzinfo=UTC)
_COMPLAINTS = tuple(
    piece.strip(" .,!?").lower()
    for template in (*replays._GRUMBLE, *replays._WAVE_CORE)
    for piece in re.split(r"\{[a-z]+\}", template)
    if len(piece.strip(" .,!?")) >= 10
)


class Truth:
    """Negative exactly when the text is one of the generator's complaints."""

    def analyse(self, items: Sequence[AnalysisInput]) -> list[Analysis]:
        return [
            Analysis(lang="fr", sentiment="negative", intent="complaint")
            if any(p in item.text.lower() for p in _COMPLAINTS)
            else Analysis(lang="fr", sentiment="neutral", intent="question")
            for item in items
        ]


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


def run_shift(
    seed: int,
    peak: float,
    share: float,
    workdir: Path,
    analyzer: Analyzer,
    concentration: float = 30.0,
) -> dict[str, object]:
    """One fortnight with a negativity shift (``share`` 0: none) through the pipeline."""
    rng = random.Random(seed * 7919 + int(peak))  # noqa: S311 - benchmark data
    engine = create_engine_for(f"sqlite:///{workdir}/f{seed}-{peak}-{share}.db")
    upgrade(engine)
    factory = make_session_factory(engine)
    clock = FrozenClock(datetime(2031, 1, 1, tzinfo=UTC))
    with session_scope(factory) as session:
        tenant = add_tenant(session, clock, "acme", "Acme")
        add_brand(session, clock, tenant, "volta", "Volta", ["volta"])
        tenant_id = tenant.id
    onset = replays_spikes.shift_at(rng, MONDAY, 14)
    shifts = (replays_spikes.Shift(onset, 4, share),) if share else ()
    records = replays_spikes.mixed_traffic(
        MONDAY,
        days=14,
        peak_per_hour=peak,
        seed=seed,
        shifts=shifts,
        share_concentration=concentration,
    )
    pipeline = Pipeline(
        factory=factory, settings=Settings(batch_size=1000), clock=clock, analyzer=analyzer
    )
    pipeline.ingest(records, tenant_id)
    with session_scope(factory) as session:
        spikes = [a for a in alerts_of(session, tenant_id) if "spike" in a["kind"]]
    engine.dispose()
    end = onset + timedelta(hours=5)

    def during(a: dict[str, object]) -> bool:
        return bool(shifts) and onset <= datetime.fromisoformat(str(a["triggered_at"])) <= end

    negative = [a for a in spikes if during(a) and a["kind"] == "negative_spike"]
    delay = (
        (datetime.fromisoformat(negative[0]["triggered_at"]) - onset).total_seconds() / 60
        if negative
        else None
    )
    return {
        "false": sum(not during(a) for a in spikes),
        "caught": delay is not None and delay <= 60,
        "delay": delay,
        "mentions": len(records),
        "tests": negative[0]["evidence"].get("tests") if negative else None,
    }


def shifts_main(args: argparse.Namespace) -> None:
    peaks = [float(p) for p in args.peaks.split(",")]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    with tempfile.TemporaryDirectory() as tmp:
        print("peak/h  share  fortnights  false alerts  caught ≤ 60 min  delay min (median, max)")
        for peak in peaks:
            analyzer: Analyzer = Truth() if args.truth else default_analyzer()
            rows = [
                run_shift(seed, peak, args.share, Path(tmp), analyzer, args.concentration)
                for seed in seeds
            ]
            delays = [float(r["delay"]) for r in rows if r["delay"] is not None]  # type: ignore[arg-type]
            med = f"{statistics.median(delays):.0f}" if delays else "-"
            top = f"{max(delays):.0f}" if delays else "-"
            caught = sum(bool(r["caught"]) for r in rows)
            print(
                f"{peak:6.0f} {args.share:6.2f} {len(rows):11d} "
                f"{sum(int(r['false']) for r in rows):13d} "  # type: ignore[call-overload]
                f"{caught:9d}/{len(rows)}  {med:>8} {top:>6}",
                flush=True,
            )
            if args.verbose:
                for seed, r in zip(seeds, rows, strict=True):
                    print("   ", seed, r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--peaks", default="5,20,80")
    parser.add_argument("--waves", default="40,120,400")
    parser.add_argument("--shifts", action="store_true", help="negativity shifts, fortnights")
    parser.add_argument("--share", type=float, default=0.7, help="complaint share of a shift")
    parser.add_argument("--first-seed", type=int, default=100)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--truth", action="store_true", help="shifts: negativity from the texts")
    parser.add_argument(
        "--concentration",
        type=float,
        default=30.0,
        help="shifts: the beta law of each hour's complaint share (30: ±0.085 around a third)",
    )
    args = parser.parse_args()
    if args.shifts:
        shifts_main(args)
        return
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
