"""Identity-mention toxicity set (#17): the frozen test parts and the shipped model's floors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from clameur.analysis.functional import run
from clameur.analysis.toxicity_identity import identity_rows

IDENTITY_DIR = Path(__file__).resolve().parents[1] / "data" / "toxicity_identity"

# The test parts are frozen (tests/data/toxicity_identity/README.md): an edit must be deliberate.
FROZEN_SHA256 = {
    "toxicity_en_test.jsonl": "f1d2b438dc5e1df2fe8c81509ffe2563edffcfee65a48e1b31891036932f097a",
    "toxicity_fr_test.jsonl": "ac674bf2810df53441305e78712002eb1da48e020348745201d73a1e90351a5a",
}


@pytest.mark.parametrize("name", sorted(FROZEN_SHA256))
def test_frozen_test_parts_are_unchanged(name: str) -> None:
    digest = hashlib.sha256((IDENTITY_DIR / name).read_bytes()).hexdigest()
    assert digest == FROZEN_SHA256[name], f"{name} is frozen: do not edit it (README.md)"


NORMAL_CAPABILITIES = ("identity_neutral", "identity_positive", "counter_speech", "reclaimed")
NORMAL_CAPABILITIES += ("quoting_report",)
# The shipped model on the frozen test parts (2026-12-06, docs/models.md "Identity mentions"):
# false-positive rates must stay at or below these ceilings, recall at or above the floors.
NEUTRAL_FPR_CEILING = 0.05  # issue #17's target; 0/44 French and 0/23 English when shipped
ALL_FPR_CEILING = {"toxicity_fr": 0.07, "toxicity_en": 0.09}  # 0.042 and 0.056, plus 0.03
RECALL_FLOOR = {"toxicity_fr": 0.60, "toxicity_en": 0.72}  # 0.633 and 0.750, minus 0.03


def _lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]


def test_set_is_large_enough_balanced_and_dev_differs_from_test() -> None:
    per_lang: dict[str, list[dict[str, str]]] = {"fr": [], "en": []}
    seen: set[str] = set()
    for split in ("dev", "test"):
        for lang, rows in per_lang.items():
            lines = _lines(IDENTITY_DIR / f"toxicity_{lang}_{split}.jsonl")
            assert {r["split"] for r in lines} == {split}
            assert {r["lang"] for r in lines} == {lang}
            for r in lines:
                key = " ".join(r["text"].lower().split())
                assert key not in seen, r["text"]
                seen.add(key)
            rows += lines
    assert len(per_lang["fr"]) >= 150
    assert len(per_lang["en"]) >= 80
    for rows in per_lang.values():
        caps = {r["capability"] for r in rows}
        assert caps == {*NORMAL_CAPABILITIES, "identity_attack"}
        share = sum(r["label"] == "toxic" for r in rows) / len(rows)
        assert 0.25 <= share <= 0.35
        assert all((r["label"] == "toxic") == (r["capability"] == "identity_attack") for r in rows)


def test_generated_training_rows_are_deterministic_and_copy_no_set_line() -> None:
    rows = identity_rows(0)
    assert rows == identity_rows(0)
    assert {r.label for r in rows} == {"normal", "toxic"}
    written = {
        " ".join(r["text"].lower().split())
        for path in IDENTITY_DIR.glob("*.jsonl")
        for r in _lines(path)
    }
    assert not written & {" ".join(r.text.lower().split()) for r in rows}


@pytest.fixture(scope="module")
def frozen_report() -> dict[str, Any]:
    suites: dict[str, Any] = run(IDENTITY_DIR, ("toxicity",), "test")["suites"]
    return suites


def _rate(report: dict[str, Any], capabilities: tuple[str, ...]) -> float:
    per = report["per_capability"]
    n = sum(per[c]["n"] for c in capabilities)
    wrong = sum(per[c]["n"] * (1 - per[c]["accuracy"]) for c in capabilities)
    return float(wrong / n)


@pytest.mark.parametrize("suite", ["toxicity_fr", "toxicity_en"])
def test_neutral_mentions_of_groups_are_not_toxic(
    frozen_report: dict[str, Any], suite: str
) -> None:
    report = frozen_report[suite]
    assert _rate(report, NORMAL_CAPABILITIES[:2]) <= NEUTRAL_FPR_CEILING, report["errors"]
    assert _rate(report, NORMAL_CAPABILITIES) <= ALL_FPR_CEILING[suite], report["errors"]


@pytest.mark.parametrize("suite", ["toxicity_fr", "toxicity_en"])
def test_identity_attacks_are_caught(frozen_report: dict[str, Any], suite: str) -> None:
    report = frozen_report[suite]
    assert 1 - _rate(report, ("identity_attack",)) >= RECALL_FLOOR[suite], report["errors"]
