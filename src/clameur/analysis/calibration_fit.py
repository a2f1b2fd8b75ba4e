"""Fitting :mod:`clameur.analysis.calibration`: temperatures, thresholds, reliability.

Validation data only — never a frozen functional test part nor a training line:

- sentiment: the xlm-t ``val`` split of every language in ``../shared/data``, the held-out
  20 % of the customer-care lines (:func:`clameur.analysis.care_data.load_care`, the split
  both trainers hold out), the functional ``dev`` parts (French, English, Dutch);
- intent: the held-out care lines and the functional intent ``dev`` parts (Dutch: ``nl_dev``
  lines with an ``intent``);
- toxicity: ``tests/data/toxicity_dev_fr.jsonl`` and the functional toxicity ``dev`` parts
  (MLMA's labels — 80 % toxic, tweets about groups — are unlike the mentions scored).

Each temperature minimises the negative log-likelihood (a golden-section search on
``log T``). The error "after" is cross-fitted: the rows are split in two by a hash of their
text, each half is scaled with the temperature fitted on the other, so the figure is not
measured on the rows it was fitted on. The shipped temperatures are then fitted on all rows.

Thresholds: the uncertain threshold of a model is the confidence below which its calibrated
labels are right less often than :data:`RIGHT_AT` (on the pooled, cross-fitted rows): under
it the label is more likely wrong than right, so it is withheld.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.calibration import (
    DEFAULT_GROUP,
    Calibration,
    expected_calibration_error,
    reliability,
    scale_sigmoid,
    scale_softmax,
)

RIGHT_AT: Final = 0.5
"""A label whose bin of confidence is right less often than this is withheld."""
THRESHOLD_GRID: Final = tuple(round(0.30 + 0.05 * i, 2) for i in range(11))
"""Candidate thresholds, 0.30 to 0.80."""
SENTIMENT_GROUPS: Final = ("fr", "en", "nl")
"""Languages with a sentiment temperature of their own; the others share ``other``."""
XLMT_LANGUAGES: Final = ("fr", "en", "de", "es", "it", "pt", "ar", "hi")
REPO: Final = Path(__file__).resolve().parents[3]


@dataclass(frozen=True, slots=True)
class LabelledSet:
    name: str
    texts: list[str]
    labels: list[str]
    lang: str


def _jsonl(path: Path, field: str = "label") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                obj = json.loads(line)
                if field in obj:
                    rows.append((str(obj["text"]), str(obj[field])))
    return rows


def _set(name: str, rows: Sequence[tuple[str, str]], lang: str) -> LabelledSet:
    return LabelledSet(name, [t for t, _ in rows], [label for _, label in rows], lang)


def validation_sets(
    data_dir: Path | None, functional_dir: Path, care_dir: Path | None = None
) -> dict[str, list[LabelledSet]]:
    """``{"sentiment": [...], "intent": [...], "toxicity": [...]}`` (see the module doc).

    Without ``data_dir`` (no shared data), sentiment is fitted without the xlm-t val sets.
    """
    from clameur.analysis.care_data import CARE_DIR, load_care

    out: dict[str, list[LabelledSet]] = {"sentiment": [], "intent": [], "toxicity": []}
    if data_dir is not None:
        for lang in XLMT_LANGUAGES:
            path = data_dir / "sentiment" / lang / "val.jsonl"
            if path.is_file():
                out["sentiment"].append(_set(f"xlmt_{lang}_val", _jsonl(path), lang))
    _, held_out = load_care(care_dir or CARE_DIR, seed=0)
    for lang in sorted({r.language for r in held_out}):
        mine = [r for r in held_out if r.language == lang]
        out["sentiment"].append(
            _set(f"care_{lang}_val", [(r.text, r.sentiment) for r in mine], lang)
        )
        out["intent"].append(_set(f"care_{lang}_val", [(r.text, r.intent) for r in mine], lang))
    f = functional_dir
    for lang in ("fr", "en"):
        for model in ("sentiment", "intent", "toxicity"):
            path = f / f"{model}_{lang}_dev.jsonl"
            if path.is_file():
                out[model].append(_set(f"functional_{model}_{lang}_dev", _jsonl(path), lang))
    if (f / "nl_dev.jsonl").is_file():
        out["sentiment"].append(_set("functional_nl_dev", _jsonl(f / "nl_dev.jsonl"), "nl"))
        out["intent"].append(
            _set("functional_intent_nl_dev", _jsonl(f / "nl_dev.jsonl", "intent"), "nl")
        )
    tox = REPO / "tests" / "data" / "toxicity_dev_fr.jsonl"
    if tox.is_file():
        out["toxicity"].append(_set("toxicity_dev_fr", _jsonl(tox), "fr"))
    return out


# --- fitting -------------------------------------------------------------------------------


def _nll_softmax(probs: NDArray[np.float32], gold: NDArray[np.int64], t: float) -> float:
    scaled = scale_softmax(probs, t)
    return float(-np.log(np.clip(scaled[np.arange(len(gold)), gold], 1e-9, 1.0)).mean())


def _nll_sigmoid(p: NDArray[np.float32], gold: NDArray[np.int64], t: float) -> float:
    q = np.clip(scale_sigmoid(p, t).astype(np.float64), 1e-9, 1 - 1e-9)
    return float(-(gold * np.log(q) + (1 - gold) * np.log(1 - q)).mean())


def fit_temperature(loss: Callable[[float], float], low: float = 0.1, high: float = 10.0) -> float:
    """The temperature minimising ``loss`` (golden-section search on ``log T``)."""
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(math.exp(c)), loss(math.exp(d))
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(math.exp(d))
    return round(math.exp((a + b) / 2), 4)


def _fold(texts: Sequence[str]) -> NDArray[np.bool_]:
    return np.array(
        [hashlib.blake2b(t.encode(), digest_size=1).digest()[0] & 1 == 1 for t in texts]
    )


@dataclass
class _Rows:
    """Every validation row of one model (and group): its probabilities and gold index."""

    probs: NDArray[np.float32]
    gold: NDArray[np.int64]
    texts: list[str]
    binary: bool = False

    def subset(self, mask: NDArray[np.bool_]) -> _Rows:
        return _Rows(
            self.probs[mask],
            self.gold[mask],
            [t for t, m in zip(self.texts, mask, strict=True) if m],
            self.binary,
        )

    def fit(self) -> float:
        if self.binary:
            return fit_temperature(lambda t: _nll_sigmoid(self.probs, self.gold, t))
        return fit_temperature(lambda t: _nll_softmax(self.probs, self.gold, t))

    def scaled(self, t: float) -> NDArray[np.float32]:
        return scale_sigmoid(self.probs, t) if self.binary else scale_softmax(self.probs, t)

    def cross_fitted(self) -> NDArray[np.float32]:
        """Each half scaled by the temperature fitted on the other half."""
        half = _fold(self.texts)
        out = self.probs.copy()
        for mine in (half, ~half):
            if mine.all() or not mine.any():
                return self.scaled(self.fit())
            out[mine] = self.subset(mine).scaled(self.subset(~mine).fit())
        return out

    def confidence_correct(
        self, probs: NDArray[np.float32] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        p = self.probs if probs is None else probs
        if self.binary:
            pred = (p >= 0.5).astype(np.int64)
            return np.maximum(p, 1 - p).astype(np.float64), pred == self.gold
        best = p.argmax(axis=1)
        return p.max(axis=1).astype(np.float64), best == self.gold


def _concat(parts: Sequence[_Rows]) -> _Rows:
    return _Rows(
        np.concatenate([p.probs for p in parts]),
        np.concatenate([p.gold for p in parts]),
        [t for p in parts for t in p.texts],
        parts[0].binary,
    )


def _report(rows: _Rows, after: NDArray[np.float32], t: float) -> dict[str, Any]:
    conf_b, ok_b = rows.confidence_correct()
    conf_a, ok_a = rows.confidence_correct(after)
    return {
        "n": len(rows.texts),
        "temperature": t,
        "accuracy": round(float(ok_b.mean()), 4),
        "ece_before": round(expected_calibration_error(conf_b, ok_b), 4),
        "ece_after": round(expected_calibration_error(conf_a, ok_a), 4),
        "mean_confidence_before": round(float(conf_b.mean()), 4),
        "mean_confidence_after": round(float(conf_a.mean()), 4),
        "reliability_before": reliability(conf_b, ok_b),
        "reliability_after": reliability(conf_a, ok_a),
    }


def choose_threshold(confidence: NDArray[np.float64], correct: NDArray[np.bool_]) -> float:
    """The largest grid value ``t`` such that the rows in ``[t − 0.05, t)`` are right less
    often than :data:`RIGHT_AT` and every bin above ``t`` is right at least that often."""
    chosen = THRESHOLD_GRID[0]
    for t in THRESHOLD_GRID:
        band = (confidence >= t - 0.05) & (confidence < t)
        if band.sum() >= 5 and correct[band].mean() < RIGHT_AT:
            chosen = t
    return chosen


def _uncertain_rates(conf: NDArray[np.float64], threshold: float) -> float:
    return round(float((conf < threshold).mean()), 4) if len(conf) else 0.0


def fit(
    data_dir: Path | None,
    functional_dir: Path,
    care_dir: Path | None = None,
) -> Calibration:
    """Fit every temperature and threshold on the validation sets; the report in ``fitted``."""
    from clameur.analysis.intent import IntentModel
    from clameur.analysis.sentiment import SentimentModel
    from clameur.analysis.toxicity import LABELS as TOX_LABELS
    from clameur.analysis.toxicity import ToxicityModel

    sets = validation_sets(data_dir, functional_dir, care_dir)
    sentiment, intent, toxicity = SentimentModel.load(), IntentModel.load(), ToxicityModel.load()

    def rows_of(s: LabelledSet, model: Any, labels: Sequence[str], binary: bool = False) -> _Rows:
        probs = model.predict_proba(s.texts)
        if binary:  # p(toxic): predict_proba gives every label's column (normal, toxic)
            probs = probs[:, 1]
        gold = np.array([list(labels).index(label) for label in s.labels], dtype=np.int64)
        return _Rows(probs.astype(np.float32), gold, list(s.texts), binary)

    fitted: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "command": "clameur train calibration",
        "method": "temperature scaling, NLL, cross-fitted ECE (2 halves by text hash), 10 bins",
        "right_at": RIGHT_AT,
        "sets": {m: {s.name: len(s.texts) for s in v} for m, v in sets.items()},
    }
    # Sentiment: a temperature per group, fitted on the group's rows (all sets pooled).
    s_rows = {s.name: (s, rows_of(s, sentiment, sentiment.labels)) for s in sets["sentiment"]}
    temps: dict[str, float] = {}
    groups: dict[str, list[str]] = {}
    for name, (s, _) in s_rows.items():
        group = s.lang if s.lang in SENTIMENT_GROUPS else DEFAULT_GROUP
        groups.setdefault(group, []).append(name)
    after_by_set: dict[str, NDArray[np.float32]] = {}
    group_reports: dict[str, Any] = {}
    for group, names in groups.items():
        pooled = _concat([s_rows[n][1] for n in names])
        temps[group] = pooled.fit()
        after = pooled.cross_fitted()
        group_reports[group] = _report(pooled, after, temps[group])
        start = 0
        for n in names:
            size = len(s_rows[n][1].texts)
            after_by_set[n] = after[start : start + size]
            start += size
    all_s = _concat([r for _, r in s_rows.values()])
    all_s_after = np.concatenate([after_by_set[n] for n in s_rows])
    per_set = {
        n: {k: v for k, v in _report(r, after_by_set[n], 0.0).items() if "reliability" not in k}
        for n, (_, r) in s_rows.items()
    }
    # Intent and toxicity: one temperature each.
    i_rows = _concat([rows_of(s, intent, intent.labels) for s in sets["intent"]])
    t_intent = i_rows.fit()
    i_after = i_rows.cross_fitted()
    x_rows = _concat([rows_of(s, toxicity, TOX_LABELS, binary=True) for s in sets["toxicity"]])
    x_rows.probs = x_rows.probs.reshape(-1)
    t_tox = x_rows.fit()
    x_after = x_rows.cross_fitted()

    s_conf, s_ok = all_s.confidence_correct(all_s_after)
    i_conf, i_ok = i_rows.confidence_correct(i_after)
    thresholds = {
        "sentiment": choose_threshold(s_conf, s_ok),
        "intent": choose_threshold(i_conf, i_ok),
    }
    fitted["sentiment"] = {
        "pooled": _report(all_s, all_s_after, 0.0),
        "groups": group_reports,
        "sets": per_set,
    }
    fitted["intent"] = _report(i_rows, i_after, t_intent)
    fitted["toxicity"] = _report(x_rows, x_after, t_tox)
    fitted["uncertain_rate"] = {
        "sentiment": _uncertain_rates(s_conf, thresholds["sentiment"]),
        "intent": _uncertain_rates(i_conf, thresholds["intent"]),
    }
    known = sorted({lang.split("-", 1)[0] for lang in sentiment.languages})
    return Calibration(
        sentiment=temps,
        intent=t_intent,
        toxicity=t_tox,
        thresholds=thresholds,
        known_languages=tuple(known),
        fitted=fitted,
    )
