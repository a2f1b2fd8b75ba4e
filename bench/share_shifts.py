"""The spike detector's share test on many generated fortnights, straight into the detector.

``bench/detection_replays.py --shifts`` runs four fortnights through the whole pipeline and
the shipped models (a minute each); too few to tell one false alert in 40 fortnights from
none. This bench draws the same law as ``clameur.demo.replays_spikes.mixed_traffic`` (daily
rhythm, quieter weekends, gamma hour-to-hour volume of shape 8, each hour's complaint share
from a beta law around a third, a shift to ``--share`` for 4 hours from a weekday daytime
onset, or none) without texts, and feeds the brand's every-source series
(``clameur.detection.spikes.Series``) and its tests directly, 40 fortnights a minute.
Negativity is the generator's truth (``--reading truth``) or a reading like the shipped
models' on these texts (``--reading model``: a complaint is read firmly negative 93 % of the
time, another mention 7 %; docs/detection.md).

``--ceiling`` instead asks what any test of the windows could do: the beta-binomial tail
of every window of 15, 20, …, 60 minutes ending at each negative mention, against the
generator's *true* share and over-dispersion (an oracle's baseline, not a learned one); the
strictest quiet fortnight's smallest tail sets a threshold with no false alert, and the
fraction of shifts whose first hour goes below it is the most a window test could catch
within the hour at that false-alarm rate.

    .venv/bin/python bench/share_shifts.py [--seeds 300-339] [--peak 60] [--share 0.7]
        [--concentration 30] [--reading model] [--ceiling]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from datetime import UTC, datetime, timedelta

from clameur.demo import replays, replays_spikes
from clameur.detection import spikes
from clameur.detection.rules import Rules

MONDAY = datetime(2030, 3, 4, tzinfo=UTC)
FIRM_IF_COMPLAINT, FIRM_IF_NOT = 0.93, 0.07
"""The shipped models' firm reading of the generator's complaints and other mentions."""

Event = tuple[datetime, bool, bool]
"""Event time, negative in the broad sense, firmly negative."""


def fortnight(
    seed: int, peak: float, share: float, concentration: float, reading: str
) -> tuple[datetime, list[Event]]:
    rng = random.Random(seed * 7919 + int(peak))  # noqa: S311 - benchmark data
    onset = replays_spikes.shift_at(rng, MONDAY, 14)
    g = random.Random(seed)  # noqa: S311
    a, b = concentration / 3, concentration * 2 / 3
    drawn: list[tuple[datetime, bool]] = []
    for h in range(14 * 24):
        at = MONDAY + timedelta(hours=h)
        rate = peak * replays.DAY_PROFILE[at.hour] * (replays.WEEKEND if at.weekday() >= 5 else 1)
        rate *= g.gammavariate(8, 1 / 8)
        hour_share = g.betavariate(a, b)
        for _ in range(replays._poisson(g, rate)):
            when = at + timedelta(seconds=g.randrange(3600))
            shifted = share and onset <= when < onset + timedelta(hours=4)
            drawn.append((when, g.random() < (share if shifted else hour_share)))
    drawn.sort(key=lambda d: d[0])
    if reading == "truth":
        return onset, [(when, c, c) for when, c in drawn]
    r = random.Random(seed + 99)  # noqa: S311
    out = []
    for when, c in drawn:
        firm = r.random() < (FIRM_IF_COMPLAINT if c else FIRM_IF_NOT)
        out.append((when, firm or r.random() < (0.5 if c else 0.06), firm))
    return onset, out


def detect(onset: datetime, events: list[Event], share: float, rules: Rules) -> dict[str, object]:
    """Spike episodes (verdicts an hour apart: the incident's cool-down) outside the shift,
    of any test and of the share test, and the delay from the onset to the first negative
    one during it."""
    series = spikes.Series()
    episodes: list[tuple[datetime, spikes.Verdict]] = []
    last: datetime | None = None
    for when, negative, firm in events:
        window = series.add(when, negative, rules, firm)
        verdict = spikes.judge(series, when, window, rules, share=firm)
        if verdict is not None:
            if last is None or when - last > timedelta(minutes=rules.cooldown_minutes):
                episodes.append((when, verdict))
            last = when
    end = onset + timedelta(hours=5)
    during = [(t, v) for t, v in episodes if share and onset <= t <= end]
    neg = [t for t, v in during if v.kind == "negative_spike"]
    outside = [v for t, v in episodes if (t, v) not in during]
    return {
        "false": len(outside),
        "false_share": sum(v.test == "share" for v in outside),
        "delay": (neg[0] - onset).total_seconds() / 60 if neg else None,
    }


def ceiling(args: argparse.Namespace, seeds: range) -> None:
    import numpy as np
    from scipy.stats import betabinom

    rho = 1 / (1 + args.concentration)
    p0 = 1 / 3
    if args.reading == "model":  # the firm reading of a share s is 0.07 + 0.86 s
        slope = FIRM_IF_COMPLAINT - FIRM_IF_NOT
        p0 = FIRM_IF_NOT + slope / 3
        rho = slope**2 * (2 / 9) * rho / (p0 * (1 - p0))
    c = 1 / rho - 1
    top = 600
    table = np.zeros((top + 1, top + 2))
    for n in range(1, top + 1):
        sf = betabinom.sf(np.arange(n + 1) - 1, n, p0 * c, (1 - p0) * c)
        table[n, : n + 1] = np.log(np.maximum(sf, 1e-300))
    spans = range(3, 13)  # 15 … 60 minutes, in 5-minute bins

    def smallest(events: list[Event], keep: object) -> float:
        times = np.array([e[0].timestamp() for e in events])
        firm = np.array([e[2] for e in events], dtype=int)
        b = (times // 300).astype(int)
        cum = np.cumsum(firm)
        first_of = np.searchsorted(b, np.arange(b.min(), b.max() + 2))
        at = np.flatnonzero(firm == 1)
        at = at[keep(times[at])]  # type: ignore[operator]
        best = 0.0
        for span in spans:
            start = first_of[np.maximum(b[at] - span + 1, b.min()) - b.min()]
            n = np.minimum(at - start + 1, top)
            x = np.minimum(cum[at] - np.where(start > 0, cum[start - 1], 0), n)
            tail = table[n, x]
            tail[(x < 8) | (n < 10) | (x / n < p0 + 0.1)] = 0
            best = min(best, float(tail.min(initial=0.0)))
        return best

    quiet, shifted = [], []
    for seed in seeds:
        onset, events = fortnight(seed, args.peak, 0.0, args.concentration, args.reading)
        quiet.append(smallest(events, lambda t: t == t))
        onset, events = fortnight(seed, args.peak, args.share, args.concentration, args.reading)
        start = onset.timestamp()
        shifted.append(smallest(events, lambda t, s=start: (t >= s) & (t <= s + 3600)))
    bar = min(quiet)
    caught = sum(s < bar for s in shifted)
    print(
        f"ceiling: peak {args.peak:.0f}/h, shift to {args.share}, concentration "
        f"{args.concentration:.0f}, {args.reading}: strictest quiet fortnight's smallest tail "
        f"e^{bar:.1f} (median e^{statistics.median(quiet):.1f}); shifts whose first hour goes "
        f"below it: {caught}/{len(shifted)}; below 1e-4: "
        f"{sum(s < math.log(1e-4) for s in shifted)}/{len(shifted)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="300-339", help="first-last")
    parser.add_argument("--peak", type=float, default=60)
    parser.add_argument("--share", type=float, default=0.7, help="0: quiet fortnights")
    parser.add_argument("--concentration", type=float, default=30.0)
    parser.add_argument("--reading", choices=("truth", "model"), default="model")
    parser.add_argument("--ceiling", action="store_true")
    args = parser.parse_args()
    first, last = (int(s) for s in args.seeds.split("-"))
    seeds = range(first, last + 1)
    if args.ceiling:
        ceiling(args, seeds)
        return
    rules = Rules()
    rows = [
        detect(
            *fortnight(s, args.peak, args.share, args.concentration, args.reading)[:2],
            args.share,
            rules,
        )
        for s in seeds
    ]
    delays = sorted(float(r["delay"]) for r in rows if r["delay"] is not None)  # type: ignore[arg-type]
    within = sum(d <= 60 for d in delays)
    med = f"{statistics.median(delays):.0f}" if delays else "-"
    print(
        f"peak {args.peak:.0f}/h, share {args.share}, concentration {args.concentration:.0f}, "
        f"{args.reading}: {len(rows)} fortnights, false alerts "
        f"{sum(int(r['false']) for r in rows)} (in {sum(int(r['false']) > 0 for r in rows)}; "  # type: ignore[call-overload]
        f"share test {sum(int(r['false_share']) for r in rows)}), "  # type: ignore[call-overload]
        f"negative_spike <= 60 min {within}/{len(rows)}, caught at all {len(delays)}, "
        f"median delay {med} min"
    )


if __name__ == "__main__":
    main()
