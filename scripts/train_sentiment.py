"""Train the sentiment model on the shared data and save the artifact + metadata.

Same as ``clameur train sentiment``. Usage:
.venv/bin/python scripts/train_sentiment.py [DATA_DIR] [--seed N] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from clameur.analysis.sentiment import DEFAULT_ARTIFACT
from clameur.analysis.sentiment_train import train_and_save

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT)
    args = parser.parse_args()
    meta = train_and_save(args.data_dir, seed=args.seed, out=args.out)
    for lang, value in meta["val_macro_f1"].items():
        print(f"{lang}\t{value:.3f}")  # noqa: T201
    print(f"avg\t{meta['val_macro_f1_average']:.3f}")  # noqa: T201


if __name__ == "__main__":
    main()
