"""The project's customer-care training lines: hygiene, the shared held-out split, weights."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from clameur.analysis.care_data import (
    CARE_DIR,
    CareRow,
    care_files,
    load_care,
    read_care,
    split_care,
)
from clameur.analysis.intent import LABELS as INTENT_LABELS
from clameur.analysis.intent import Row
from clameur.analysis.intent_train import TrainConfig, read_seed, sample_weights
from clameur.analysis.sentiment import LABELS as SENTIMENT_LABELS
from tests.factories import SHARED_DATA, needs_shared_data

needs_sentiment_data = needs_shared_data("sentiment")

MINIMUM = {"fr": 1500, "en": 500, "nl": 400}


def _all() -> list[CareRow]:
    return [r for lang, path in care_files().items() for r in read_care(path, lang)]


def test_care_sets_are_large_balanced_and_clean() -> None:
    rows = _all()
    for lang, minimum in MINIMUM.items():
        mine = [r for r in rows if r.language == lang]
        assert len(mine) >= minimum, lang
        share = Counter(r.sentiment for r in mine)
        assert set(share) == set(SENTIMENT_LABELS), lang
        assert 0.33 <= share["negative"] / len(mine) <= 0.47, lang
        assert 0.28 <= share["neutral"] / len(mine) <= 0.42, lang
        assert 0.18 <= share["positive"] / len(mine) <= 0.32, lang
        assert set(r.intent for r in mine) == set(INTENT_LABELS), lang
    texts = [" ".join(r.text.lower().split()) for r in rows]
    assert len(texts) == len(set(texts)), "duplicate care lines"
    seeds = {" ".join(r.text.lower().split()) for r in read_seed()}
    assert not seeds & set(texts), "a care line repeats a seed line (it could be held out twice)"
    # the lines are the project's: invented brands and .example domains only
    for row in rows:
        for word in row.text.split():
            if "://" in word:
                host = word.split("://", 1)[1].split("/", 1)[0].rstrip(".,)")
                assert host.endswith(".example"), row.text


def test_split_is_seeded_stratified_and_disjoint() -> None:
    rows = _all()
    train, val = split_care(rows, seed=0)
    assert (train, val) == split_care(rows, seed=0)
    assert split_care(rows, seed=1)[1] != val
    assert len(train) + len(val) == len(rows)
    assert {r.text for r in train}.isdisjoint({r.text for r in val})
    groups = Counter((r.language, r.sentiment, r.intent) for r in rows)
    held = Counter((r.language, r.sentiment, r.intent) for r in val)
    for key, n in groups.items():
        if n >= 2:
            assert 1 <= held[key] < n, key
            assert abs(held[key] - 0.2 * n) <= 1, key
    assert abs(len(val) / len(rows) - 0.2) < 0.02
    assert load_care(CARE_DIR, seed=0) == (train, val)


def test_read_care_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "care_fr.jsonl"
    good = {"text": "ok merci", "sentiment": "positive", "intent": "praise"}
    bad = {"text": "ok", "sentiment": "happy", "intent": "praise"}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"care_fr.jsonl:3: sentiment 'happy' is not one of"):
        read_care(path, "fr")
    path.write_text(json.dumps({**good, "intent": "rant"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"care_fr.jsonl:1: intent 'rant' is not one of"):
        read_care(path, "fr")
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"care_fr.jsonl:1: not a JSON line"):
        read_care(path, "fr")


def test_intent_weights_count_care_lines_as_the_projects_own() -> None:
    rows = [
        Row("a", "spam", "seed-fr"),
        Row("b", "spam", "care-fr"),
        Row("c", "spam", "care-nl"),
        Row("d", "question", "seed-en"),
        Row("e", "question", "clinc150"),
    ]
    cfg = TrainConfig(fr_boost=2.0, care_weight=3.0, seed_share=0.6)
    w = sample_weights(rows, cfg)
    assert w.mean() == pytest.approx(1.0)
    # spam: only own rows; French seed 2, French care 2 x 3, Dutch care 3
    assert w[1] / w[0] == pytest.approx(3.0)
    assert w[2] / w[0] == pytest.approx(1.5)
    # question: the seed row holds 60 % of the label, the dataset row 40 %
    assert w[3] / w[4] == pytest.approx(1.5)
    assert np.isclose(w[:3].sum(), w[3:].sum())


# --- the shipped models on the held-out care lines ------------------------------------------


def _held_out(lang: str) -> list[CareRow]:
    return [r for r in load_care(CARE_DIR, seed=0)[1] if r.language == lang]


def test_shipped_sentiment_holds_its_care_figures() -> None:
    from clameur.analysis.sentiment import Row as SentimentRow
    from clameur.analysis.sentiment import SentimentModel, evaluate

    model = SentimentModel.load()
    # floors: the shipped figures (docs/models.md, Sentiment) minus about 0.03
    for lang, floor in {"fr": 0.79, "en": 0.74, "nl": 0.74}.items():
        rows = [SentimentRow(r.text, r.sentiment) for r in _held_out(lang)]
        assert evaluate(model, rows)["macro_f1"] >= floor, lang
    french = [r.text for r in _held_out("fr")]
    assert model.detect_languages(french).count("fr-care") / len(french) > 0.95


def test_shipped_intent_holds_its_care_figures() -> None:
    from clameur.analysis.intent import IntentModel, evaluate

    model = IntentModel.load()
    for lang, floor in {"fr": 0.81, "en": 0.69, "nl": 0.66}.items():
        rows = [Row(r.text, r.intent) for r in _held_out(lang)]
        assert evaluate(model, rows)["macro_f1"] >= floor, lang


@needs_sentiment_data
def test_small_care_heads_training_is_deterministic() -> None:
    from clameur.analysis.features import FeatureConfig
    from clameur.analysis.sentiment_train import train_sentiment

    kwargs = {
        "languages": ("fr", "en"),
        "max_rows_per_language": 300,
        "word_vectors": False,
        "config": FeatureConfig(bits=14),
        "calibrate": False,
        "care_dir": CARE_DIR,
        "care_weight": 2.0,
        "care_heads": True,
    }
    first = train_sentiment(SHARED_DATA, **kwargs)  # type: ignore[arg-type]
    second = train_sentiment(SHARED_DATA, **kwargs)  # type: ignore[arg-type]
    assert first.languages == ("fr", "fr-care", "en", "en-care")
    held = [r.text for r in _held_out("fr")]
    assert first.predict(held) == second.predict(held)
    routed = first.detect_languages(held)
    assert routed.count("fr-care") / len(held) > 0.8
    assert first.metadata["n_train_care"]["fr"] == len(
        [r for r in load_care(CARE_DIR, seed=0)[0] if r.language == "fr"]
    )
    plain = train_sentiment(SHARED_DATA, **{**kwargs, "care_heads": False})  # type: ignore[arg-type]
    assert plain.languages == ("fr", "en")


def test_adding_lines_moves_no_held_out_line_of_another_group() -> None:
    rows = _all()
    _, val = split_care(rows, seed=0)
    extra = [CareRow(f"ligne ajoutée {n}", "positive", "praise", "fr") for n in range(7)]
    _, grown = split_care(rows + extra, seed=0)
    group = ("fr", "positive", "praise")
    assert [r for r in grown if (r.language, r.sentiment, r.intent) != group] == [
        r for r in val if (r.language, r.sentiment, r.intent) != group
    ]
    # within the grown group, at most the added lines' share changes hands
    before = {r.text for r in val if (r.language, r.sentiment, r.intent) == group}
    after = {r.text for r in grown if (r.language, r.sentiment, r.intent) == group}
    assert len(before - after) <= len(extra)
