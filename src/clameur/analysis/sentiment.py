"""Multilingual tweet sentiment: hashed n-grams + per-language word-vector heads, one softmax.

Model (labels ``negative``/``neutral``/``positive``)::

    lang   = argmax(X_fold @ D + d)                       # language detector (8 classes)
    logits = X @ W + a * P_lang(X) @ W + b + b_lang + mean(T_lang[words])
    probs  = softmax(logits / temperature)

``X`` are the shared hashed features of :mod:`clameur.analysis.features` (the default
``FeatureConfig``). ``P_lang(X)`` is the same row with its hash buckets permuted by a
language-specific bijection, so one ``2**18 x 3`` table ``W`` holds both shared and
per-language n-gram weights ("feature augmentation", fitted jointly). ``T_lang`` is the
language's word table: static word vectors (training only, see
:mod:`clameur.analysis.sentiment_vectors`) already projected onto the classifier weights, so
the dense part is a hash lookup and a mean of 3-d rows. The detector reads the same
features folded to ``2**14`` buckets. Inference is numpy only; training lives in
:mod:`clameur.analysis.sentiment_train` (scikit-learn, USE, wordfreq, spaCy). See
``docs/models.md`` for the figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import FeatureConfig, HashedBatch, extract, normalise_batch
from clameur.analysis.model_base import ARTIFACTS_DIR, LabelledRow, LinearModel, evaluate, softmax
from clameur.analysis.model_base import read_rows as base_read_rows
from clameur.analysis.wordvec import Vocabulary, pool_rows, token_hashes

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
LANGUAGES: tuple[str, ...] = ("fr", "en", "de", "es", "it", "pt", "ar", "hi")
DEFAULT_ARTIFACT = ARTIFACTS_DIR / "sentiment"
_BATCH = 4096


Row = LabelledRow


def read_rows(path: Path) -> list[LabelledRow]:
    """A ``{text, label}`` JSON Lines file of sentiment labels; errors name the line."""
    return base_read_rows(path, LABELS)


@dataclass(slots=True)
class LanguageHead:
    """What one language adds to the shared n-gram weights.

    ``multiplier``/``offset``: the bucket bijection ``i -> (i * multiplier + offset) mod
    2**bits`` (``multiplier`` odd) giving this language's copy of the n-gram features.
    ``table``: the language's word vectors projected onto the classifier (standardisation
    folded into ``bias``), one row per ``vocab`` key.
    """

    language: str
    bias: NDArray[np.float32]  # (n_labels,)
    multiplier: int
    offset: int
    vocab: Vocabulary
    table: NDArray[np.float32]  # (len(vocab), n_labels)


@dataclass(slots=True)
class SentimentModel(LinearModel):
    """Linear model over hashed features; ``predict`` returns ``(label, confidence)``.

    Without ``heads`` it is one shared n-gram model; with heads, texts are routed by the
    detector (``detector``: ``(2**detector_bits, len(heads))``) to their language's head.
    """

    weights: NDArray[np.float32]  # (n_features, n_labels)
    bias: NDArray[np.float32]  # (n_labels,)
    config: FeatureConfig = field(default_factory=FeatureConfig)
    labels: tuple[str, ...] = LABELS
    temperature: float = 1.0
    metadata: dict[str, Any] = field(default_factory=dict)
    heads: tuple[LanguageHead, ...] = ()
    detector: NDArray[np.float32] | None = None
    detector_bias: NDArray[np.float32] | None = None
    detector_bits: int = 14
    copy_weight: float = 1.0
    _columns: dict[str, tuple[int, NDArray[np.float32]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    name: ClassVar[str] = "sentiment"
    default_artifact: ClassVar[Path] = DEFAULT_ARTIFACT

    def _transposed(self, name: str, array: NDArray[np.float32]) -> NDArray[np.float32]:
        """``array.T`` made contiguous, cached: gathering along a contiguous row per column
        (``np.take(..., axis=1)``) is several times faster than fancy-indexing rows."""
        cached = self._columns.get(name)
        if cached is None or cached[0] != id(array):
            cached = (id(array), np.ascontiguousarray(array.T, dtype=np.float32))
            self._columns[name] = cached
        return cached[1]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(h.language for h in self.heads)

    def _check(self, batch: HashedBatch, normed: Sequence[str]) -> None:
        if batch.n_features != self.weights.shape[0]:
            raise ValueError(
                f"sentiment: features have {batch.n_features} buckets, the model "
                f"{self.weights.shape[0]} (use extract(texts, FeatureConfig(), normed=normed))"
            )
        if batch.n_rows != len(normed):
            raise ValueError(f"sentiment: {batch.n_rows} feature rows for {len(normed)} texts")

    def route(self, batch: HashedBatch) -> NDArray[np.int64]:
        """Index into ``heads`` of each text's detected language (zeros with < 2 heads)."""
        if len(self.heads) < 2 or self.detector is None or self.detector_bias is None:
            return np.zeros(batch.n_rows, dtype=np.int64)
        shift = batch.n_features.bit_length() - 1 - self.detector_bits
        columns = self._transposed("detector", self.detector)
        gathered = np.take(columns, batch.indices >> max(shift, 0), axis=1)
        scores = _row_sums(batch.indptr, gathered * batch.data)
        scores += self.detector_bias
        route: NDArray[np.int64] = scores.argmax(axis=1).astype(np.int64)
        return route

    def _logits(self, batch: HashedBatch, normed: Sequence[str]) -> NDArray[np.float32]:
        """Logits before temperature (see the module docstring)."""
        self._check(batch, normed)
        columns = self._transposed("weights", self.weights)
        gathered = np.take(columns, batch.indices, axis=1)
        if not self.heads:
            return _row_sums(batch.indptr, gathered * batch.data) + self.bias
        head_of = self.route(batch)
        if self.copy_weight:
            per_nnz = np.repeat(head_of, np.diff(batch.indptr))
            mult = np.array([h.multiplier for h in self.heads], dtype=np.int64)[per_nnz]
            off = np.array([h.offset for h in self.heads], dtype=np.int64)[per_nnz]
            copied = (batch.indices * mult + off) & (batch.n_features - 1)
            gathered += np.float32(self.copy_weight) * np.take(columns, copied, axis=1)
        out = _row_sums(batch.indptr, gathered * batch.data)
        out += self.bias
        out += np.stack([h.bias for h in self.heads])[head_of]
        hashes, text_ids = token_hashes(normed)  # once for the batch, then per language
        head_of_token = head_of[text_ids]
        for h in np.unique(head_of):
            head = self.heads[int(h)]
            mine = head_of_token == h
            ids, rows = head.vocab.find(hashes[mine], text_ids[mine])
            out += pool_rows(head.table, ids, rows, len(normed))
        return out

    def scores_from(
        self, batch: HashedBatch, normed: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        """Calibrated probabilities ``(n, 3)`` in ``labels`` order, from shared features.

        ``normed`` = ``normalise_batch(texts)`` and ``batch`` =
        ``extract(texts, FeatureConfig(), normed=normed)``: the combined analyser extracts
        them once for every model. The model reads ``batch`` and ``normed`` (its word
        tables); ``texts`` is part of the shared interface and only checked for length.
        """
        if len(texts) != len(normed):
            raise ValueError(f"sentiment: {len(normed)} normalised texts for {len(texts)} texts")
        return softmax(self._logits(batch, normed), self.temperature)

    probabilities_from = scores_from

    def raw_scores(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Logits before temperature, for one batch of raw texts."""
        normed = normalise_batch(texts)
        return self._logits(extract(texts, self.config, normed=normed), normed)

    def detect_languages(self, texts: Sequence[str]) -> list[str | None]:
        """The head language each text is routed to (``None`` without language heads)."""
        if not self.heads:
            return [None] * len(texts)
        out: list[str | None] = []
        for start in range(0, len(texts), _BATCH):
            chunk = texts[start : start + _BATCH]
            route = self.route(extract(chunk, self.config))
            out += [self.heads[int(i)].language for i in route]
        return out

    # --- persistence (one vocabulary for all heads: they share most of their words) ---

    def artifact_header(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "temperature": self.temperature,
            "languages": list(self.languages),
            "multipliers": [h.multiplier for h in self.heads],
            "offsets": [h.offset for h in self.heads],
            "detector_bits": self.detector_bits,
            "copy_weight": self.copy_weight,
        }

    def artifact_arrays(self) -> dict[str, NDArray[Any]]:
        arrays: dict[str, NDArray[Any]] = {
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float32),
        }
        if self.heads:
            keys = np.unique(np.concatenate([h.vocab.keys for h in self.heads]))
            arrays["keys"] = keys.astype(np.uint64)
            arrays["head_bias"] = np.stack([h.bias for h in self.heads]).astype(np.float32)
            for h in self.heads:
                arrays[f"words_{h.language}"] = np.packbits(np.isin(keys, h.vocab.keys))
                arrays[f"table_{h.language}"] = h.table.astype(np.float16)
        if self.detector is not None and self.detector_bias is not None:
            arrays["detector"] = self.detector.astype(np.float16)
            arrays["detector_bias"] = self.detector_bias.astype(np.float32)
        return arrays

    @classmethod
    def from_artifact(
        cls, header: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], where: Path
    ) -> SentimentModel:
        config = FeatureConfig.from_dict(header["config"])
        weights = arrays["weights"].astype(np.float32)
        if weights.shape[0] != 1 << config.bits:
            raise ValueError(f"{where}: weights {weights.shape} do not match the header")
        heads = []
        keys = arrays.get("keys", np.zeros(0, np.uint64))
        for i, lang in enumerate(header["languages"]):
            mine = np.unpackbits(arrays[f"words_{lang}"], count=keys.shape[0]).astype(bool)
            table = arrays[f"table_{lang}"].astype(np.float32)
            if table.shape != (int(mine.sum()), weights.shape[1]):
                raise ValueError(f"{where}: table_{lang} {table.shape} does not match its words")
            heads.append(
                LanguageHead(
                    language=lang,
                    bias=arrays["head_bias"][i].astype(np.float32),
                    multiplier=int(header["multipliers"][i]),
                    offset=int(header["offsets"][i]),
                    vocab=Vocabulary(keys=keys[mine]),
                    table=table,
                )
            )
        detector = arrays["detector"].astype(np.float32) if "detector" in arrays else None
        return cls(
            weights=weights,
            bias=arrays["bias"].astype(np.float32),
            config=config,
            temperature=float(header["temperature"]),
            heads=tuple(heads),
            detector=detector,
            detector_bias=(
                arrays["detector_bias"].astype(np.float32) if detector is not None else None
            ),
            detector_bits=int(header["detector_bits"]),
            copy_weight=float(header["copy_weight"]),
        )


def _row_sums(indptr: NDArray[np.int64], contrib: NDArray[np.float32]) -> NDArray[np.float32]:
    """Per-text sums ``(n, k)`` of ``contrib`` ``(k, nnz)`` (one column per stored feature,
    grouped by the CSR ``indptr``)."""
    out = np.zeros((indptr.shape[0] - 1, contrib.shape[0]), dtype=np.float32)
    if contrib.shape[1] == 0:
        return out
    starts = indptr[:-1]
    nonempty = indptr[1:] > starts
    out[nonempty] = np.add.reduceat(contrib, starts[nonempty], axis=1).T
    return out


# --- evaluation --------------------------------------------------------------------------


def validation_report(
    model: SentimentModel, data_dir: Path, languages: Iterable[str] = LANGUAGES
) -> Mapping[str, dict[str, Any]]:
    """:func:`evaluate` on every language's val split."""
    return {
        lang: evaluate(model, read_rows(data_dir / "sentiment" / lang / "val.jsonl"))
        for lang in languages
    }
