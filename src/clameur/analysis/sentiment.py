"""Multilingual tweet sentiment: hashed char/word n-grams + multinomial logistic regression.

Inference is numpy only (:class:`SentimentModel`); training (:func:`train_sentiment`) uses
scikit-learn, imported lazily. See ``docs/models.md`` for figures.
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
from clameur.analysis.wordvec import Vocabulary, mean_pool

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
LANGUAGES: tuple[str, ...] = ("fr", "en", "de", "es", "it", "pt", "ar", "hi")
DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "sentiment.npz"
_BATCH = 4096


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    label: str


def read_rows(path: Path) -> list[Row]:
    """Read a ``{text, label}`` JSON Lines file."""
    rows: list[Row] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                obj = json.loads(line)
                rows.append(Row(text=str(obj["text"]), label=str(obj["label"])))
    return rows


@dataclass(slots=True)
class FrenchHead:
    """French-only classifier (n-grams + pooled word vectors), used when ``is_french`` fires.

    ``lang_weights``/``lang_bias``: a linear French-vs-other detector on the same hashed
    features. ``table``: the word vectors already projected onto the classifier's weights
    (standardisation folded into ``bias``), so the dense part is a mean of table rows.
    """

    lang_weights: NDArray[np.float32]  # (n_features,)
    lang_bias: float
    weights: NDArray[np.float32]  # (n_features, n_labels)
    bias: NDArray[np.float32]  # (n_labels,)
    vocab: Vocabulary
    table: NDArray[np.float32]  # (n_vectors, n_labels)


@dataclass(slots=True)
class SentimentModel:
    """Linear model over hashed features; ``predict`` returns ``(label, confidence)``."""

    weights: NDArray[np.float32]  # (n_features, n_labels)
    bias: NDArray[np.float32]  # (n_labels,)
    config: FeatureConfig = field(default_factory=FeatureConfig)
    labels: tuple[str, ...] = LABELS
    temperature: float = 1.0
    metadata: dict[str, Any] = field(default_factory=dict)
    french: FrenchHead | None = None
    _stacked: tuple[int, int, NDArray[np.float32]] | None = field(
        default=None, repr=False, compare=False
    )

    def _stacked_weights(self) -> NDArray[np.float32]:
        """``[shared | french | detector]`` weight columns, so one gather serves all three."""
        head = self.french
        if head is None:
            return self.weights
        key = (id(self.weights), id(head.weights))
        if self._stacked is None or self._stacked[:2] != key:
            stacked = np.hstack((self.weights, head.weights, head.lang_weights[:, None]))
            self._stacked = (*key, stacked.astype(np.float32))
        return self._stacked[2]

    def raw_scores(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Logits before temperature: the French head's for texts detected as French."""
        normed = normalise_batch(texts)
        return self._logits(extract(texts, self.config, normed=normed), normed)

    def _logits(self, batch: HashedBatch, normed: Sequence[str]) -> NDArray[np.float32]:
        k = len(self.labels)
        scores = batch.dot(self._stacked_weights())
        head = self.french
        if head is None:
            return scores + self.bias
        out = scores[:, :k] + self.bias
        is_fr = scores[:, 2 * k] + np.float32(head.lang_bias) > 0
        if is_fr.any():
            idx = np.flatnonzero(is_fr)
            dense = mean_pool(head.vocab, head.table, [normed[int(i)] for i in idx])
            out[idx] = scores[idx, k : 2 * k] + head.bias + dense
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

        ``batch`` must be ``extract(texts, FeatureConfig(), normed=normed)``: the combined
        analyser extracts the features once for every model.
        """
        if batch.n_rows != len(texts):
            raise ValueError(f"batch has {batch.n_rows} rows for {len(texts)} texts")
        return self._calibrated(self._logits(batch, normed))

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for start in range(0, len(texts), _BATCH):
            probs = self._calibrated(self.raw_scores(texts[start : start + _BATCH]))
            out[start : start + len(probs)] = probs
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

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "labels": list(self.labels),
            "config": self.config.to_dict(),
            "temperature": self.temperature,
            "french_head": self.french is not None,
        }
        arrays: dict[str, Any] = {
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float32),
            "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        }
        if (head := self.french) is not None:
            arrays |= {
                "fr_lang_weights": head.lang_weights.astype(np.float16),
                "fr_lang_bias": np.array([head.lang_bias], dtype=np.float32),
                "fr_weights": head.weights.astype(np.float16),
                "fr_bias": head.bias.astype(np.float32),
                "fr_vocab_keys": head.vocab.keys.astype(np.uint64),
                "fr_vocab_rows": head.vocab.rows.astype(np.uint16),
                "fr_table": head.table.astype(np.float32),
            }
        with path.open("wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path: Path = DEFAULT_ARTIFACT) -> SentimentModel:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(bytes(archive["header"]).decode())
            weights = archive["weights"].astype(np.float32)
            bias = archive["bias"].astype(np.float32)
            french = None
            if header.get("french_head"):
                french = FrenchHead(
                    lang_weights=archive["fr_lang_weights"].astype(np.float32),
                    lang_bias=float(archive["fr_lang_bias"][0]),
                    weights=archive["fr_weights"].astype(np.float32),
                    bias=archive["fr_bias"].astype(np.float32),
                    vocab=Vocabulary(
                        keys=archive["fr_vocab_keys"].astype(np.uint64),
                        rows=archive["fr_vocab_rows"].astype(np.int64),
                    ),
                    table=archive["fr_table"].astype(np.float32),
                )
        config = FeatureConfig.from_dict(header["config"])
        if weights.shape[0] != 1 << config.bits:
            raise ValueError(f"{path}: weights do not match {config.bits} hash bits")
        return cls(
            weights=weights,
            bias=bias,
            config=config,
            labels=tuple(header["labels"]),
            temperature=float(header["temperature"]),
            french=french,
        )


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


# --- training ----------------------------------------------------------------------------


def _fit(
    texts: Sequence[str],
    labels: Sequence[str],
    config: FeatureConfig,
    *,
    c: float,
    seed: int,
    sample_weight: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    import warnings

    from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    x = extract(texts, config).to_scipy()
    y = np.array([LABELS.index(lab) for lab in labels])
    clf = LogisticRegression(C=c, solver="saga", max_iter=100, tol=1e-4, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y, sample_weight=sample_weight)
    coef = np.zeros((len(LABELS), x.shape[1]), dtype=np.float64)
    bias = np.zeros(len(LABELS), dtype=np.float64)
    coef[clf.classes_] = clf.coef_
    bias[clf.classes_] = clf.intercept_
    if len(clf.classes_) == 2:  # binary problem: sklearn keeps one row; make it symmetric
        coef[clf.classes_[0]] = -clf.coef_[0] / 2
        coef[clf.classes_[1]] = clf.coef_[0] / 2
        bias[clf.classes_[0]] = -clf.intercept_[0] / 2
        bias[clf.classes_[1]] = clf.intercept_[0] / 2
        bias[[i for i in range(len(LABELS)) if i not in clf.classes_]] = -1e4
    return coef.T.astype(np.float32), bias.astype(np.float32)


def _fit_french_head(
    texts: Sequence[str],
    is_french: Sequence[bool],
    fr_rows: Sequence[Row],
    config: FeatureConfig,
    *,
    c: float,
    dense_scale: float,
    seed: int,
) -> FrenchHead:
    """Fit the French detector and the French classifier (needs spaCy ``fr_core_news_md``).

    The classifier sees ``[n-gram features, dense_scale * standardised mean word vector /
    sqrt(dim)]``; the standardisation and the weights are then folded into a projected
    vector table and the bias, so inference needs no 300-d arithmetic.
    """
    import warnings

    from scipy import sparse  # type: ignore[import-untyped]
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from clameur.analysis.wordvec import load_spacy_vectors

    x_all = extract(texts, config).to_scipy()
    detector = LogisticRegression(C=10.0, max_iter=2000, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        detector.fit(x_all, np.asarray(is_french, dtype=np.int64))
    vocab, vectors = load_spacy_vectors()
    fr_texts = [r.text for r in fr_rows]
    dense = mean_pool(vocab, vectors, normalise_batch(fr_texts)).astype(np.float64)
    mu = dense.mean(axis=0)
    scale = dense_scale / ((dense.std(axis=0) + 1e-6) * np.sqrt(dense.shape[1]))
    x_fr = sparse.hstack(
        (extract(fr_texts, config).to_scipy(), sparse.csr_matrix((dense - mu) * scale))
    ).tocsr()
    y = np.array([LABELS.index(r.label) for r in fr_rows])
    clf = LogisticRegression(C=c, max_iter=3000, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_fr, y)
    if len(clf.classes_) != len(LABELS):
        raise ValueError("the French training data must hold all three labels")
    n_sparse = 1 << config.bits
    coef = clf.coef_.T  # (n_features + dim, n_labels)
    dense_w = coef[n_sparse:] * scale[:, None]  # raw mean vector -> logits
    return FrenchHead(
        lang_weights=detector.coef_[0].astype(np.float16).astype(np.float32),
        lang_bias=float(detector.intercept_[0]),
        weights=coef[:n_sparse].astype(np.float16).astype(np.float32),
        bias=(clf.intercept_ - mu @ dense_w).astype(np.float32),
        vocab=vocab,
        table=(vectors.astype(np.float64) @ dense_w).astype(np.float32),
    )


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _fit_temperature(model: SentimentModel, rows: Sequence[Row]) -> float:
    """Temperature minimising the negative log-likelihood on ``rows`` (grid search)."""
    model.temperature = 1.0
    probs = model.predict_proba([r.text for r in rows]).astype(np.float64)
    logits = np.log(np.clip(probs, 1e-12, 1.0))
    gold = np.array([model.labels.index(r.label) for r in rows])
    best_t, best_nll = 1.0, float("inf")
    for t in np.arange(0.3, 3.01, 0.05):
        z = logits / t
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = float(-logp[np.arange(len(gold)), gold].mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return round(best_t, 2)


def train_sentiment(
    data_dir: Path,
    *,
    seed: int = 0,
    languages: Iterable[str] = LANGUAGES,
    config: FeatureConfig | None = None,
    c: float = 10.0,
    max_rows_per_language: int | None = None,
    reviews_weight: float = 0.0,
    calibrate: bool = True,
    french_head: bool = False,
    french_c: float = 1.0,
    french_dense_scale: float = 1.0,
) -> SentimentModel:
    """Train one shared model on the train splits of ``languages`` under ``data_dir``.

    ``data_dir`` is the shared data folder (holding ``sentiment/<lang>/train.jsonl``).
    ``reviews_weight`` > 0 adds the French reviews (``sentiment_reviews/fr``) with that
    sample weight. With ``calibrate``, a softmax temperature is fitted on the val splits
    (labels are unchanged by it). With ``french_head`` (needs spaCy and ``fr_core_news_md``
    installed, training only), a French classifier over n-grams + pooled French word vectors
    is fitted on the French train split, with a French detector routing texts to it.
    Deterministic for a given seed.
    """
    config = config or FeatureConfig()
    langs = tuple(languages)
    texts: list[str] = []
    labels: list[str] = []
    weights: list[float] = []
    files: list[str] = []
    is_french: list[bool] = []
    fr_rows: list[Row] = []
    rng = np.random.default_rng(seed)
    for lang in langs:
        path = data_dir / "sentiment" / lang / "train.jsonl"
        rows = read_rows(path)
        if max_rows_per_language is not None and len(rows) > max_rows_per_language:
            keep = np.sort(rng.permutation(len(rows))[:max_rows_per_language])
            rows = [rows[int(i)] for i in keep]
        files.append(str(path.relative_to(data_dir)))
        texts += [r.text for r in rows]
        labels += [r.label for r in rows]
        weights += [1.0] * len(rows)
        is_french += [lang == "fr"] * len(rows)
        if lang == "fr":
            fr_rows = rows
    if reviews_weight > 0:
        path = data_dir / "sentiment_reviews" / "fr" / "train.jsonl"
        rows = read_rows(path)
        files.append(str(path.relative_to(data_dir)))
        texts += [r.text for r in rows]
        labels += [r.label for r in rows]
        weights += [reviews_weight] * len(rows)
    coef, bias = _fit(
        texts, labels, config, c=c, seed=seed, sample_weight=np.asarray(weights, np.float64)
    )
    model = SentimentModel(weights=coef, bias=bias, config=config)
    # Round-trip through float16 now, so the in-memory model equals the saved one.
    model.weights = model.weights.astype(np.float16).astype(np.float32)
    if french_head:
        if not fr_rows or all(is_french):
            raise ValueError("french_head needs French and non-French training languages")
        model.french = _fit_french_head(
            texts[: len(is_french)],
            is_french,
            fr_rows,
            config,
            c=french_c,
            dense_scale=french_dense_scale,
            seed=seed,
        )
    val_rows: dict[str, list[Row]] = {
        lang: read_rows(data_dir / "sentiment" / lang / "val.jsonl")
        for lang in langs
        if (data_dir / "sentiment" / lang / "val.jsonl").exists()
    }
    if calibrate and val_rows:
        model.temperature = _fit_temperature(model, [r for v in val_rows.values() for r in v])
    model.metadata = {
        "data_files": files,
        "seed": seed,
        "hyper_parameters": {
            "features": config.to_dict(),
            "classifier": "multinomial logistic regression (scikit-learn saga, L2, 100 epochs)",
            "C": c,
            "reviews_weight": reviews_weight,
            "max_rows_per_language": max_rows_per_language,
            "temperature": model.temperature,
            "french_head": (
                {
                    "routing": "French texts (linear fr-vs-other detector, C = 10, same "
                    "features) go to a French-only logistic regression (lbfgs, L2)",
                    "C": french_c,
                    "word_vectors": f"fr_core_news_md {_package_version('fr_core_news_md')}",
                    "dense_features": "mean of L2-normalised spaCy fr_core_news_md vectors "
                    "(300-d) over known words, standardised, scaled by "
                    f"{french_dense_scale}/sqrt(300)",
                }
                if french_head
                else None
            ),
        },
        "n_train": len(texts),
    }
    return model


def validation_report(
    model: SentimentModel, data_dir: Path, languages: Iterable[str] = LANGUAGES
) -> Mapping[str, dict[str, Any]]:
    """:func:`evaluate` on every language's val split."""
    return {
        lang: evaluate(model, read_rows(data_dir / "sentiment" / lang / "val.jsonl"))
        for lang in languages
    }


def train_and_save(
    data_dir: Path, *, seed: int = 0, out: Path = DEFAULT_ARTIFACT
) -> dict[str, Any]:
    """Train on ``data_dir``, write the artifact and ``<out>.json`` metadata; return it."""
    model = train_sentiment(data_dir, seed=seed, french_head=True)
    model.save(out)
    report = validation_report(model, data_dir)
    f1 = {lang: round(float(r["macro_f1"]), 4) for lang, r in report.items()}
    meta = {
        "model": "sentiment",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        **model.metadata,
        "val_macro_f1": f1,
        "val_macro_f1_average": round(float(np.mean(list(f1.values()))), 4),
        "artifact_bytes": out.stat().st_size,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
