"""The analyzer of record: every per-mention analysis of a batch, features extracted once.

For a batch of mentions: text sanitised (lone surrogates and NULs replaced) → normalised
once → hashed n-gram features extracted once → sentiment, toxicity and intent read them
(one sparse dot product each) → language by lingua restricted to the configured
languages → calibration (temperatures; a label below its model's confidence threshold, or
in a language no model was trained for, becomes "uncertain": :mod:`clameur.analysis.calibration`)
→ actionability rules (which use toxicity) → author influence score and reach.

Influence percentile and priority need the tenant: the ``prioritise`` step fills them.
Models load once per process (``ModelAnalyzer.default()``), ~0.2 s.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from clameur.analysis import actionability as act
from clameur.analysis.base import Analysis, AnalysisInput
from clameur.analysis.calibration import Calibration
from clameur.analysis.features import FeatureConfig, HashedBatch, extract, normalise_batch
from clameur.analysis.influence import author_score, reach
from clameur.analysis.language import DEFAULT_LANGUAGES, LanguageDetector

_SURROGATE = re.compile(r"[\ud800-\udfff\x00]")


def sanitise(text: str) -> str:
    """Lone surrogates (invalid in UTF-8) and NULs → U+FFFD; everything else untouched."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


class FeatureModel(Protocol):
    """A model that reads the batch's shared hashed features."""

    def scores_from(
        self, batch: HashedBatch, normed: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]: ...


class TextModel(Protocol):
    """A sentiment backend that reads raw texts (e.g. a user's ONNX model)."""

    labels: tuple[str, ...]

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass
class ModelAnalyzer:
    sentiment: Any
    toxicity: Any
    intent: Any
    language: LanguageDetector
    sentiment_backend: TextModel | None = None
    """When set (an ONNX model), it replaces the shipped sentiment model."""
    calibration: Calibration = field(default_factory=Calibration)
    """Temperatures and "uncertain" thresholds (:mod:`clameur.analysis.calibration`)."""

    _default: ClassVar[ModelAnalyzer | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def load(
        cls,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        sentiment_onnx: str | None = None,
    ) -> ModelAnalyzer:
        from clameur.analysis.intent import IntentModel
        from clameur.analysis.sentiment import SentimentModel
        from clameur.analysis.toxicity import ToxicityModel

        backend: TextModel | None = None
        if sentiment_onnx:
            from clameur.analysis.onnx_backend import OnnxTextClassifier

            backend = OnnxTextClassifier(sentiment_onnx)
        return cls(
            sentiment=SentimentModel.load(),
            toxicity=ToxicityModel.load(),
            intent=IntentModel.load(),
            language=LanguageDetector(languages),
            sentiment_backend=backend,
            calibration=Calibration.load(),
        )

    @classmethod
    def default(cls) -> ModelAnalyzer:
        """One analyzer per process, built from the settings (languages, ONNX backend)."""
        with cls._lock:
            if cls._default is None:
                from clameur.config import get_settings

                settings = get_settings()
                cls._default = cls.load(
                    settings.analysis_languages, settings.sentiment_onnx or None
                )
            return cls._default

    def analyse(self, items: Sequence[AnalysisInput]) -> list[Analysis]:
        if not items:
            return []
        texts = [sanitise(item.text) for item in items]
        normed = normalise_batch(texts)
        batch = extract(texts, FeatureConfig(), normed=normed)

        langs = self.language.detect(texts, [item.lang_hint for item in items])
        cal = self.calibration
        if self.sentiment_backend is not None:
            # A user's model: its own probabilities, no threshold fitted for it.
            senti_labels = self.sentiment_backend.labels
            senti = self.sentiment_backend.predict_proba(texts)
            senti_cal = replace(cal, thresholds={**cal.thresholds, "sentiment": 0.0})
        else:
            senti_labels = tuple(self.sentiment.labels)
            senti = cal.sentiment_probs(self.sentiment.scores_from(batch, normed, texts), langs)
            senti_cal = cal
        detail = self.toxicity.detail_from(batch, normed, texts)
        toxic_prob = cal.toxicity_probs(detail.toxic)
        toxic_labels = _toxicity_labels(detail)
        intents = cal.intent_probs(self.intent.scores_from(batch, normed, texts))
        intent_labels = tuple(self.intent.labels)

        s_best = senti.argmax(axis=1)
        i_best = intents.argmax(axis=1)
        out: list[Analysis] = []
        for n, item in enumerate(items):
            toxicity = float(toxic_prob[n])
            acts = act.classify_one(
                act.ActionabilityInput(
                    text=texts[n],
                    toxicity=toxicity,
                    author_handle=item.author_handle,
                    author_name=item.author_name,
                    author_followers=item.author_followers,
                    author_created_at=item.author_created_at,
                    created_at=item.created_at,
                )
            )
            s_score = float(senti[n, s_best[n]])
            i_score = float(intents[n, i_best[n]])
            out.append(
                Analysis(
                    lang=langs[n],
                    sentiment=senti_cal.label(
                        "sentiment", senti_labels[int(s_best[n])], s_score, langs[n]
                    ),
                    sentiment_score=round(s_score, 4),
                    intent=cal.label("intent", intent_labels[int(i_best[n])], i_score, langs[n]),
                    intent_score=round(i_score, 4),
                    toxicity=round(toxicity, 4),
                    toxicity_labels=toxic_labels[n],
                    actionability=acts.label,
                    author_score=author_score(
                        item.author_followers,
                        item.author_verified,
                        item.author_created_at,
                        item.created_at,
                    ),
                    reach=reach(item.source, item.author_followers, item.metrics),
                )
            )
        return out


def _toxicity_labels(detail: Any) -> list[tuple[str, ...]]:
    """The sub-labels (insult, threat, hate) whose rule fired, for texts scored toxic."""
    out: list[tuple[str, ...]] = []
    for n, p in enumerate(detail.toxic):
        if p < 0.5:
            out.append(())
            continue
        out.append(tuple(name for name in ("insult", "threat", "hate") if getattr(detail, name)[n]))
    return out
