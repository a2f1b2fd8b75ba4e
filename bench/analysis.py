"""Throughput of every per-mention analysis together, on one core.

Generates 10,000 demo mentions (French ~65 %, English ~35 %, every source), builds the
analysis inputs the pipeline would, pins the process to one CPU and times
``ModelAnalyzer.analyse`` (sanitising, normalisation, hashed features once, sentiment,
toxicity, intent, language, actionability, influence score and reach) over the whole
batch, and in pipeline-sized batches of 1,000. Best of ``--repeat`` runs, after one warm-up
(model loading is excluded and printed apart). ``--breakdown`` times each part alone.

    .venv/bin/python bench/analysis.py [--n 10000] [--repeat 3] [--breakdown]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from clameur.analysis.base import AnalysisInput, input_of
from clameur.analysis.engine import ModelAnalyzer, sanitise
from clameur.analysis.features import FeatureConfig, extract, normalise_batch
from clameur.demo.generator import generate_mentions
from clameur.mentions.schemas import normalise


def inputs(n: int) -> list[AnalysisInput]:
    """What the pipeline's analyse step would give the analyzer for each mention."""
    return [input_of(normalise(record)) for record in generate_mentions(count=n, seed=7)]


def best(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--breakdown", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    items = inputs(args.n)
    start = time.perf_counter()
    analyzer = ModelAnalyzer.load()
    print(f"models loaded in {time.perf_counter() - start:.2f} s; {len(items):,} mentions; 1 core")

    whole = best(lambda: analyzer.analyse(items), args.repeat)
    print(f"one batch of {len(items):,}: {whole:.2f} s = {len(items) / whole:,.0f} mentions/s")

    def batched() -> None:
        for i in range(0, len(items), 1_000):
            analyzer.analyse(items[i : i + 1_000])

    t = best(batched, args.repeat)
    print(f"batches of 1,000:     {t:.2f} s = {len(items) / t:,.0f} mentions/s")

    if args.breakdown:
        texts = [sanitise(i.text) for i in items]
        normed = normalise_batch(texts)
        batch = extract(texts, FeatureConfig(), normed=normed)
        parts: dict[str, Callable[[], Any]] = {
            "sanitise": lambda: [sanitise(i.text) for i in items],
            "normalise": lambda: normalise_batch(texts),
            "features": lambda: extract(texts, FeatureConfig(), normed=normed),
            "sentiment": lambda: analyzer.sentiment.scores_from(batch, normed, texts),
            "toxicity": lambda: analyzer.toxicity.scores_from(batch, normed, texts),
            "intent": lambda: analyzer.intent.scores_from(batch, normed, texts),
            "language": lambda: analyzer.language.detect(texts, [i.lang_hint for i in items]),
        }
        for name, fn in parts.items():
            t = best(fn, args.repeat)
            print(f"  {name:<10} {1e3 * t / len(items):.3f} ms/mention")


if __name__ == "__main__":
    main()
