"""Calibrated probabilities and the "uncertain" label (#17).

The three models output probabilities (softmax for sentiment and intent, a sigmoid for
toxicity) that were never fitted to mean what they say. Temperature scaling corrects them
without moving any decision: the calibrated row is ``softmax(log p / T)`` (for toxicity
``sigmoid(logit p / T)``), the same argmax, sharper when ``T < 1`` and softer when
``T > 1``. Sentiment has one temperature per language group (its heads differ), intent and
toxicity one each. The temperatures live in ``artifacts/calibration.json``, apart from the
model artifacts, with how they were fitted; :mod:`clameur.analysis.calibration_fit` fits
them (``clameur train calibration``).

A label whose calibrated confidence is below its model's threshold becomes
:data:`UNCERTAIN`, and so does every sentiment and intent of a text in a language none of
the models was trained for (``known_languages``): "uncertain" is stored in place of the
label, with the confidence of the best guess as its score. Toxicity keeps its probability
(it has no label to withhold).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from clameur.errors import InvalidInputError

UNCERTAIN: Final = "uncertain"
DEFAULT_PATH: Final = Path(__file__).resolve().parent / "artifacts" / "calibration.json"
FORMAT: Final = 1
DEFAULT_GROUP: Final = "other"
"""The sentiment temperature for a language without a group of its own (or none)."""
_EPS: Final = 1e-7


def _softmax_scaled(probs: NDArray[np.float32], temps: NDArray[np.float32]) -> NDArray[np.float32]:
    """``softmax(log p / T)`` row by row (``temps`` has one value a row)."""
    logp = np.log(np.clip(probs, _EPS, 1.0)) / temps[:, None]
    logp -= logp.max(axis=1, keepdims=True)
    out: NDArray[np.float32] = np.exp(logp).astype(np.float32)
    out /= out.sum(axis=1, keepdims=True)
    return out


def scale_softmax(probs: NDArray[np.float32], temperature: float) -> NDArray[np.float32]:
    """Probabilities ``(n, k)`` rescaled by one temperature."""
    return _softmax_scaled(probs, np.full(probs.shape[0], temperature, dtype=np.float32))


def scale_sigmoid(p: NDArray[np.float32], temperature: float) -> NDArray[np.float32]:
    """Probabilities ``(n,)`` of a binary model rescaled by a temperature on their logit."""
    q = np.clip(p.astype(np.float64), _EPS, 1.0 - _EPS)
    z = np.log(q / (1.0 - q)) / temperature
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Temperatures and uncertainty thresholds; the identity when nothing was fitted."""

    sentiment: dict[str, float] = field(default_factory=dict)
    """Temperature per language group (``fr``, ``en``…, and :data:`DEFAULT_GROUP`)."""
    intent: float = 1.0
    toxicity: float = 1.0
    thresholds: dict[str, float] = field(default_factory=dict)
    """``{"sentiment": t, "intent": t}``: a calibrated confidence below ``t`` is uncertain."""
    known_languages: tuple[str, ...] = ()
    """Languages the models were trained for; empty means every language counts as known."""
    fitted: dict[str, Any] = field(default_factory=dict)
    """How it was fitted (data, sizes, error before/after): for reading, not used here."""

    # --- applying ------------------------------------------------------------------------

    def sentiment_probs(
        self, probs: NDArray[np.float32], langs: Sequence[str | None]
    ) -> NDArray[np.float32]:
        if not self.sentiment:
            return probs
        default = self.sentiment.get(DEFAULT_GROUP, 1.0)
        temps = np.array(
            [self.sentiment.get(lang or DEFAULT_GROUP, default) for lang in langs],
            dtype=np.float32,
        )
        return _softmax_scaled(probs, temps)

    def intent_probs(self, probs: NDArray[np.float32]) -> NDArray[np.float32]:
        return probs if self.intent == 1.0 else scale_softmax(probs, self.intent)

    def toxicity_probs(self, p: NDArray[np.float32]) -> NDArray[np.float32]:
        return p if self.toxicity == 1.0 else scale_sigmoid(p, self.toxicity)

    def is_known(self, lang: str | None) -> bool:
        """False only for a language detected and outside ``known_languages``."""
        return not self.known_languages or lang is None or lang in self.known_languages

    def label(self, model: str, label: str, confidence: float, lang: str | None) -> str:
        """``label``, or :data:`UNCERTAIN` below the model's threshold or in an unknown
        language."""
        if not self.is_known(lang):
            return UNCERTAIN
        return UNCERTAIN if confidence < self.thresholds.get(model, 0.0) else label

    # --- persistence ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "temperatures": {
                "sentiment": dict(self.sentiment),
                "intent": self.intent,
                "toxicity": self.toxicity,
            },
            "thresholds": dict(self.thresholds),
            "known_languages": list(self.known_languages),
            "fitted": self.fitted,
        }

    def save(self, path: Path = DEFAULT_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def from_dict(cls, obj: Any, where: str = "calibration") -> Calibration:
        try:
            if obj.get("format") != FORMAT:
                raise ValueError(f"format {obj.get('format')!r}, expected {FORMAT}")
            temps = obj["temperatures"]
            sentiment = {str(k): float(v) for k, v in temps.get("sentiment", {}).items()}
            values = [*sentiment.values(), float(temps["intent"]), float(temps["toxicity"])]
            if any(not (0.05 <= v <= 20.0) for v in values):
                raise ValueError("a temperature is outside 0.05–20")
            return cls(
                sentiment=sentiment,
                intent=float(temps["intent"]),
                toxicity=float(temps["toxicity"]),
                thresholds={str(k): float(v) for k, v in obj.get("thresholds", {}).items()},
                known_languages=tuple(str(c) for c in obj.get("known_languages", [])),
                fitted=dict(obj.get("fitted", {})),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"not a calibration file ({exc})", where=where) from None

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> Calibration:
        """The fitted calibration; the identity (no scaling, never uncertain) when absent."""
        if not path.is_file():
            return cls()
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"cannot read ({exc})", where=str(path)) from None
        return cls.from_dict(obj, where=str(path))


# --- measuring -----------------------------------------------------------------------------


def reliability(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], bins: int = 10
) -> list[dict[str, float | int]]:
    """Equal-width bins of the top-label confidence: ``n``, mean confidence, accuracy."""
    out: list[dict[str, float | int]] = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    for b in range(bins):
        mine = which == b
        n = int(mine.sum())
        out.append(
            {
                "low": round(float(edges[b]), 2),
                "high": round(float(edges[b + 1]), 2),
                "n": n,
                "confidence": float(confidence[mine].mean()) if n else 0.0,
                "accuracy": float(correct[mine].mean()) if n else 0.0,
            }
        )
    return out


def expected_calibration_error(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], bins: int = 10
) -> float:
    """ECE: the bins' |accuracy − confidence| weighted by their share of the rows."""
    n = len(confidence)
    if n == 0:
        return 0.0
    table = reliability(confidence, correct, bins)
    return float(
        sum(
            int(b["n"]) / n * abs(float(b["accuracy"]) - float(b["confidence"]))
            for b in table
            if b["n"]
        )
    )
