"""Bring your own ONNX text classifier (sentiment) — run with onnxruntime on the CPU.

Set ``CLAMEUR_SENTIMENT_ONNX=/path/model.onnx`` (install the ``onnx`` extra). Two input
kinds are understood, read from the model's first input:

* ``tensor(string)``, shape ``[N]`` or ``[N, 1]``: the raw texts (e.g. a scikit-learn text
  pipeline exported with skl2onnx, or a graph with its own tokeniser ops);
* ``tensor(float)``, shape ``[N, 2**k]``: Clameur's own hashed n-gram features with
  ``k`` hash bits (``clameur.analysis.features``), dense — so a model trained on
  Clameur's features elsewhere can be dropped in.

The first output of type ``tensor(float)`` and rank 2, ``[N, n_labels]``, gives the
scores: probabilities when each row sums to 1, logits otherwise (a softmax is applied).
Labels come from the model's metadata property ``labels`` (comma-separated, e.g.
``negative,neutral,positive``), default that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import FeatureConfig, extract
from clameur.errors import InvalidInputError

DEFAULT_LABELS = ("negative", "neutral", "positive")
MAX_DENSE_BITS = 16
_CHUNK = 256


class OnnxTextClassifier:
    """A text classifier in an ONNX file; ``predict_proba(texts)`` → ``[N, n_labels]``."""

    def __init__(self, path: str | Path) -> None:
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - depends on the installation
            raise InvalidInputError(
                "onnxruntime is not installed (pip install 'clameur[onnx]')", where=str(path)
            ) from None
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError("no such ONNX model file", where=str(path))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InvalidInputError(f"not a usable ONNX model: {exc}", where=str(path)) from None
        self.path = path
        first = self.session.get_inputs()[0]
        self.input_name: str = first.name
        self.input_rank = len(first.shape)
        if first.type == "tensor(string)":
            self.kind = "text"
            self.config: FeatureConfig | None = None
        elif first.type == "tensor(float)":
            width = first.shape[-1]
            if not isinstance(width, int) or width <= 0 or width & (width - 1):
                raise InvalidInputError(
                    f"float input {first.name!r} must be [N, 2**k] hashed features, "
                    f"got shape {first.shape}",
                    where=str(path),
                )
            bits = width.bit_length() - 1
            if bits > MAX_DENSE_BITS:
                raise InvalidInputError(
                    f"float input of 2**{bits} features is too wide (max 2**{MAX_DENSE_BITS})",
                    where=str(path),
                )
            self.kind = "features"
            self.config = FeatureConfig(bits=bits)
        else:
            raise InvalidInputError(
                f"input {first.name!r} has type {first.type}: expected tensor(string) "
                "or tensor(float)",
                where=str(path),
            )
        outputs = [
            o for o in self.session.get_outputs() if o.type == "tensor(float)" and len(o.shape) == 2
        ]
        if not outputs:
            raise InvalidInputError("no float output of shape [N, n_labels]", where=str(path))
        self.output_name: str = outputs[0].name
        meta = self.session.get_modelmeta().custom_metadata_map
        labels = tuple(x.strip() for x in meta.get("labels", "").split(",") if x.strip())
        self.labels: tuple[str, ...] = labels or DEFAULT_LABELS

    def _inputs(self, texts: Sequence[str]) -> Any:
        if self.kind == "text":
            arr = np.array(list(texts), dtype=object)
            return arr.reshape(-1, 1) if self.input_rank == 2 else arr
        assert self.config is not None
        batch = extract(texts, self.config)
        dense = np.zeros((len(texts), batch.n_features), dtype=np.float32)
        rows = np.repeat(np.arange(len(texts)), np.diff(batch.indptr))
        np.add.at(dense, (rows, batch.indices), batch.data)
        return dense

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float32]:
        parts: list[NDArray[np.float32]] = []
        for start in range(0, len(texts), _CHUNK):
            chunk = texts[start : start + _CHUNK]
            (scores,) = self.session.run([self.output_name], {self.input_name: self._inputs(chunk)})
            scores = np.asarray(scores, dtype=np.float32)
            if scores.shape != (len(chunk), len(self.labels)):
                raise InvalidInputError(
                    f"output {self.output_name!r} has shape {scores.shape}, expected "
                    f"({len(chunk)}, {len(self.labels)}) for labels {', '.join(self.labels)}",
                    where=str(self.path),
                )
            sums = scores.sum(axis=1)
            if scores.min() < 0 or not np.allclose(sums, 1.0, atol=1e-3):
                scores = scores - scores.max(axis=1, keepdims=True)
                scores = np.exp(scores)
                scores /= scores.sum(axis=1, keepdims=True)
            parts.append(scores)
        if not parts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        probs = self.predict_proba(texts)
        best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
        return [(self.labels[int(i)], float(probs[n, i])) for n, i in enumerate(best)]
