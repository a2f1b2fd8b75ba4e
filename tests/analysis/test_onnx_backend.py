"""A user's own ONNX sentiment model: tiny models built here, run through onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx  # dev extra, locked: builds the test models (onnxruntime runs them)
import pytest
from onnx import TensorProto, helper

from clameur.analysis.features import FeatureConfig, extract
from clameur.analysis.onnx_backend import OnnxTextClassifier
from clameur.errors import InvalidInputError

BITS = 10


def _save(model: onnx.ModelProto, path: Path, labels: str | None = None) -> Path:
    if labels is not None:
        helper.set_model_props(model, {"labels": labels})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _features_model(path: Path, weights: np.ndarray) -> Path:
    """[N, 2**BITS] hashed features → MatMul → logits [N, 3] (no softmax: logits path)."""
    w = helper.make_tensor("W", TensorProto.FLOAT, weights.shape, weights.flatten().tolist())
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "W"], ["logits"])],
        "tiny-features",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 1 << BITS])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return _save(model, path, "neg,neu,pos")


def _buckets(text: str) -> np.ndarray:
    return extract([text], FeatureConfig(bits=BITS)).indices


def test_features_model_reads_clameur_hashed_features(tmp_path: Path) -> None:
    weights = np.zeros((1 << BITS, 3), dtype=np.float32)
    weights[_buckets("awful"), 0] += 1.0
    weights[_buckets("wonderful"), 2] += 1.0
    model = OnnxTextClassifier(_features_model(tmp_path / "f.onnx", weights))
    assert model.labels == ("neg", "neu", "pos")
    got = model.predict(["awful", "wonderful", "awful awful"])
    assert [label for label, _ in got] == ["neg", "pos", "neg"]
    probs = model.predict_proba(["awful", "wonderful"])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert probs[0, 0] > 0.5
    assert probs[1, 2] > 0.5


def _string_model(path: Path) -> Path:
    """Raw text [N] → one LabelEncoder per class (exact phrases → score) → concat [N, 3]."""
    phrases = ["terrible service", "ok", "love it"]
    nodes, outs = [], []
    for k in range(3):
        values = [4.0 if i == k else 0.0 for i in range(3)]
        nodes.append(
            helper.make_node(
                "LabelEncoder",
                ["text"],
                [f"s{k}"],
                domain="ai.onnx.ml",
                keys_strings=phrases,
                values_floats=values,
                default_float=0.0,
            )
        )
        nodes.append(helper.make_node("Unsqueeze", [f"s{k}", "axis"], [f"c{k}"]))
        outs.append(f"c{k}")
    nodes.append(helper.make_node("Concat", outs, ["scores"], axis=1))
    axis = helper.make_tensor("axis", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(
        nodes,
        "tiny-text",
        [helper.make_tensor_value_info("text", TensorProto.STRING, ["N"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
        initializer=[axis],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2)]
    )
    model.ir_version = 8
    return _save(model, path)


def test_string_model_gets_raw_texts_and_default_labels(tmp_path: Path) -> None:
    model = OnnxTextClassifier(_string_model(tmp_path / "s.onnx"))
    assert model.labels == ("negative", "neutral", "positive")
    got = [label for label, _ in model.predict(["love it", "terrible service", "ok"])]
    assert got == ["positive", "negative", "neutral"]
    assert model.predict([]) == []


def test_bad_model_files_are_refused_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such ONNX model"):
        OnnxTextClassifier(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(InvalidInputError, match="junk.onnx"):
        OnnxTextClassifier(junk)


def test_wrong_label_count_is_reported(tmp_path: Path) -> None:
    weights = np.zeros((1 << BITS, 3), dtype=np.float32)
    path = _features_model(tmp_path / "f.onnx", weights)
    model = onnx.load(str(path))
    helper.set_model_props(model, {"labels": "negative,positive"})
    onnx.save(model, str(path))
    with pytest.raises(InvalidInputError, match="expected"):
        OnnxTextClassifier(path).predict_proba(["x"])
