"""Brand matching: N generated brand queries against a batch of M demo mentions.

Queries are drawn (seeded) from the demo data's vocabulary in the shapes community managers
write: a brand phrase with topic words, OR groups, exclusions, hashtags and mentions,
NEAR, wildcards and fields. Reports catalogue build time, matching time for the batch, and
how many candidate evaluations the index saved.

    .venv/bin/python bench/matcher.py [--queries 10000] [--mentions 10000]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from clameur.demo.generator import generate_mentions
from clameur.listening.matcher import BrandCatalog, BrandEntry, parse_cached
from clameur.listening.query import Document, prepare, tokenize


def vocabulary(texts: list[str], size: int = 3000) -> list[str]:
    counts = Counter(
        t.norm for text in texts for t in tokenize(text) if t.kind == "word" and len(t.norm) > 3
    )
    return [word for word, _ in counts.most_common(size)][100:]  # skip the most common


def make_query(rng: random.Random, words: list[str]) -> str:
    a, b, c, d = rng.sample(words, 4)
    shape = rng.randrange(7)
    if shape == 0:
        return f'"{a} {b}" ({c} OR {d})'
    if shape == 1:
        return f"{a} -{b}"
    if shape == 2:
        return f"#{a} OR @{b} OR {c}"
    if shape == 3:
        return f"{a} NEAR/3 {b}"
    if shape == 4:
        return f"{a[:4]}* {b}"
    if shape == 5:
        return f"({a} OR {b}) lang:fr"
    return f"{a} {b} source:(twitter OR review)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--mentions", type=int, default=10_000)
    args = parser.parse_args()
    records = list(generate_mentions(count=args.mentions, seed=5))
    docs = [Document(text=r["text"], source=r["source"], lang=r.get("lang")) for r in records]
    rng = random.Random(11)
    words = vocabulary([r["text"] for r in records])
    queries = [make_query(rng, words) for _ in range(args.queries)]

    start = time.perf_counter()
    entries = [BrandEntry(1, "t", n, f"b{n}", (parse_cached(q),)) for n, q in enumerate(queries)]
    catalog = BrandCatalog(entries)
    built = time.perf_counter() - start

    # Matching first, with the token caches cold (as for a process's first batch).
    start = time.perf_counter()
    matched = sum(len(catalog.matches(doc)) for doc in docs)
    matching = time.perf_counter() - start
    start = time.perf_counter()
    prepared = [prepare(doc) for doc in docs]
    tokenised = time.perf_counter() - start
    print(
        f"{args.queries} queries x {args.mentions} mentions: parse+index {built:.2f} s, "
        f"match (incl. tokenise, cold caches) {matching:.2f} s, tokenise again {tokenised:.2f} s, "
        f"{matched} matches, {len(prepared)} docs"
    )


if __name__ == "__main__":
    main()
