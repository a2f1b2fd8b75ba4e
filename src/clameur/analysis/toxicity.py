"""Toxicity: hashed n-grams + transparent rule cues, one logistic regression.

``p(toxic) = sigmoid(w · x + v · cues + b)`` where ``x`` are the shared hashed features of
:mod:`clameur.analysis.features` (the combined analyser computes them once per batch) and
``cues`` the dozen counts of :mod:`clameur.analysis.toxicity_rules` (insults aimed at
someone, threats, slurs, untargeted swearing, quoted or negated abuse, leetspeak…).
The decision threshold chosen on validation is folded into ``b``, so ``p ≥ 0.5`` means
*toxic*. Inference is numpy only; training (:func:`train_toxicity`) uses scikit-learn.
See ``docs/models.md`` for data, figures and known gaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import FeatureConfig, HashedBatch
from clameur.analysis.model_base import (
    ARTIFACTS_DIR,
    LabelledRow,
    LinearModel,
    classification_metrics,
    evaluate,
)
from clameur.analysis.model_base import read_rows as base_read_rows
from clameur.analysis.toxicity_rules import CUE_NAMES, N_CUES, cues

LABELS: tuple[str, ...] = ("normal", "toxic")
DEFAULT_ARTIFACT = ARTIFACTS_DIR / "toxicity"
Row = LabelledRow


def read_rows(path: Path) -> list[LabelledRow]:
    """A ``{text, label}`` JSON Lines file (extra fields ignored); errors name the line."""
    return base_read_rows(path, LABELS)


@dataclass(frozen=True, slots=True)
class ToxicityDetail:
    """Probability of toxic plus rule-based sub-flags (from the cues, not learned).

    MLMA's hostility types are too noisy to learn sub-scores from (held-out AUC 0.54–0.66),
    so ``insult``, ``threat`` and ``hate`` say which transparent rule fired.
    """

    toxic: NDArray[np.float32]  # (n,) probability toxic
    insult: NDArray[np.bool_]  # an insult or fixed abuse aimed at a person
    threat: NDArray[np.bool_]  # a threat phrase or a violent verb aimed at someone
    hate: NDArray[np.bool_]  # a slur, or a group word next to abuse


def _sigmoid(z: NDArray[np.float32]) -> NDArray[np.float32]:
    return (1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))).astype(np.float32)


@dataclass(slots=True)
class ToxicityModel(LinearModel):
    """Linear model over hashed features + rule cues; ``p ≥ 0.5`` is *toxic*.

    ``scores_from`` gives p(toxic) ``(n,)``; ``predict_proba`` the shared contract
    ``(n, 2)`` in ``labels`` order (normal, toxic)."""

    weights: NDArray[np.float32]  # (n_features,)
    cue_weights: NDArray[np.float32]  # (N_CUES,), zeros when trained without rules
    bias: float
    config: FeatureConfig = field(default_factory=FeatureConfig)
    use_cues: bool = True
    labels: tuple[str, ...] = LABELS
    metadata: dict[str, Any] = field(default_factory=dict)
    _column: NDArray[np.float32] | None = field(default=None, repr=False, compare=False)
    name: ClassVar[str] = "toxicity"
    default_artifact: ClassVar[Path] = DEFAULT_ARTIFACT

    def _weight_column(self) -> NDArray[np.float32]:
        if self._column is None or self._column.shape[0] != self.weights.shape[0]:
            self._column = np.ascontiguousarray(self.weights[:, None], dtype=np.float32)
        return self._column

    def _logits(
        self, batch: HashedBatch, normed: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        if batch.n_rows != len(texts):
            raise ValueError(f"batch has {batch.n_rows} rows for {len(texts)} texts")
        z = batch.dot(self._weight_column())[:, 0] + np.float32(self.bias)
        if self.use_cues:
            z += cues(texts, normed).values @ self.cue_weights
        return z

    def scores_from(
        self, batch: HashedBatch, normed: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        """Probability toxic, shape ``(n,)``, from features the caller already extracted.

        ``batch`` must come from ``extract(texts, FeatureConfig(), normed=normed)`` (the
        default config, as ``self.config``). The rule cues read ``normed`` and go back to
        the raw ``texts`` only to undo leetspeak (``normed`` maps digits to ``0``).
        """
        return _sigmoid(self._logits(batch, normed, texts))

    def detail_from(
        self, batch: HashedBatch, normed: Sequence[str], texts: Sequence[str]
    ) -> ToxicityDetail:
        """:meth:`scores_from` plus the rule sub-flags (insult, threat, hate)."""
        if batch.n_rows != len(texts):
            raise ValueError(f"batch has {batch.n_rows} rows for {len(texts)} texts")
        cue = cues(texts, normed)
        z = batch.dot(self._weight_column())[:, 0] + np.float32(self.bias)
        if self.use_cues:
            z += cue.values @ self.cue_weights

        def any_of(*names: str) -> NDArray[np.bool_]:
            return np.asarray(sum(cue.column(n) for n in names) > 0)

        return ToxicityDetail(
            toxic=_sigmoid(z),
            insult=any_of("insult", "insult_addressed", "insult_staff", "abuse_phrase"),
            threat=any_of("threat"),
            hate=any_of("slur", "hate"),
        )

    def probabilities_from(
        self, batch: HashedBatch, normed: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        toxic = self.scores_from(batch, normed, texts)
        return np.stack((1.0 - toxic, toxic), axis=1).astype(np.float32)

    def artifact_header(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "use_cues": self.use_cues, "cues": list(CUE_NAMES)}

    def artifact_arrays(self) -> dict[str, NDArray[Any]]:
        return {
            "weights": self.weights.astype(np.float16),
            "cue_weights": self.cue_weights.astype(np.float32),
            "bias": np.array([self.bias], dtype=np.float32),
        }

    @classmethod
    def from_artifact(
        cls, header: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], where: Path
    ) -> ToxicityModel:
        config = FeatureConfig.from_dict(header["config"])
        weights = arrays["weights"].astype(np.float32)
        cue_weights = arrays["cue_weights"].astype(np.float32)
        if weights.shape != (1 << config.bits,):
            raise ValueError(f"{where}: weights do not match {config.bits} hash bits")
        if tuple(header["cues"]) != CUE_NAMES or cue_weights.shape != (N_CUES,):
            raise ValueError(f"{where}: rule cues differ from this version of the code")
        return cls(
            weights=weights,
            cue_weights=cue_weights,
            bias=float(arrays["bias"][0]),
            config=config,
            use_cues=bool(header["use_cues"]),
        )


# --- evaluation --------------------------------------------------------------------------


def metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Macro-F1, accuracy and per-class precision/recall/F1/support over :data:`LABELS`."""
    return classification_metrics(gold, predicted, LABELS)


__all__ = ["LABELS", "Row", "ToxicityDetail", "ToxicityModel", "evaluate", "metrics", "read_rows"]
