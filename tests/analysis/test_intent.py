"""Intent model: seed data hygiene, determinism, quality, robustness, behaviour, API shape."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from clameur.analysis.features import FeatureConfig, extract, normalise_batch
from clameur.analysis.intent import (
    CUE_NAMES,
    CUES,
    DEFAULT_ARTIFACT,
    LABELS,
    IntentModel,
    Row,
    _sources,
    cue_matrix,
    evaluate,
    read_rows,
)
from clameur.analysis.intent_train import (
    DATASET_MAPS,
    SEED_DIR,
    TEST_FILE,
    TrainConfig,
    read_seed,
    split_seed,
    train_intent,
)
from clameur.analysis.model_base import read_manifest
from tests.factories import SHARED_DATA, needs_shared_data

DATA_DIR = SHARED_DATA
needs_data = needs_shared_data("intent")
HOSTILE = [
    "",
    "😀😡🎉",
    "a" * 100_000,
    "Bonjour مرحبا नमस्ते 你好 hello ¿qué?",
    "\ud800",
    "\x00\x00",
    " ",
    "?" * 100_000,
    "merci " * 20_000,
]


@pytest.fixture(scope="module")
def shipped() -> IntentModel:
    return IntentModel.load(DEFAULT_ARTIFACT)


# --- seed data --------------------------------------------------------------------------


def test_seed_sets_are_clean_and_french_first() -> None:
    rows = read_seed(SEED_DIR)
    texts = [r.text.strip().lower() for r in rows]
    assert len(texts) == len(set(texts)), "duplicate seed lines"
    fr = Counter(r.label for r in rows if r.origin == "seed-fr")
    assert set(fr) == set(LABELS)
    assert min(fr.values()) >= 60
    test = {r.text.strip().lower() for r in read_rows(TEST_FILE)}
    assert not test & set(texts), "test lines must not be in the seed sets"
    assert Counter(r.label for r in read_rows(TEST_FILE)) == dict.fromkeys(LABELS, 15)


def test_held_out_split_is_seeded_stratified_and_disjoint() -> None:
    rows = read_seed(SEED_DIR)
    train, val = split_seed(rows, seed=0)
    again_train, again_val = split_seed(rows, seed=0)
    assert val == again_val
    assert train == again_train
    assert {r.text for r in train}.isdisjoint({r.text for r in val})
    assert len(train) + len(val) == len(rows)
    for label in LABELS:
        n_all = sum(r.label == label and r.origin == "seed-fr" for r in rows)
        n_val = sum(r.label == label and r.origin == "seed-fr" for r in val)
        assert abs(n_val - 0.25 * n_all) <= 1
    assert split_seed(rows, seed=1)[1] != val


@needs_data
def test_mapping_tables_name_existing_intents_only() -> None:
    for name, mapping in DATASET_MAPS.items():
        found = {
            json.loads(line)["label"]
            for line in (DATA_DIR / "intent" / name / "train.jsonl").open(encoding="utf-8")
        }
        assert set(mapping) <= found, f"{name}: {sorted(set(mapping) - found)}"
        assert set(mapping.values()) <= set(LABELS)
    assert DATASET_MAPS["clinc150"]["oos"] == "other"
    assert DATASET_MAPS["bitext"]["cancel_order"] == "request"
    assert DATASET_MAPS["bitext"]["complaint"] == "complaint"


# --- training ---------------------------------------------------------------------------


def test_small_seed_training_is_deterministic_and_beats_majority() -> None:
    cfg = TrainConfig(c=3.0, max_seed_per_label=30)
    first, val = train_intent(None, seed=3, cfg=cfg, calibrate=False)
    second, val2 = train_intent(None, seed=3, cfg=cfg, calibrate=False)
    assert val == val2
    texts = [r.text for r in val]
    assert first.predict(texts) == second.predict(texts)
    result = evaluate(first, val)
    majority = max(Counter(r.label for r in val).values()) / len(val)
    assert result["accuracy"] > majority + 0.4
    assert result["macro_f1"] > 0.6


@needs_data
def test_small_training_with_english_data_learns_the_mapped_labels() -> None:
    cfg = TrainConfig(c=3.0, max_seed_per_label=20, english_per_label=60)
    model, _ = train_intent(DATA_DIR, seed=5, cfg=cfg, calibrate=False)
    clinc = read_rows(DATA_DIR / "intent" / "clinc150" / "val.jsonl", "", DATASET_MAPS["clinc150"])
    result = evaluate(model, clinc)
    majority = max(Counter(r.label for r in clinc).values()) / len(clinc)
    assert result["accuracy"] > majority + 0.1
    assert result["macro_f1"] > 0.6


# --- the shipped artifact -----------------------------------------------------------------


def test_shipped_artifact_is_small_and_documented() -> None:
    meta = read_manifest(DEFAULT_ARTIFACT)
    assert meta["bytes"] <= 3 * 1024 * 1024
    assert {"command", "metrics", "version", "training"} <= set(meta)
    assert "data" in meta["training"]
    assert set(meta["training"]["cue_weights"]) == set(CUE_NAMES)


def test_shipped_held_out_and_test_figures(shipped: IntentModel) -> None:
    _, val = split_seed(read_seed(SEED_DIR), seed=0)  # the shipped model's held-out part
    assert evaluate(shipped, [r for r in val if r.origin == "seed-fr"])["macro_f1"] >= 0.8
    assert evaluate(shipped, read_rows(TEST_FILE))["macro_f1"] >= 0.8


@needs_data
def test_shipped_english_mapped_clinc_val(shipped: IntentModel) -> None:
    clinc = read_rows(DATA_DIR / "intent" / "clinc150" / "val.jsonl", "", DATASET_MAPS["clinc150"])
    assert evaluate(shipped, clinc)["macro_f1"] >= 0.8


BEHAVIOUR = [
    ("Une semaine que ma box ne marche plus et personne ne répond, c'est honteux", "complaint"),
    ("Livré cassé et incomplet, vraiment déçu de cette commande", "complaint"),
    ("My train was cancelled again and nobody told us anything, disgraceful", "complaint"),
    ("Bonjour, quels sont vos horaires d'ouverture le samedi ?", "question"),
    ("Est-ce que la carte fonctionne au Japon ?", "question"),
    ("How long does delivery to Belgium take?", "question"),
    ("Merci de résilier ma ligne fixe à la fin du mois, numéro client 4471", "request"),
    ("Pouvez-vous me rembourser les frais de livraison svp ?", "request"),
    # Known gap, documented in docs/models.md (Intent): "Please refund the duplicate charge
    # on my account" reads as a complaint (banking77's charged-twice intent maps there).
    ("Please refund my order, it never arrived", "request"),
    ("Merci beaucoup pour votre aide, conseillère au top !", "praise"),
    ("Bravo à l'équipe, livraison rapide et produit parfait 👏", "praise"),
    ("Thank you so much, your support team was amazing", "praise"),
    ("Si rien n'est réglé demain je pars chez un concurrent", "churn_threat"),
    ("Plus jamais je ne reprends un abonnement chez vous, je m'en vais", "churn_threat"),
    ("Fix this now or I'm switching to another provider", "churn_threat"),
    ("Gagnez 1000€ par semaine ! Code promo GAIN50, lien en bio 👉 http://promo.example", "spam"),
    ("Achetez des followers pas chers, écrivez-moi en DM", "spam"),
    ("Win a free iPhone, click here http://win.example and follow us", "spam"),
    ("Coucou tout le monde, bon week-end 🌞", "other"),
    ("Je suis dans le bus, il fait beau aujourd'hui", "other"),
    ("Off to the beach with the kids today", "other"),
]


@pytest.mark.parametrize(("text", "label"), BEHAVIOUR)
def test_clear_examples(shipped: IntentModel, text: str, label: str) -> None:
    assert text.lower() not in {r.text.lower() for r in read_seed(SEED_DIR)}
    assert shipped.predict([text])[0][0] == label


def test_hostile_inputs_give_valid_labels(shipped: IntentModel) -> None:
    out = shipped.predict(HOSTILE)
    assert len(out) == len(HOSTILE)
    for label, confidence in out:
        assert label in LABELS
        assert 0.0 <= confidence <= 1.0
    for text in HOSTILE:  # one at a time too (batch boundaries)
        assert shipped.predict([text])[0][0] in LABELS
    probs = shipped.predict_proba(HOSTILE)
    assert np.isfinite(probs).all()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert shipped.predict([]) == []
    assert shipped.predict_proba([]).shape == (0, len(LABELS))


def test_scores_from_shared_features_match_predict_proba(shipped: IntentModel) -> None:
    texts = ["Vous livrez le dimanche ?", "Merci pour tout !", "", "code promo http://a.example"]
    normed = normalise_batch(texts)
    batch = extract(texts, FeatureConfig(), normed=normed)
    scores = shipped.scores_from(batch, normed, texts)
    assert scores.shape == (4, len(LABELS))
    assert scores.dtype == np.float32
    assert np.allclose(scores, shipped.predict_proba(texts), atol=1e-6)
    assert shipped.labels == LABELS
    with pytest.raises(ValueError, match="hashed features"):
        shipped.scores_from(extract(texts, FeatureConfig(bits=12), normed=normed), normed, texts)


def test_save_load_roundtrip_and_stale_cues(shipped: IntentModel, tmp_path: Path) -> None:
    path = tmp_path / "intent"
    shipped.save(path)
    texts = ["je veux résilier", "pk ça marche pas ?", "bravo"]
    assert IntentModel.load(path).predict(texts) == shipped.predict(texts)
    stale = tmp_path / "stale"
    shipped.save(stale)
    manifest = json.loads((stale / "manifest.json").read_text(encoding="utf-8"))
    manifest["model"]["cues"] = manifest["model"]["cues"][:-1]
    (stale / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ValueError, match="stale.*other cues"):
        IntentModel.load(stale)


def test_cues_fire_where_written() -> None:
    texts = [
        "merci de me rappeler",  # a request, not thanks
        "merci pour rien 🙄",
        "à partir de quel âge ?",  # "partir" here is not leaving
        "je pars chez la concurrence",
        "code promo -50% http://x.example",
        "ok",
    ]
    cues = cue_matrix(normalise_batch(texts))
    fired = [{CUE_NAMES[j] for j in np.flatnonzero(row)} for row in cues]
    assert "polite_ask" in fired[0]
    assert "thanks" not in fired[0]
    assert "sarcasm" in fired[1]
    assert "leaving" not in fired[2]
    assert {"question_mark", "question_word"} <= fired[2]
    assert "leaving" in fired[3]
    assert {"promo", "link"} <= fired[4]
    assert {"greeting_only", "short"} <= fired[5]


def _reference_cues(normed: list[str]) -> np.ndarray:
    """The cues as written: each pattern searched in each text (slow, obviously right)."""
    compiled = [[re.compile(p) for p in cue.patterns] for cue in CUES]
    out = np.zeros((len(normed), len(CUE_NAMES)), dtype=np.float32)
    for i, text in enumerate(normed):
        for j, patterns in enumerate(compiled):
            out[i, j] = any(p.search(text) for p in patterns)
        out[i, -1] = text.count(" ") < 2
    return out


def test_fast_cue_scan_equals_the_cues_as_written() -> None:
    texts = [r.text for r in read_seed(SEED_DIR)] + [r.text for r in read_rows(TEST_FILE)]
    texts += HOSTILE + ["x_merci", "_merci", "ébravo", "a partir", "peut-on ?", "si ça je pars"]
    normed = normalise_batch(texts)
    fast = cue_matrix(normed)
    assert fast.any(axis=0)[: len(CUES)].all(), "every cue fires somewhere"
    np.testing.assert_array_equal(fast, _reference_cues(normed))
    for cue in CUES:  # every scan starts with literal text (the fast path)
        assert all(literal for p in cue.patterns for literal, _ in _sources(p)), cue.name


def test_evaluate_keys(shipped: IntentModel) -> None:
    rows = [Row("bravo et merci", "praise"), Row("vous ouvrez quand ?", "question")]
    result = evaluate(shipped, rows)
    assert set(result) == {"macro_f1", "accuracy", "n", "per_second", "per_class"}
    assert set(result["per_class"]) == set(LABELS)
    assert result["n"] == 2


def test_eval_intent_cli_contract_and_bad_label(tmp_path: Path) -> None:
    good = tmp_path / "v.jsonl"
    good.write_text(
        '{"text": "Vous livrez en Belgique ?", "label": "question"}\n'
        '{"text": "Merci, super service !", "label": "praise"}\n',
        encoding="utf-8",
    )
    run = [sys.executable, "-m", "clameur", "eval", "intent"]
    result = subprocess.run(
        [*run, str(good), "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"macro_f1", "accuracy", "n", "per_second", "per_class"}
    assert out["n"] == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "question"}\n{"text": "y", "label": "angry"}\n')
    result = subprocess.run(
        [*run, str(bad), "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    assert "bad.jsonl:2" in result.stderr
    assert "angry" in result.stderr
    assert result.stdout == ""
