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

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import FeatureConfig, HashedBatch, extract, normalise_batch
from clameur.analysis.toxicity_rules import CUE_NAMES, N_CUES, cues

LABELS: tuple[str, ...] = ("normal", "toxic")
LANGUAGES: tuple[str, ...] = ("fr", "en", "ar")
DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "toxicity.npz"
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
_BATCH = 4096


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    label: str


def read_rows(path: Path) -> list[Row]:
    """A ``{text, label}`` JSON Lines file (extra fields ignored); errors name the line."""
    rows: list[Row] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj.get("label") not in LABELS or not isinstance(obj.get("text"), str):
                raise ValueError(f"{path}:{number}: expected text and label in {LABELS}")
            rows.append(Row(text=obj["text"], label=obj["label"]))
    return rows


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
class ToxicityModel:
    """Linear model over hashed features + rule cues; ``p ≥ 0.5`` is *toxic*."""

    weights: NDArray[np.float32]  # (n_features,)
    cue_weights: NDArray[np.float32]  # (N_CUES,), zeros when trained without rules
    bias: float
    config: FeatureConfig = field(default_factory=FeatureConfig)
    use_cues: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)
    _column: NDArray[np.float32] | None = field(default=None, repr=False, compare=False)

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

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Probability toxic for each text, shape ``(n,)``."""
        out = np.zeros(len(texts), dtype=np.float32)
        for start in range(0, len(texts), _BATCH):
            chunk = texts[start : start + _BATCH]
            normed = normalise_batch(chunk)
            batch = extract(chunk, self.config, normed=normed)
            out[start : start + len(chunk)] = self.scores_from(batch, normed, chunk)
        return out

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """``(label, confidence)`` per text: confidence is the probability of that label."""
        if not texts:
            return []
        probs = self.predict_proba(texts)
        return [
            ("toxic", float(p)) if p >= 0.5 else ("normal", float(1.0 - p))
            for p in probs.astype(np.float64)
        ]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "labels": list(LABELS),
            "config": self.config.to_dict(),
            "use_cues": self.use_cues,
            "cue_names": list(CUE_NAMES),
        }
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                weights=self.weights.astype(np.float16),
                cue_weights=self.cue_weights.astype(np.float32),
                bias=np.array([self.bias], dtype=np.float32),
                header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            )

    @classmethod
    def load(cls, path: Path = DEFAULT_ARTIFACT) -> ToxicityModel:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(bytes(archive["header"]).decode())
            weights = archive["weights"].astype(np.float32)
            cue_weights = archive["cue_weights"].astype(np.float32)
            bias = float(archive["bias"][0])
        config = FeatureConfig.from_dict(header["config"])
        if weights.shape != (1 << config.bits,):
            raise ValueError(f"{path}: weights do not match {config.bits} hash bits")
        if tuple(header.get("cue_names", ())) != CUE_NAMES or cue_weights.shape != (N_CUES,):
            raise ValueError(f"{path}: rule cues differ from this version of the code")
        return cls(
            weights=weights,
            cue_weights=cue_weights,
            bias=bias,
            config=config,
            use_cues=bool(header["use_cues"]),
        )


# --- evaluation --------------------------------------------------------------------------


def metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Macro-F1, accuracy and per-class precision/recall/F1/support."""
    per_class: dict[str, dict[str, float | int]] = {}
    for label in LABELS:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        n_pred = sum(1 for p in predicted if p == label)
        support = sum(1 for g in gold if g == label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    present = [lab for lab in LABELS if per_class[lab]["support"]] or list(LABELS)
    n = len(gold)
    return {
        "macro_f1": float(np.mean([per_class[lab]["f1"] for lab in present])),
        "accuracy": (sum(g == p for g, p in zip(gold, predicted, strict=True)) / n) if n else 0.0,
        "n": n,
        "per_class": per_class,
    }


def evaluate(model: ToxicityModel, rows: Sequence[Row]) -> dict[str, Any]:
    """The ``clameur eval toxicity`` contract: macro_f1, accuracy, n, per_second, per_class."""
    start = time.perf_counter()
    predicted = [label for label, _ in model.predict([r.text for r in rows])]
    elapsed = time.perf_counter() - start
    result = metrics([r.label for r in rows], predicted)
    n = result["n"]
    return {
        "macro_f1": result["macro_f1"],
        "accuracy": result["accuracy"],
        "n": n,
        "per_second": (n / elapsed) if elapsed > 0 else float("inf"),
        "per_class": result["per_class"],
    }


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
    max_rows_per_language: int | None = None,
) -> TrainingData:
    """MLMA rows split per language (class-balanced weights), the care lines and the
    :data:`BACKGROUND` files as *normal* when weighted (background split like MLMA)."""
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
            model.predict_proba([r.text for r in tune_rows]), [r.label for r in tune_rows]
        )
        model.bias -= math.log(threshold / (1.0 - threshold))
    val = {lang: evaluate(model, rows) for lang, rows in data.val.items()}
    flagged = model.predict_proba([r.text for r in data.background_val]) >= 0.5
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
    "c": 1.0,
    "tune_threshold": False,
}
"""The plain n-gram baseline: same split and hashed features, MLMA only, threshold 0.5."""


def train_and_save(
    data_dir: Path,
    *,
    seed: int = 0,
    out: Path = DEFAULT_ARTIFACT,
    extra_eval: Sequence[Path] = (),
) -> dict[str, Any]:
    """Train the shipped model and the plain n-gram baseline; write ``out`` + ``.json``.

    ``extra_eval`` files (``{text, label}`` JSONL, e.g. the hard-case and dev sets) are
    scored with both models for the record; they are never used to fit or tune anything.
    """
    model, report = train_toxicity(data_dir, seed=seed)
    model.save(out)
    baseline, base_report = train_toxicity(data_dir, seed=seed, **BASELINE)
    extra: dict[str, dict[str, float]] = {}
    for path in extra_eval:
        rows = read_rows(path)
        extra[path.name] = {
            "model_macro_f1": round(float(evaluate(model, rows)["macro_f1"]), 4),
            "baseline_macro_f1": round(float(evaluate(baseline, rows)["macro_f1"]), 4),
            "n": len(rows),
        }
    meta = {
        "model": "toxicity",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": f"clameur train toxicity --data {data_dir} --seed {seed}"
        + "".join(f" --eval {p}" for p in extra_eval),
        **model.metadata,
        "baseline": {
            "what": "same split and hashed features, MLMA only (no cues, care lines or "
            "background), C = 1, threshold 0.5",
            "val_macro_f1": base_report["val_macro_f1"],
            "val_pooled_macro_f1": base_report["val_pooled_macro_f1"],
        },
        "extra_eval": extra,
        "artifact_bytes": out.stat().st_size,
    }
    out.with_suffix(".json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return meta
