"""`clameur eval` contract, through a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import write_jsonl


def _clameur(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clameur", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_eval_sentiment_prints_the_contract(tmp_path: Path) -> None:
    rows = [
        {"text": "Merci, service au top, je recommande !", "label": "positive"},
        {"text": "Nul, panne depuis trois jours et personne ne répond", "label": "negative"},
        {"text": "Le magasin ouvre à 9h demain", "label": "neutral"},
        {"text": "Super équipe, bravo", "label": "positive"},
    ]
    result = _clameur(
        "eval", "sentiment", str(write_jsonl(tmp_path / "v.jsonl", rows)), "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"macro_f1", "accuracy", "n", "per_second", "per_class"}
    assert out["n"] == 4
    assert 0.0 <= out["macro_f1"] <= 1.0
    assert set(out["per_class"]) == {"negative", "neutral", "positive"}


def test_eval_refuses_bad_files_naming_the_line(tmp_path: Path) -> None:
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        [{"text": "ok", "label": "positive"}, {"text": "x", "label": "angry"}],
    )
    result = _clameur("eval", "sentiment", str(bad), "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "bad.jsonl:2: label 'angry' is not one of negative, neutral, positive" in result.stderr
    toxicity = _clameur("eval", "toxicity", str(bad), "--json", cwd=tmp_path)
    assert toxicity.returncode == 1
    assert "bad.jsonl:1: label 'positive' is not one of normal, toxic" in toxicity.stderr


DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_train_sentiment_writes_an_artifact_that_loads(tmp_path: Path) -> None:
    if not (DATA_DIR / "sentiment").is_dir():
        pytest.skip(f"shared data not found at {DATA_DIR} (../shared/data relative to the repo)")
    out = tmp_path / "sentiment"
    # a quick run (French and English, 1,500 rows each, no word vectors): the command's
    # contract, not the shipped model's quality (`clameur train sentiment` in full,
    # docs/models.md; tests/analysis train with the vectors on small samples)
    quick = ("--languages", "fr,en", "--max-rows", "1500", "--no-word-vectors")
    result = _clameur(
        "train", "sentiment", "--data", str(DATA_DIR), "--out", str(out), *quick, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("fr\t")
    manifest = json.loads((out / "manifest.json").read_text())
    meta = {**manifest["training"], **manifest["metrics"]}
    assert manifest["command"].endswith("--no-word-vectors")
    assert meta["hyper_parameters"]["max_rows_per_language"] == 1500
    assert set(meta["val_macro_f1"]) == {"fr", "en"}
    assert not meta["hyper_parameters"]["word_vectors"], "none asked for"
    assert meta["val_macro_f1"]["fr"] > 0.45, "far better than chance (0.33)"
    from clameur.analysis.sentiment import SentimentModel

    assert SentimentModel.load(out).predict(["génial"])[0][0] in {"negative", "neutral", "positive"}


def test_train_names_a_care_folder_without_care_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "intent").mkdir(parents=True)
    (data / "sentiment").mkdir()
    empty = tmp_path / "no-care"
    empty.mkdir()
    for kind in ("intent", "sentiment"):
        result = _clameur(
            "train", kind, "--data", str(data), "--care-dir", str(empty), cwd=tmp_path
        )
        assert result.returncode == 1, kind
        assert "no care_fr.jsonl, care_en.jsonl or care_nl.jsonl" in result.stderr, kind
        assert str(empty) in result.stderr, kind
