"""Small factories for test data (no fixture files)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest


def record(external_id: str, text: str, **overrides: Any) -> dict[str, Any]:
    """One valid import-contract record; override any field."""
    base: dict[str, Any] = {
        "source": "twitter",
        "external_id": external_id,
        "text": text,
        "created_at": "2026-11-16T09:00:00+01:00",
        "author": {"handle": "client1", "followers": 120},
    }
    base.update(overrides)
    return base


def write_jsonl(path: Path, lines: Iterable[dict[str, Any] | bytes | str]) -> Path:
    with path.open("wb") as handle:
        for line in lines:
            if isinstance(line, dict):
                handle.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
            elif isinstance(line, str):
                handle.write(line.encode() + b"\n")
            else:
                handle.write(line + b"\n")
    return path


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""The training and validation sets (``../shared/data`` next to the checkout)."""


def needs_shared_data(subdir: str) -> pytest.MarkDecorator:
    """Skip a test when ``../shared/data/<subdir>`` is absent (it is not in the repo)."""
    return pytest.mark.skipif(
        not (SHARED_DATA / subdir).is_dir(),
        reason=f"shared data not found at {SHARED_DATA} (../shared/data relative to the repo)",
    )
