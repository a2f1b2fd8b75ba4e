"""The shared model shape: artifact directories (parts ≤ 2 MiB, lossless), rows, evaluate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clameur.analysis.model_base import (
    MAX_PART_BYTES,
    MODELS,
    ArtifactError,
    LabelledRow,
    MissingTrainingExtraError,
    evaluate,
    load_artifact,
    model_class,
    read_manifest,
    read_rows,
    require_training_extra,
    save_artifact,
)
from clameur.errors import ClameurError
from tests.factories import write_jsonl


def _save(path: Path, arrays: dict[str, Any]) -> dict[str, Any]:
    return save_artifact(
        path,
        name="demo",
        labels=("a", "b"),
        model={"temperature": 1.5},
        arrays=arrays,
        command="clameur train demo",
        metrics={"headline": {"val": 0.5}},
        training={"date": "2026-01-02", "seed": 3},
    )


def test_arrays_round_trip_exactly_in_parts_of_at_most_2_mib(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        # ~6 MB of incompressible float16: must be cut into row chunks over several parts
        "weights": rng.standard_normal((1_000_000, 3)).astype(np.float16),
        "keys": np.unique(rng.integers(0, 2**63, 300_000, dtype=np.uint64) * np.uint64(2)),
        "bias": np.array([0.25, -1.0], dtype=np.float32),
        "mask": np.packbits(rng.random(1000) < 0.3),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    manifest = _save(tmp_path / "demo", arrays)
    files = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert files == ["manifest.json", *(p["file"] for p in manifest["parts"])]
    assert len(manifest["parts"]) >= 3
    for part in manifest["parts"]:
        assert (tmp_path / "demo" / part["file"]).stat().st_size <= MAX_PART_BYTES
    assert len(manifest["arrays"]["weights"]["chunks"]) > 1
    assert manifest["arrays"]["keys"]["chunks"][0]["encoding"] == "delta"
    loaded_manifest, loaded = load_artifact(tmp_path / "demo", "demo")
    assert set(loaded) == set(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype, name
        assert np.array_equal(loaded[name], array), name
    assert loaded_manifest["version"] == "2026-01-02"
    assert loaded_manifest["training"] == {"seed": 3}
    assert loaded_manifest["labels"] == ["a", "b"]


def test_resaving_removes_parts_no_longer_listed(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    _save(tmp_path / "demo", {"w": rng.standard_normal((1_000_000, 3)).astype(np.float16)})
    _save(tmp_path / "demo", {"w": np.ones(4, dtype=np.float16)})
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["manifest.json", "part-0.npz"]


def test_a_changed_or_missing_part_is_refused_with_its_name(tmp_path: Path) -> None:
    _save(tmp_path / "demo", {"w": np.arange(10, dtype=np.float32)})
    part = tmp_path / "demo" / "part-0.npz"
    data = part.read_bytes()
    part.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ArtifactError, match=r"part-0\.npz: does not match its manifest"):
        load_artifact(tmp_path / "demo", "demo")
    part.unlink()
    with pytest.raises(ArtifactError, match=r"part-0\.npz"):
        load_artifact(tmp_path / "demo", "demo")


def test_wrong_name_or_format_or_no_manifest_is_refused(tmp_path: Path) -> None:
    _save(tmp_path / "demo", {"w": np.arange(3, dtype=np.float32)})
    with pytest.raises(ArtifactError, match="not a sentiment artifact"):
        load_artifact(tmp_path / "demo", "sentiment")
    manifest = json.loads((tmp_path / "demo" / "manifest.json").read_text(encoding="utf-8"))
    manifest["format"] = 2
    (tmp_path / "demo" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ArtifactError, match="format 2"):
        load_artifact(tmp_path / "demo", "demo")
    with pytest.raises(ArtifactError, match="no readable manifest.json"):
        read_manifest(tmp_path / "absent")
    with pytest.raises(ArtifactError, match="scalar"):
        _save(tmp_path / "scalar", {"s": np.float32(1.0)})  # type: ignore[dict-item]


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_shipped_artifacts_share_the_manifest_and_the_contract(kind: str) -> None:
    cls = model_class(kind)
    manifest = read_manifest(cls.default_artifact)
    assert manifest["name"] == kind
    assert manifest["command"].startswith(f"clameur train {kind}")
    assert manifest["metrics"]["headline"], "the figures `clameur train` prints"
    assert {"version", "labels", "training", "model", "parts", "arrays"} <= set(manifest)
    for part in manifest["parts"]:
        assert (cls.default_artifact / part["file"]).stat().st_size <= MAX_PART_BYTES
    model = cls.load()
    assert list(model.labels) == manifest["labels"]
    assert model.metadata["command"] == manifest["command"]
    texts = ["Merci, super service !", "", "remboursez-moi, bande d'escrocs", "a" * 3000]
    probs = model.predict_proba(texts)
    assert probs.shape == (len(texts), len(model.labels))
    assert probs.dtype == np.float32
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    predicted = model.predict(texts)
    assert [label for label, _ in predicted] == [model.labels[i] for i in probs.argmax(axis=1)]
    assert model.predict([]) == []


def test_read_rows_checks_labels_maps_them_and_names_the_line(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "rows.jsonl",
        [{"text": "ok", "label": "x", "extra": 1}, {"text": "no", "label": "dropped"}],
    )
    rows = read_rows(path, ("a", "b"), mapping={"x": "a"}, origin="demo")
    assert rows == [LabelledRow("ok", "a", "demo")]
    with pytest.raises(ValueError, match=r"rows\.jsonl:1: label 'x' is not one of a, b"):
        read_rows(path, ("a", "b"))
    path.write_text('{"text": "ok", "label": "a"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(ClameurError, match=r"rows\.jsonl:2: expected an object"):
        read_rows(path)


class _Fixed:
    labels = ("a", "b")

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        return [("a", 0.9) if "a" in t else ("b", 0.6) for t in texts]


def test_evaluate_reports_the_contract() -> None:
    rows = [LabelledRow("a", "a"), LabelledRow("ab", "b"), LabelledRow("c", "b")]
    result = evaluate(_Fixed(), rows)  # predicted: a, a, b
    assert set(result) == {"macro_f1", "accuracy", "n", "per_second", "per_class"}
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["per_class"]["a"] == {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    assert result["per_class"]["b"]["recall"] == 0.5
    assert result["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_missing_training_extra_names_it_and_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name)
    )
    with pytest.raises(MissingTrainingExtraError) as caught:
        require_training_extra("toxicity")
    message = str(caught.value)
    assert "\n" not in message
    assert "'train' extra" in message
    assert "missing: sklearn" in message
    assert "pip install -e '.[train]'" in message
