"""Functional tests of the shipped models: per-capability accuracy on written suites (#17).

The suites (``tests/data/functional/``, see its README) are JSON Lines of
``{text, label, capability, lang, split}``, one file per model, language and split:
``sentiment_fr_test.jsonl``, ``intent_en_dev.jsonl``, … Dutch rows (``nl_{split}.jsonl``)
carry a sentiment ``label`` and, where it is clear, an ``intent``; they are scored as the
suites ``sentiment_nl`` and ``intent_nl``. ``unseen_languages.jsonl`` holds texts in
languages no model was trained for: it has no accuracy, only what the analyser says (the
language it detects, the sentiment and its confidence).

Texts go through :class:`clameur.analysis.engine.ModelAnalyzer` — what an agent sees — loaded
once; a text scored toxic is one whose toxicity is at least 0.5.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from clameur.analysis.base import Analysis, AnalysisInput, Analyzer
from clameur.analysis.intent import LABELS as INTENT_LABELS
from clameur.analysis.model_base import json_lines
from clameur.analysis.sentiment import LABELS as SENTIMENT_LABELS
from clameur.analysis.toxicity import LABELS as TOXICITY_LABELS
from clameur.errors import InvalidInputError

SUITES: Final[tuple[str, ...]] = ("sentiment", "intent", "toxicity")
SPLITS: Final[tuple[str, ...]] = ("dev", "test")
LABELS: Final[dict[str, tuple[str, ...]]] = {
    "sentiment": SENTIMENT_LABELS,
    "intent": INTENT_LABELS,
    "toxicity": TOXICITY_LABELS,
}
TOXIC_AT: Final = 0.5
UNSEEN_FILE: Final = "unseen_languages.jsonl"
CONFIDENT_AT: Final = 0.6
"""Unseen languages: a sentiment at or above this confidence counts as a confident guess."""

_REPO_SUITES = Path(__file__).resolve().parents[3] / "tests" / "data" / "functional"
_SUITE_FILE = re.compile(r"^(sentiment|intent|toxicity)_([a-z]{2})_(dev|test)\.jsonl$")
_NL_FILE = re.compile(r"^nl_(dev|test)\.jsonl$")


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    label: str
    capability: str
    lang: str
    where: str
    """``file:line``, for error reports."""
    split: str | None = None


def default_dir() -> Path:
    """The repository's ``tests/data/functional`` (or the working folder's), else an error."""
    for candidate in (_REPO_SUITES, Path.cwd() / "tests" / "data" / "functional"):
        if candidate.is_dir():
            return candidate
    raise InvalidInputError(
        "no functional suites here (they live in the repository's tests/data/functional): "
        "use --dir DIR",
        where=str(_REPO_SUITES),
    )


def read_cases(path: Path, labels: Sequence[str], label_field: str = "label") -> list[Case]:
    """The cases of one suite file; a malformed line stops with ``file:line`` and the reason.

    With ``label_field="intent"`` (Dutch rows), a line without that field is skipped.
    """
    cases: list[Case] = []
    for where, obj in json_lines(path):
        for key in ("text", "capability", "lang"):
            if not isinstance(obj.get(key), str) or not obj[key].strip():
                raise InvalidInputError(f"expected a non-empty string {key!r}", where=where)
        if label_field not in obj and label_field != "label":
            continue
        split = obj.get("split")
        if split is not None and split not in SPLITS:
            raise InvalidInputError(f"split {split!r} is not dev or test", where=where)
        label = obj.get(label_field)
        if label not in labels:
            raise InvalidInputError(
                f"{label_field} {label!r} is not one of {', '.join(labels)}", where=where
            )
        cases.append(
            Case(
                text=obj["text"],
                label=str(label),
                capability=obj["capability"],
                lang=obj["lang"],
                where=where,
                split=split,
            )
        )
    return cases


def suite_files(root: Path, split: str) -> list[tuple[str, str, Path]]:
    """``(suite, language, path)`` of every suite file of ``split`` under ``root``."""
    found: list[tuple[str, str, Path]] = []
    for path in sorted(root.glob("*.jsonl")):
        if (m := _SUITE_FILE.match(path.name)) is not None and m.group(3) == split:
            found.append((m.group(1), m.group(2), path))
        elif (n := _NL_FILE.match(path.name)) is not None and n.group(1) == split:
            found.append(("sentiment", "nl", path))
            found.append(("intent", "nl", path))
    rank = {"fr": 0, "en": 1, "nl": 2}
    return sorted(found, key=lambda f: (SUITES.index(f[0]), rank.get(f[1], 3), f[1]))


def score(cases: Sequence[Case], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Macro-F1 (over the labels present in ``cases``), accuracy, per capability, the errors."""
    if len(cases) != len(predicted):
        raise ValueError(f"{len(cases)} cases but {len(predicted)} predictions")
    gold = [c.label for c in cases]
    f1s: list[float] = []
    for label in labels:
        support = gold.count(label)
        if not support:
            continue
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        n_pred = sum(1 for p in predicted if p == label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / support
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    per_capability: dict[str, dict[str, Any]] = {}
    for case, guess in zip(cases, predicted, strict=True):
        entry = per_capability.setdefault(case.capability, {"correct": 0, "n": 0})
        entry["n"] += 1
        entry["correct"] += int(case.label == guess)
    n = len(cases)
    return {
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / n if n else 0.0,
        "n": n,
        "per_capability": {
            cap: {"accuracy": e["correct"] / e["n"], "n": e["n"]}
            for cap, e in per_capability.items()
        },
        "errors": [
            {
                "where": c.where,
                "capability": c.capability,
                "text": c.text,
                "label": c.label,
                "predicted": p,
            }
            for c, p in zip(cases, predicted, strict=True)
            if c.label != p
        ],
    }


def _inputs(texts: Iterable[str]) -> list[AnalysisInput]:
    when = datetime(2026, 12, 1, 12, tzinfo=UTC)
    return [AnalysisInput(text=t, source="functional", created_at=when) for t in texts]


def predicted_label(suite: str, analysis: Analysis) -> str:
    """The label an analysis gives for ``suite`` (``"none"`` when the analyser gave none)."""
    if suite == "sentiment":
        return analysis.sentiment or "none"
    if suite == "intent":
        return analysis.intent or "none"
    if analysis.toxicity is None:
        return "none"
    return "toxic" if analysis.toxicity >= TOXIC_AT else "normal"


def run(
    root: Path,
    suites: Sequence[str] = SUITES,
    split: str = "test",
    analyzer: Analyzer | None = None,
) -> dict[str, Any]:
    """Score every suite file of ``split`` under ``root``: ``{"suites": {...}, "unseen": …}``.

    Suite names are ``<model>_<lang>`` (``sentiment_fr``, ``intent_nl``…). Every file is read
    and checked before any model is loaded.
    """
    unknown = sorted(set(suites) - set(SUITES))
    if unknown:
        raise InvalidInputError(
            f"unknown suite {unknown[0]!r}: use {', '.join(SUITES)} or all", where="suite"
        )
    if split not in SPLITS:
        raise InvalidInputError(f"unknown split {split!r}: use dev or test", where="split")
    if not root.is_dir():
        raise InvalidInputError("not a folder", where=str(root))
    loaded: list[tuple[str, str, list[Case]]] = []
    for suite, lang, path in suite_files(root, split):
        if suite not in suites:
            continue
        field = "intent" if (lang == "nl" and suite == "intent") else "label"
        loaded.append((suite, lang, read_cases(path, LABELS[suite], field)))
    unseen_path = root / UNSEEN_FILE
    unseen: list[Case] = []
    if "sentiment" in suites and unseen_path.is_file():
        unseen = [c for c in read_cases(unseen_path, SENTIMENT_LABELS) if c.split in (split, None)]
    if not loaded:
        raise InvalidInputError(
            f"no {split} suite file for {', '.join(suites)} (expected e.g. "
            f"{suites[0]}_fr_{split}.jsonl)",
            where=str(root),
        )
    if analyzer is None:
        from clameur.analysis.engine import ModelAnalyzer

        analyzer = ModelAnalyzer.load()
    every = [c.text for _, _, cases in loaded for c in cases] + [c.text for c in unseen]
    texts = list(dict.fromkeys(every))
    results = dict(zip(texts, analyzer.analyse(_inputs(texts)), strict=True))
    out: dict[str, Any] = {"split": split, "dir": str(root), "suites": {}}
    for suite, lang, cases in loaded:
        analyses = [results[c.text] for c in cases]
        report = score(cases, [predicted_label(suite, a) for a in analyses], LABELS[suite])
        report["languages_detected"] = dict(Counter(a.lang or "none" for a in analyses))
        out["suites"][f"{suite}_{lang}"] = report
    if unseen:
        out["unseen"] = _unseen_report(unseen, [results[c.text] for c in unseen])
    return out


def _unseen_report(cases: Sequence[Case], analyses: Sequence[Analysis]) -> dict[str, Any]:
    """What the analyser says on languages it was not trained for (no accuracy)."""
    per_language: dict[str, dict[str, Any]] = {}
    for case, a in zip(cases, analyses, strict=True):
        entry = per_language.setdefault(
            case.lang, {"n": 0, "detected": Counter(), "sentiment": Counter(), "scores": []}
        )
        entry["n"] += 1
        entry["detected"][a.lang or "none"] += 1
        entry["sentiment"][a.sentiment or "none"] += 1
        entry["scores"].append(a.sentiment_score or 0.0)
    scores = [a.sentiment_score or 0.0 for a in analyses]
    uncertain = sum(1 for a in analyses if a.sentiment in (None, "uncertain"))
    return {
        "n": len(cases),
        "uncertain": uncertain,
        "confident": sum(
            1
            for a, s in zip(analyses, scores, strict=True)
            if a.sentiment not in (None, "uncertain") and s >= CONFIDENT_AT
        ),
        "mean_confidence": sum(scores) / len(scores) if scores else 0.0,
        "sentiment_correct": sum(
            1 for c, a in zip(cases, analyses, strict=True) if a.sentiment == c.label
        ),
        "languages_detected": dict(Counter(a.lang or "none" for a in analyses)),
        "per_language": {
            lang: {
                "n": e["n"],
                "detected": dict(e["detected"]),
                "sentiment": dict(e["sentiment"]),
                "mean_confidence": sum(e["scores"]) / len(e["scores"]),
            }
            for lang, e in per_language.items()
        },
    }
