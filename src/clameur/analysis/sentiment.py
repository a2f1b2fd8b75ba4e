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

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import FeatureConfig, HashedBatch, extract, normalise_batch
from clameur.analysis.wordvec import Vocabulary, pool_rows, token_hashes

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
LANGUAGES: tuple[str, ...] = ("fr", "en", "de", "es", "it", "pt", "ar", "hi")
DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "sentiment.npz"
FORMAT = 2
_BATCH = 4096


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    label: str


def read_rows(path: Path) -> list[Row]:
    """Read a ``{text, label}`` JSON Lines file."""
    rows: list[Row] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                rows.append(Row(text=str(obj["text"]), label=str(obj["label"])))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a {{text, label}} object ({exc})") from exc
    return rows


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
class SentimentModel:
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

    def _calibrated(self, logits: NDArray[np.float32]) -> NDArray[np.float32]:
        scores: NDArray[np.float32] = logits / np.float32(self.temperature)
        scores -= scores.max(axis=1, keepdims=True)
        probs: NDArray[np.float32] = np.exp(scores).astype(np.float32)
        probs /= probs.sum(axis=1, keepdims=True)
        return probs

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
        return self._calibrated(self._logits(batch, normed))

    def raw_scores(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Logits before temperature, for one batch of raw texts."""
        normed = normalise_batch(texts)
        return self._logits(extract(texts, self.config, normed=normed), normed)

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for start in range(0, len(texts), _BATCH):
            chunk = texts[start : start + _BATCH]
            normed = normalise_batch(chunk)
            batch = extract(chunk, self.config, normed=normed)
            out[start : start + len(chunk)] = self.scores_from(batch, normed, chunk)
        return out

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        if not texts:
            return []
        probs = self.predict_proba(texts)
        best = probs.argmax(axis=1)
        return [
            (self.labels[int(i)], float(min(1.0, max(0.0, p))))
            for i, p in zip(best, probs[np.arange(len(best)), best], strict=True)
        ]

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

    # --- persistence ------------------------------------------------------------------

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "format": FORMAT,
            "labels": list(self.labels),
            "config": self.config.to_dict(),
            "temperature": self.temperature,
            "languages": list(self.languages),
            "multipliers": [h.multiplier for h in self.heads],
            "offsets": [h.offset for h in self.heads],
            "detector_bits": self.detector_bits,
            "copy_weight": self.copy_weight,
        }
        arrays: dict[str, Any] = {
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float32),
            "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        }
        if self.heads:
            arrays["head_bias"] = np.stack([h.bias for h in self.heads]).astype(np.float32)
            for h in self.heads:
                arrays[f"keys_{h.language}"] = h.vocab.keys.astype(np.uint64)
                arrays[f"table_{h.language}"] = h.table.astype(np.float16)
        if self.detector is not None and self.detector_bias is not None:
            arrays["detector"] = self.detector.astype(np.float16)
            arrays["detector_bias"] = self.detector_bias.astype(np.float32)
        with path.open("wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path: Path = DEFAULT_ARTIFACT) -> SentimentModel:
        try:
            with np.load(path, allow_pickle=False) as archive:
                header = json.loads(bytes(archive["header"]).decode())
                if header.get("format") != FORMAT:
                    raise ValueError(f"format {header.get('format')!r}, expected {FORMAT}")
                arrays = {name: archive[name] for name in archive.files}
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a sentiment artifact ({exc})") from exc
        config = FeatureConfig.from_dict(header["config"])
        labels = tuple(header["labels"])
        weights = arrays["weights"].astype(np.float32)
        if weights.shape != (1 << config.bits, len(labels)):
            raise ValueError(f"{path}: weights {weights.shape} do not match the header")
        languages = list(header.get("languages", []))
        heads = []
        for i, lang in enumerate(languages):
            keys = arrays[f"keys_{lang}"].astype(np.uint64)
            table = arrays[f"table_{lang}"].astype(np.float32)
            if table.shape != (keys.shape[0], len(labels)):
                raise ValueError(f"{path}: table_{lang} {table.shape} does not match its keys")
            heads.append(
                LanguageHead(
                    language=lang,
                    bias=arrays["head_bias"][i].astype(np.float32),
                    multiplier=int(header["multipliers"][i]),
                    offset=int(header["offsets"][i]),
                    vocab=Vocabulary(keys=keys),
                    table=table,
                )
            )
        detector = arrays["detector"].astype(np.float32) if "detector" in arrays else None
        return cls(
            weights=weights,
            bias=arrays["bias"].astype(np.float32),
            config=config,
            labels=labels,
            temperature=float(header["temperature"]),
            heads=tuple(heads),
            detector=detector,
            detector_bias=(
                arrays["detector_bias"].astype(np.float32) if detector is not None else None
            ),
            detector_bits=int(header.get("detector_bits", 14)),
            copy_weight=float(header.get("copy_weight", 0.0)),
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


def evaluate(model: SentimentModel, rows: Sequence[Row]) -> dict[str, Any]:
    """Macro-F1, accuracy, per-class precision/recall/F1/support and throughput."""
    texts = [r.text for r in rows]
    start = time.perf_counter()
    predicted = [label for label, _ in model.predict(texts)]
    elapsed = time.perf_counter() - start
    gold = [r.label for r in rows]
    per_class: dict[str, dict[str, float | int]] = {}
    for label in model.labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        n_pred = predicted.count(label)
        support = gold.count(label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    n = len(rows)
    present = [lab for lab in model.labels if per_class[lab]["support"]] or list(model.labels)
    return {
        "macro_f1": float(np.mean([per_class[lab]["f1"] for lab in present])),
        "accuracy": (sum(g == p for g, p in zip(gold, predicted, strict=True)) / n) if n else 0.0,
        "n": n,
        "per_second": (n / elapsed) if elapsed > 0 else float("inf"),
        "per_class": per_class,
    }


def validation_report(
    model: SentimentModel, data_dir: Path, languages: Iterable[str] = LANGUAGES
) -> Mapping[str, dict[str, Any]]:
    """:func:`evaluate` on every language's val split."""
    return {
        lang: evaluate(model, read_rows(data_dir / "sentiment" / lang / "val.jsonl"))
        for lang in languages
    }


def train_and_save(
    data_dir: Path,
    *,
    seed: int = 0,
    out: Path = DEFAULT_ARTIFACT,
    max_rows_per_language: int | None = None,
    languages: Iterable[str] = LANGUAGES,
    word_vectors: bool = True,
) -> dict[str, Any]:
    """Train on ``data_dir``, write the artifact and ``<out>.json``; return the metadata.

    Training lives in :mod:`clameur.analysis.sentiment_train` (its packages are training
    extras), imported only here. ``max_rows_per_language`` samples the training rows,
    ``languages`` restricts them, ``word_vectors=False`` leaves out the word vectors (a
    quick run for tests; the shipped model uses all of them).
    """
    from clameur.analysis.sentiment_train import train_and_save as train

    return train(
        data_dir,
        seed=seed,
        out=out,
        max_rows_per_language=max_rows_per_language,
        languages=languages,
        word_vectors=word_vectors,
    )
