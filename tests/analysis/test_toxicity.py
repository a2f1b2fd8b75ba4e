"""Toxicity model: determinism, quality, the hard-case set, rules, robustness, CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clameur.analysis.features import FeatureConfig, extract, normalise_batch
from clameur.analysis.model_base import read_manifest
from clameur.analysis.toxicity import (
    DEFAULT_ARTIFACT,
    LABELS,
    Row,
    ToxicityModel,
    evaluate,
    read_rows,
)
from clameur.analysis.toxicity_rules import CUE_NAMES, Lexicon, cues, read_lexicon
from clameur.analysis.toxicity_train import read_care_rows, stratified_split, train_toxicity
from tests.factories import SHARED_DATA, needs_shared_data, write_jsonl

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = SHARED_DATA
HARD = REPO / "tests" / "data" / "toxicity_hard_fr.jsonl"
DEV = REPO / "tests" / "data" / "toxicity_dev_fr.jsonl"
needs_data = needs_shared_data("toxicity/mlma")
HOSTILE = ["", "😀😡🎉", "a" * 100_000, "Bonjour مرحبا नमस्ते 你好 hello", "\ud800", "\x00\x00", " "]
HARD_FLOOR = 0.85
"""Macro-F1 the shipped artifact must keep on the hard-case set (0.940 when shipped)."""


@pytest.fixture(scope="module")
def shipped() -> ToxicityModel:
    return ToxicityModel.load(DEFAULT_ARTIFACT)


def _cue(text: str, name: str) -> float:
    return float(cues([text]).column(name)[0])


# --- training ------------------------------------------------------------------------------


@needs_data
def test_small_training_is_deterministic_and_beats_majority() -> None:
    kwargs = {"seed": 3, "languages": ("fr",), "max_rows_per_language": 400}
    first, report = train_toxicity(DATA_DIR, **kwargs)  # type: ignore[arg-type]
    second, _ = train_toxicity(DATA_DIR, **kwargs)  # type: ignore[arg-type]
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.cue_weights, second.cue_weights)
    assert first.bias == second.bias
    _, val = stratified_split(read_rows(DATA_DIR / "toxicity" / "mlma" / "fr.jsonl"), 3)
    # Majority class (toxic) everywhere: F1 0 on normal, so macro-F1 below 0.45.
    share = sum(r.label == "toxic" for r in val) / len(val)
    majority_f1 = (2 * share / (1 + share)) / 2
    assert report["val_macro_f1"]["fr"] > majority_f1 + 0.1
    dev = read_rows(DEV)  # balanced: the majority class scores 0.5 accuracy
    assert evaluate(first, dev)["accuracy"] > 0.75


def test_split_is_stratified_seeded_and_disjoint() -> None:
    rows = [Row(f"t{i}", "toxic" if i % 5 else "normal") for i in range(200)]
    fit, val = stratified_split(rows, seed=1)
    assert len(val) == 30  # 15 % of 160 toxic + 15 % of 40 normal
    assert sum(r.label == "normal" for r in val) == 6
    assert {r.text for r in fit}.isdisjoint(r.text for r in val)
    assert stratified_split(rows, seed=1) == (fit, val)
    assert stratified_split(rows, seed=2)[1] != val


# --- the shipped artifact -----------------------------------------------------------------


def test_hard_case_set_above_floor(shipped: ToxicityModel) -> None:
    rows = read_rows(HARD)
    assert 120 <= len(rows) <= 200
    assert abs(sum(r.label == "toxic" for r in rows) - len(rows) / 2) < 10  # balanced
    result = evaluate(shipped, rows)
    assert result["macro_f1"] >= HARD_FLOOR


def test_hard_case_set_is_not_training_data() -> None:
    hard = {r.text for r in read_rows(HARD)}
    assert hard.isdisjoint(r.text for r in read_rows(DEV))
    assert hard.isdisjoint(r.text for r in read_care_rows())


@needs_data
def test_hard_case_set_does_not_copy_the_dataset() -> None:
    hard = {r.text.lower() for r in read_rows(HARD)}
    for lang in ("fr", "en", "ar"):
        for row in read_rows(DATA_DIR / "toxicity" / "mlma" / f"{lang}.jsonl"):
            assert row.text.lower() not in hard


@needs_data
def test_shipped_artifact_validation_regression_guard(shipped: ToxicityModel) -> None:
    _, val = stratified_split(read_rows(DATA_DIR / "toxicity" / "mlma" / "fr.jsonl"), 0)
    assert evaluate(shipped, val)["macro_f1"] >= 0.58  # 0.618 when shipped
    ordinary = [
        json.loads(line)["text"]
        for line in (DATA_DIR / "sentiment_reviews" / "fr" / "val.jsonl").open(encoding="utf-8")
    ]
    assert float(np.mean(shipped.predict_proba(ordinary)[:, 1] >= 0.5)) < 0.1  # film reviews


def test_leetspeak_insult_is_detected(shipped: ToxicityModel) -> None:
    for text in ("t'es qu'un gros c0nn4rd", "ferme-la, s4l0p3", "esp3ce d'abrut1"):
        assert _cue(text, "leetspeak") >= 1, text
        assert shipped.predict([text])[0][0] == "toxic", text
    assert _cue("mon code wifi c'est b0x3-77", "leetspeak") == 0


def test_profanity_at_an_object_scores_below_an_insult_at_a_person(
    shipped: ToxicityModel,
) -> None:
    thing, person = shipped.predict_proba(
        ["cette tablette de merde ne charge plus", "t'es une merde, tu ne charges rien"]
    )[:, 1]
    assert thing < person
    assert thing < 0.5 <= person


def test_reported_and_negated_insults_score_below_direct_ones(shipped: ToxicityModel) -> None:
    reported, negated, direct = shipped.predict_proba(
        [
            "la caissière m'a traitée de « connasse », je demande des excuses",
            "je ne dis pas que le vendeur est un connard",
            "le vendeur est un connard",
        ]
    )[:, 1]
    assert max(reported, negated) < direct
    assert direct >= 0.5


def test_angry_complaints_are_not_toxic(shipped: ToxicityModel) -> None:
    texts = [
        "inadmissible, six semaines sans remboursement, je suis furieux",
        "votre service client est une honte, personne ne répond",
        "je vais porter plainte si rien ne bouge",
    ]
    assert all(label == "normal" for label, _ in shipped.predict(texts))


# --- rules ---------------------------------------------------------------------------------


def test_rule_context() -> None:
    assert _cue("t'es un connard", "insult") == 1
    assert _cue("tu n'es pas un connard", "insult") == 0
    assert _cue("tu n'es pas un connard", "neutralised") == 1
    assert _cue("il m'a traité de « connard », inadmissible", "insult") == 0
    assert _cue("« connard » c'est encore gentil pour toi", "insult") == 1  # quoted, no report
    assert _cue("je vais te tuer", "threat") == 1
    assert _cue("je vais tuer le temps en lisant", "threat") == 0
    assert _cue("ça me tue d'attendre", "threat") == 0
    assert _cue("ce modem de merde", "swearing_untargeted") == 1
    assert _cue("ce modem de merde", "insult_addressed") == 0
    assert _cue("t'es une merde", "insult_addressed") == 1
    assert _cue("sale bougnoule", "slur") == 1
    assert _cue("le mot « bougnoule » est interdit ici, modérez", "slur") == 0
    assert _cue("mes voisins arabes sont adorables", "hate") == 0
    assert _cue("les arabes dehors", "hate") == 1


def test_cues_batch_equals_one_by_one() -> None:
    texts = ["t'es un c0nn4rd", "", "ce modem de merde", "je vais te tuer", "\ud800", "ok"]
    batch = cues(texts).values
    single = np.vstack([cues([t]).values for t in texts])
    assert np.array_equal(batch, single)
    assert batch.shape == (len(texts), len(CUE_NAMES))


def test_lexicon_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "lex.txt"
    path.write_text("[insult]\nidiot\n[nonsense]\nx\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lex\.txt:3: unknown section \[nonsense\]"):
        read_lexicon(path)
    path.write_text("idiot\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lex\.txt:1: entry before any"):
        read_lexicon(path)


def test_lexicon_variants_share_one_entry() -> None:
    lex = Lexicon.build({"insult": ["enculé"], "toxic_phrase": ["ta gueule"]})
    for text in ("espèce d'enculé", "espece d'encule", "ENCULÉÉÉ"):
        assert float(cues([text], lexicon=lex).column("insult")[0]) == 1, text
    assert float(cues(["ferme ta gueule"], lexicon=lex).column("abuse_phrase")[0]) == 1
    assert float(cues(["ta jolie gueule"], lexicon=lex).column("abuse_phrase")[0]) == 0


# --- robustness and API --------------------------------------------------------------------


def test_hostile_inputs_give_valid_outputs(shipped: ToxicityModel) -> None:
    out = shipped.predict(HOSTILE)
    assert len(out) == len(HOSTILE)
    for label, confidence in out:
        assert label in LABELS
        assert 0.0 <= confidence <= 1.0
    for text in HOSTILE:  # one at a time too (batch boundaries)
        assert shipped.predict([text])[0][0] in LABELS
    assert shipped.predict([]) == []
    assert shipped.predict_proba([]).shape == (0, 2)


def test_scores_from_shared_features_equals_predict_proba(shipped: ToxicityModel) -> None:
    texts = ["t'es un c0nn4rd", "super service, merci", *HOSTILE]
    normed = normalise_batch(texts)
    batch = extract(texts, FeatureConfig(), normed=normed)
    scores = shipped.scores_from(batch, normed, texts)
    assert scores.shape == (len(texts),)
    assert scores.dtype == np.float32
    probs = shipped.predict_proba(texts)
    assert np.allclose(scores, probs[:, 1], atol=1e-6)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    detail = shipped.detail_from(batch, normed, texts)
    assert np.allclose(detail.toxic, scores)
    assert bool(detail.insult[0])
    assert not bool(detail.insult[1])
    with pytest.raises(ValueError, match="rows for"):
        shipped.scores_from(batch, normed, texts[:-1])


def test_detail_flags_threat_and_hate(shipped: ToxicityModel) -> None:
    texts = ["je vais te défoncer", "les juifs dehors", "merci beaucoup"]
    normed = normalise_batch(texts)
    detail = shipped.detail_from(extract(texts, shipped.config, normed=normed), normed, texts)
    assert detail.threat.tolist() == [True, False, False]
    assert detail.hate.tolist() == [False, True, False]


def test_batch_and_single_predictions_agree(shipped: ToxicityModel) -> None:
    texts = ["t'es un abruti", "colis perdu, remboursez-moi", "http://x.y @bob 12h"]
    batch = shipped.predict(texts)
    single = [shipped.predict([t])[0] for t in texts]
    assert [b[0] for b in batch] == [s[0] for s in single]
    assert all(abs(b[1] - s[1]) < 1e-5 for b, s in zip(batch, single, strict=True))


def test_save_load_roundtrip(shipped: ToxicityModel, tmp_path: Path) -> None:
    path = tmp_path / "toxicity"
    shipped.save(path)
    texts = ["t'es un abruti", "merci", "je vais te tuer"]
    assert np.array_equal(
        ToxicityModel.load(path).predict_proba(texts), shipped.predict_proba(texts)
    )


def test_artifact_is_small_and_documented() -> None:
    meta = read_manifest(DEFAULT_ARTIFACT)
    assert meta["bytes"] <= 3_000_000
    assert meta["name"] == "toxicity"
    assert meta["command"].startswith("clameur train toxicity")
    assert set(meta["metrics"]["val_macro_f1"]) == {"fr", "en", "ar"}


# --- command line --------------------------------------------------------------------------


def _clameur(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clameur", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_eval_toxicity_prints_the_contract(tmp_path: Path) -> None:
    rows = [
        {"text": "t'es qu'un sale connard", "label": "toxic"},
        {"text": "je vais te retrouver et te défoncer", "label": "toxic"},
        {"text": "colis arrivé cassé, je veux un remboursement", "label": "normal"},
        {"text": "merci pour votre aide", "label": "normal"},
    ]
    path = write_jsonl(tmp_path / "v.jsonl", rows)
    result = _clameur("eval", "toxicity", str(path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"macro_f1", "accuracy", "n", "per_second", "per_class"}
    assert out["n"] == 4
    assert 0.0 <= out["macro_f1"] <= 1.0
    assert out["per_second"] > 0
    assert set(out["per_class"]) == {"normal", "toxic"}
    for stats in out["per_class"].values():
        assert set(stats) == {"precision", "recall", "f1", "support"}


def test_eval_toxicity_refuses_bad_labels_naming_the_line(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bad.jsonl", [{"text": "ok", "label": "normal"}, {"text": "x", "label": "rude"}]
    )
    result = _clameur("eval", "toxicity", str(path), "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "bad.jsonl:2: label 'rude' is not one of normal, toxic" in result.stderr


@needs_data
def test_train_toxicity_writes_an_artifact_that_loads(tmp_path: Path) -> None:
    out = tmp_path / "toxicity"
    result = _clameur(
        "train",
        "toxicity",
        "--data",
        str(DATA_DIR),
        "--out",
        str(out),
        "--eval",
        str(DEV),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("fr\t")
    meta = read_manifest(out)["metrics"]
    assert meta["val_macro_f1"]["fr"] > 0.55
    assert meta["extra_eval"]["toxicity_dev_fr.jsonl"]["model_macro_f1"] > 0.8
    assert ToxicityModel.load(out).predict(["t'es un abruti"])[0][0] in LABELS
