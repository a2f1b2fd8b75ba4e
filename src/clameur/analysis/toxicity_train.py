"""Training of the toxicity model (scikit-learn: the ``train`` extra), apart from inference.

MLMA (``data_dir/toxicity/mlma/<lang>.jsonl``), the packaged customer-care lines and ordinary
texts taken as *normal* (:data:`BACKGROUND`); the plain n-gram :data:`BASELINE` is trained on
the same split for the record. See ``docs/models.md``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import FeatureConfig, extract
from clameur.analysis.toxicity import (
    DEFAULT_ARTIFACT,
    LABELS,
    Row,
    ToxicityModel,
    evaluate,
    metrics,
    read_rows,
)
from clameur.analysis.toxicity_identity import identity_rows
from clameur.analysis.toxicity_rules import CUE_NAMES, N_CUES, cues

LANGUAGES: tuple[str, ...] = ("fr", "en", "ar")
CARE_PATH = Path(__file__).resolve().parent / "lexicons" / "toxicity_care.txt"
VAL_FRACTION = 0.15
BACKGROUND: tuple[str, ...] = (
    "sentiment/fr/train.jsonl",
    "sentiment/en/train.jsonl",
    "sentiment/ar/train.jsonl",
    "sentiment_reviews/fr_allocine_movies/train.jsonl",
    "intent/bitext/train.jsonl",
)
"""Ordinary text taken as *normal* (tweets, film reviews, customer-service requests)."""


def _read_texts(path: Path) -> list[Row]:
    """Texts of any JSON Lines file with a ``text`` field (labels ignored)."""
    with path.open(encoding="utf-8") as handle:
        return [Row(str(json.loads(line)["text"]), "normal") for line in handle if line.strip()]


def read_care_rows(path: Path = CARE_PATH) -> list[Row]:
    """The original customer-care lines shipped with the lexicons (``label<TAB>text``)."""
    rows: list[Row] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in LABELS or not text.strip():
            raise ValueError(f"{path}:{number}: expected 'toxic|normal<TAB>text'")
        rows.append(Row(text=text.strip(), label=label))
    return rows


def stratified_split(rows: Sequence[Row], seed: int) -> tuple[list[Row], list[Row]]:
    """Seeded split per label: ``VAL_FRACTION`` of each label (rounded) goes to validation."""
    rng = np.random.default_rng(seed)
    val_idx: list[int] = []
    for label in LABELS:
        idx = np.array([i for i, r in enumerate(rows) if r.label == label], dtype=np.int64)
        idx = rng.permutation(idx)
        val_idx += idx[: int(round(len(idx) * VAL_FRACTION))].tolist()
    in_val = np.zeros(len(rows), dtype=bool)
    in_val[val_idx] = True
    return (
        [r for r, v in zip(rows, in_val, strict=True) if not v],
        [r for r, v in zip(rows, in_val, strict=True) if v],
    )


# --- training ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainingData:
    train: list[Row]
    weights: list[float]  # per training row
    val: dict[str, list[Row]]  # held-out MLMA rows per language
    background_val: list[Row]  # held-out background rows (all normal)
    files: list[str]


def load_training_data(
    data_dir: Path,
    *,
    seed: int,
    languages: Sequence[str] = LANGUAGES,
    care_weight: float = 0.0,
    background_weight: float = 0.0,
    identity_weight: float = 0.0,
    max_rows_per_language: int | None = None,
) -> TrainingData:
    """MLMA rows split per language (class-balanced weights), the care lines, the
    :data:`BACKGROUND` files as *normal* (split like MLMA) and the generated identity-term
    rows (:func:`clameur.analysis.toxicity_identity.identity_rows`), each when weighted."""
    train: list[Row] = []
    weights: list[float] = []
    val: dict[str, list[Row]] = {}
    files: list[str] = []
    rng = np.random.default_rng(seed)
    for lang in languages:
        path = data_dir / "toxicity" / "mlma" / f"{lang}.jsonl"
        rows = read_rows(path)
        files.append(str(path.relative_to(data_dir)))
        fit, held = stratified_split(rows, seed)
        if max_rows_per_language is not None and len(fit) > max_rows_per_language:
            keep = np.sort(rng.permutation(len(fit))[:max_rows_per_language])
            fit = [fit[int(i)] for i in keep]
        counts = {lab: sum(r.label == lab for r in fit) for lab in LABELS}
        train += fit
        weights += [len(fit) / (len(LABELS) * max(counts[r.label], 1)) for r in fit]
        val[lang] = held
    background_val: list[Row] = []
    if background_weight > 0:
        for name in BACKGROUND:
            path = data_dir / name
            if not path.exists():
                continue
            texts = [r.text for r in _read_texts(path)]
            fit, held = stratified_split([Row(t, "normal") for t in texts], seed)
            if max_rows_per_language is not None and len(fit) > max_rows_per_language:
                keep = np.sort(rng.permutation(len(fit))[:max_rows_per_language])
                fit = [fit[int(i)] for i in keep]
            train += fit
            weights += [background_weight] * len(fit)
            background_val += held
            files.append(f"{name} (texts only, as normal)")
    if care_weight > 0:
        care = read_care_rows()
        train += care
        weights += [care_weight] * len(care)
        files.append("clameur/analysis/lexicons/toxicity_care.txt (packaged, original lines)")
    if identity_weight > 0:
        generated = identity_rows(seed)
        train += generated
        weights += [identity_weight] * len(generated)
        files.append(
            f"clameur.analysis.toxicity_identity ({len(generated)} generated identity-term rows)"
        )
    return TrainingData(
        train=train, weights=weights, val=val, background_val=background_val, files=files
    )


def _fit(
    texts: Sequence[str],
    labels: Sequence[str],
    sample_weight: Sequence[float],
    config: FeatureConfig,
    *,
    c: float,
    cue_scale: float,
    use_cues: bool,
) -> tuple[NDArray[np.float32], NDArray[np.float32], float]:
    import warnings

    from scipy import sparse  # type: ignore[import-untyped]
    from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    x = extract(texts, config).to_scipy()
    if use_cues:
        x = sparse.hstack((x, sparse.csr_matrix(cues(texts).values * cue_scale))).tocsr()
    y = np.array([LABELS.index(lab) for lab in labels])
    clf = LogisticRegression(C=c, solver="lbfgs", max_iter=3000, tol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y, sample_weight=np.asarray(sample_weight, dtype=np.float64))
    coef = clf.coef_[0]
    n_sparse = 1 << config.bits
    cue_w = coef[n_sparse:] * cue_scale if use_cues else np.zeros(N_CUES)
    return (
        coef[:n_sparse].astype(np.float16).astype(np.float32),
        cue_w.astype(np.float32),
        float(clf.intercept_[0]),
    )


def choose_threshold(probs: NDArray[np.float32], gold: Sequence[str]) -> float:
    """The threshold (0.05 steps) maximising macro-F1; ties go to the one closest to 0.5."""
    best_t, best_f1 = 0.5, -1.0
    for t in sorted(np.arange(0.1, 0.91, 0.05), key=lambda v: abs(v - 0.5)):
        predicted = ["toxic" if p >= t else "normal" for p in probs]
        f1 = float(metrics(gold, predicted)["macro_f1"])
        if f1 > best_f1 + 1e-9:
            best_t, best_f1 = float(round(t, 2)), f1
    return best_t


def train_toxicity(
    data_dir: Path,
    *,
    seed: int = 0,
    languages: Sequence[str] = LANGUAGES,
    config: FeatureConfig | None = None,
    use_cues: bool = True,
    care_weight: float = 10.0,
    background_weight: float = 0.1,
    identity_weight: float = 1.0,
    c: float = 0.3,
    cue_scale: float = 3.0,
    tune_threshold: bool = True,
    max_rows_per_language: int | None = None,
) -> tuple[ToxicityModel, dict[str, Any]]:
    """Train on MLMA (``data_dir/toxicity/mlma/<lang>.jsonl``), the packaged care lines and
    the :data:`BACKGROUND` texts taken as normal.

    Each MLMA language and each background file is split with :func:`stratified_split`
    (``VAL_FRACTION`` held out, seeded). MLMA rows are class-balanced per language; each care
    line weighs ``care_weight``, each background row ``background_weight``. With
    ``tune_threshold`` the decision threshold maximises macro-F1 on the held-out MLMA and
    background rows together, and is folded into the bias (``p ≥ 0.5`` then means toxic).
    The validation metrics are on held-out MLMA rows per language. :data:`BASELINE` gives
    the plain n-gram model. Deterministic for a given seed.
    """
    config = config or FeatureConfig()
    data = load_training_data(
        data_dir,
        seed=seed,
        languages=languages,
        care_weight=care_weight,
        background_weight=background_weight,
        identity_weight=identity_weight,
        max_rows_per_language=max_rows_per_language,
    )
    weights, cue_weights, bias = _fit(
        [r.text for r in data.train],
        [r.label for r in data.train],
        data.weights,
        config,
        c=c,
        cue_scale=cue_scale,
        use_cues=use_cues,
    )
    model = ToxicityModel(
        weights=weights, cue_weights=cue_weights, bias=bias, config=config, use_cues=use_cues
    )
    val_rows = [r for rows in data.val.values() for r in rows]
    tune_rows = val_rows + data.background_val
    threshold = 0.5
    if tune_threshold and tune_rows:
        threshold = choose_threshold(
            model.predict_proba([r.text for r in tune_rows])[:, 1], [r.label for r in tune_rows]
        )
        model.bias -= math.log(threshold / (1.0 - threshold))
    val = {lang: evaluate(model, rows) for lang, rows in data.val.items()}
    flagged = model.predict_proba([r.text for r in data.background_val])[:, 1] >= 0.5
    report = {
        "val_macro_f1": {lang: round(float(m["macro_f1"]), 4) for lang, m in val.items()},
        "val_accuracy": {lang: round(float(m["accuracy"]), 4) for lang, m in val.items()},
        "val_pooled_macro_f1": round(float(evaluate(model, val_rows)["macro_f1"]), 4),
        "threshold": threshold,
        "background_val_flag_rate": round(float(flagged.mean()), 4) if flagged.size else None,
        "n_train": len(data.train),
        "n_val": {lang: len(rows) for lang, rows in data.val.items()},
    }
    model.metadata = {
        "data_files": data.files,
        "seed": seed,
        "split": f"per language, stratified by label, {VAL_FRACTION:.0%} held out "
        f"(numpy default_rng({seed}) permutation)",
        "hyper_parameters": {
            "features": config.to_dict(),
            "classifier": "binary logistic regression (scikit-learn lbfgs, L2)",
            "C": c,
            "use_cues": use_cues,
            "cue_scale": cue_scale,
            "care_weight": care_weight,
            "background_weight": background_weight,
            "identity_weight": identity_weight,
            "class_weight": "balanced per MLMA language",
            "threshold": threshold,
        },
        "cue_weights": {n: round(float(w), 4) for n, w in zip(CUE_NAMES, cue_weights, strict=True)},
        **report,
    }
    return model, report


BASELINE: dict[str, Any] = {
    "use_cues": False,
    "care_weight": 0.0,
    "background_weight": 0.0,
    "identity_weight": 0.0,
    "c": 1.0,
    "tune_threshold": False,
}
"""The plain n-gram baseline: same split and hashed features, MLMA only, threshold 0.5."""


METRICS = ("val_macro_f1", "val_accuracy", "val_pooled_macro_f1", "background_val_flag_rate")
"""The keys of the training report that are figures (the rest describes the training)."""


def train_and_save(
    data_dir: Path,
    *,
    seed: int = 0,
    out: Path = DEFAULT_ARTIFACT,
    extra_eval: Sequence[Path] = (),
) -> dict[str, Any]:
    """Train the shipped model and the plain n-gram baseline; write the artifact ``out``
    (metrics and training record in its manifest) and return the manifest.

    ``extra_eval`` files (``{text, label}`` JSONL, e.g. the hard-case and dev sets) are
    scored with both models for the record; they are never used to fit or tune anything.
    """
    model, _ = train_toxicity(data_dir, seed=seed)
    baseline, base_report = train_toxicity(data_dir, seed=seed, **BASELINE)
    extra: dict[str, dict[str, float]] = {}
    for path in extra_eval:
        rows = read_rows(path)
        extra[path.name] = {
            "model_macro_f1": round(float(evaluate(model, rows)["macro_f1"]), 4),
            "baseline_macro_f1": round(float(evaluate(baseline, rows)["macro_f1"]), 4),
            "n": len(rows),
        }
    record = dict(model.metadata)
    metrics = {key: record.pop(key) for key in METRICS}
    metrics["baseline"] = {
        "what": "same split and hashed features, MLMA only (no cues, care lines or "
        "background), C = 1, threshold 0.5",
        "val_macro_f1": base_report["val_macro_f1"],
        "val_pooled_macro_f1": base_report["val_pooled_macro_f1"],
    }
    metrics["extra_eval"] = extra
    metrics["headline"] = {
        **{lang: value for lang, value in metrics["val_macro_f1"].items()},
        **{f"baseline_{k}": v for k, v in base_report["val_macro_f1"].items()},
        **{name: figures["model_macro_f1"] for name, figures in extra.items()},
    }
    command = f"clameur train toxicity --data {data_dir} --seed {seed}" + "".join(
        f" --eval {p}" for p in extra_eval
    )
    return model.save(
        out,
        command=command,
        metrics=metrics,
        training={"date": time.strftime("%Y-%m-%d", time.gmtime()), **record},
    )
