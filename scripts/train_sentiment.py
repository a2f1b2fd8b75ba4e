"""Train the sentiment model on the shared data and save the artifact + metadata.

Usage: .venv/bin/python scripts/train_sentiment.py [DATA_DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from clameur.analysis.sentiment import DEFAULT_ARTIFACT, train_sentiment, validation_report

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT)
    args = parser.parse_args()
    model = train_sentiment(args.data_dir, seed=args.seed)
    model.save(args.out)
    report = validation_report(model, args.data_dir)
    f1 = {lang: round(float(r["macro_f1"]), 4) for lang, r in report.items()}
    meta = {
        "model": "sentiment",
        "date": "2026-11-23",
        **model.metadata,
        "val_macro_f1": f1,
        "val_macro_f1_average": round(float(np.mean(list(f1.values()))), 4),
        "artifact_bytes": args.out.stat().st_size,
    }
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    for lang, value in f1.items():
        print(f"{lang}\t{value:.3f}")  # noqa: T201
    print(f"avg\t{meta['val_macro_f1_average']:.3f}")  # noqa: T201


if __name__ == "__main__":
    main()
