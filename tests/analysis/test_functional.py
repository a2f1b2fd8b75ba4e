"""Functional suites (#17): data hygiene, the frozen test parts, the scorer, regression floors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from clameur.analysis.base import Analysis, AnalysisInput
from clameur.analysis.engine import ModelAnalyzer
from clameur.analysis.functional import (
    LABELS,
    Case,
    default_dir,
    read_cases,
    run,
    score,
    suite_files,
)
from clameur.errors import InvalidInputError
from tests.factories import write_jsonl

SUITES_DIR = Path(__file__).resolve().parents[1] / "data" / "functional"

# The test parts are frozen (tests/data/functional/README.md): an edit must be deliberate.
FROZEN_SHA256 = {
    "intent_en_test.jsonl": "599d8280f4256b702cbde54a2260eed402fad6468408d2f55171371d531e954b",
    "intent_fr_test.jsonl": "8c34c7f312651744472f0769fa81db66003b903032068a21d13741d18c69b531",
    "nl_test.jsonl": "3ac0858f31c1b16d5f6144a78d89090fdd0816d6af4ab88a40c89d1afb4498ac",
    "sentiment_en_test.jsonl": "24826d7672c96fec7e53a026e1ea9c78caa9468df5d68f0b1355f14fb6778e4e",
    "sentiment_fr_test.jsonl": "5a75e69ada3147d933297f3e2a629407175b10515c948a53893fbc873a20a153",
    "toxicity_en_test.jsonl": "6a43c25b51cc8efc9e6fa156ba3d751883bfa3805e0cf3fcfc277f49b077653a",
    "toxicity_fr_test.jsonl": "227d65feaa3c008deaa58cacbcdf8d574a56a56b5dee58caa6fbe065b4ff6da7",
}
UNSEEN_TEST_SHA256 = "1f7ced198de724270c2048f43698197a7357984c786ee902070102c52c18017f"

# Shipped models on the test parts (2026-12-04, after the customer-care retrain,
# docs/models.md "Functional tests") minus 0.03: a model that does worse than today's fails.
# Raise these when a better model ships.
FLOORS = {
    "sentiment_fr": 0.70,  # 0.731
    "sentiment_en": 0.71,  # 0.748
    "sentiment_nl": 0.77,  # 0.803
    "intent_fr": 0.87,  # 0.903
    "intent_en": 0.81,  # 0.841
    "intent_nl": 0.67,  # 0.700
    "toxicity_fr": 0.85,  # 0.887 (2026-12-06, identity retrain; was 0.808)
    "toxicity_en": 0.79,  # 0.825 (was 0.714)
}

# Minimum cases per capability, dev + test together (brief of #17).
MINIMUM = {
    ("sentiment", "fr"): 12,
    ("sentiment", "en"): 6,
    ("intent", "fr"): 10,
    ("intent", "en"): 5,
    ("toxicity", "fr"): 10,
    ("toxicity", "en"): 5,
}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]


# --- the data ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FROZEN_SHA256))
def test_frozen_test_parts_are_unchanged(name: str) -> None:
    digest = hashlib.sha256((SUITES_DIR / name).read_bytes()).hexdigest()
    assert digest == FROZEN_SHA256[name], f"{name} is frozen: do not edit it (README.md)"


def test_unseen_languages_test_lines_are_unchanged() -> None:
    raw = (SUITES_DIR / "unseen_languages.jsonl").read_bytes().splitlines()
    test_lines = [line for line in raw if json.loads(line)["split"] == "test"]
    assert hashlib.sha256(b"\n".join(test_lines)).hexdigest() == UNSEEN_TEST_SHA256


def test_every_suite_file_reads_and_says_its_split_and_language() -> None:
    for split in ("dev", "test"):
        files = suite_files(SUITES_DIR, split)
        assert {(s, lang) for s, lang, _ in files} == {
            *MINIMUM,
            ("sentiment", "nl"),
            ("intent", "nl"),
        }
        for suite, lang, path in files:
            field = "intent" if (lang == "nl" and suite == "intent") else "label"
            cases = read_cases(path, LABELS[suite], field)
            assert cases, path
            assert {c.split for c in cases} == {split}, path
            assert {c.lang for c in cases} == {lang}, path


def test_dev_and_test_parts_share_no_text_and_no_file_repeats_one() -> None:
    seen: dict[str, str] = {}
    for path in sorted(SUITES_DIR.glob("*.jsonl")):
        for number, obj in enumerate(_lines(path), start=1):
            key = " ".join(obj["text"].lower().split())
            assert key not in seen, f"{path.name}:{number} repeats {seen[key]}"
            seen[key] = f"{path.name}:{number}"


@pytest.mark.parametrize(("suite", "lang"), sorted(MINIMUM))
def test_each_capability_has_enough_cases_and_test_is_the_larger_part(
    suite: str, lang: str
) -> None:
    dev = Counter(o["capability"] for o in _lines(SUITES_DIR / f"{suite}_{lang}_dev.jsonl"))
    test = Counter(o["capability"] for o in _lines(SUITES_DIR / f"{suite}_{lang}_test.jsonl"))
    assert set(dev) == set(test)
    for capability in test:
        assert dev[capability] + test[capability] >= MINIMUM[(suite, lang)], capability
        assert test[capability] > dev[capability], capability
    assert len(test) >= (15 if suite == "sentiment" else 9)


def test_dutch_and_unseen_sets_are_big_enough() -> None:
    dutch = _lines(SUITES_DIR / "nl_test.jsonl") + _lines(SUITES_DIR / "nl_dev.jsonl")
    assert len(dutch) >= 200
    assert sum("intent" in row for row in dutch) >= 190
    unseen = _lines(SUITES_DIR / "unseen_languages.jsonl")
    assert len(unseen) >= 30
    assert not {row["lang"] for row in unseen} & {"fr", "en", "de", "es", "it", "nl", "pt", "ar"}


def test_the_cases_quoted_in_the_issue_are_in_the_dev_parts() -> None:
    dev = {o["text"]: o["label"] for o in _lines(SUITES_DIR / "sentiment_fr_dev.jsonl")}
    assert dev["Génial, encore une coupure ce soir, merci pour ce service de qualité 🙄"] == (
        "negative"
    )
    assert dev["pas mal du tout, la nouvelle appli"] == "positive"
    assert dev["Vous êtes vraiment les rois des nuls"] == "negative"
    intents = {o["text"]: o["label"] for o in _lines(SUITES_DIR / "intent_fr_dev.jsonl")}
    assert intents["Vous êtes une bande d'escrocs, allez vous faire voir"] == "complaint"


# --- the scorer ----------------------------------------------------------------------------


class ScriptedAnalyzer:
    """Answers from a table (text → analysis); counts its calls."""

    def __init__(self, answers: dict[str, Analysis]) -> None:
        self.answers = answers
        self.calls = 0

    def analyse(self, items: Sequence[AnalysisInput]) -> list[Analysis]:
        self.calls += 1
        return [self.answers[item.text] for item in items]


def _case(text: str, label: str, capability: str) -> dict[str, str]:
    return {"text": text, "label": label, "capability": capability, "lang": "fr", "split": "dev"}


def test_scorer_counts_per_capability_and_macro_f1_on_a_small_file(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "sentiment_fr_dev.jsonl",
        [
            _case("a", "positive", "negation"),
            _case("b", "negative", "negation"),
            _case("c", "negative", "sarcasm_marked"),
            _case("d", "neutral", "question"),
        ],
    )
    write_jsonl(
        tmp_path / "toxicity_fr_dev.jsonl",
        [_case("e", "toxic", "threat"), _case("f", "normal", "quoting_denounce")],
    )
    fake = ScriptedAnalyzer(
        {
            "a": Analysis(sentiment="positive", lang="fr"),
            "b": Analysis(sentiment="positive", lang="fr"),
            "c": Analysis(sentiment="negative", lang="fr"),
            "d": Analysis(sentiment="neutral", lang="en"),
            "e": Analysis(toxicity=0.5),
            "f": Analysis(toxicity=0.49),
        }
    )
    out = run(tmp_path, split="dev", analyzer=fake)
    assert fake.calls == 1
    senti = out["suites"]["sentiment_fr"]
    assert senti["n"] == 4
    assert senti["accuracy"] == pytest.approx(0.75)
    # negative: P 1/1 R 1/2 → 2/3; neutral 1; positive: P 1/2 R 1 → 2/3
    assert senti["macro_f1"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert senti["per_capability"] == {
        "negation": {"accuracy": 0.5, "n": 2},
        "sarcasm_marked": {"accuracy": 1.0, "n": 1},
        "question": {"accuracy": 1.0, "n": 1},
    }
    assert senti["languages_detected"] == {"fr": 3, "en": 1}
    assert [e["text"] for e in senti["errors"]] == ["b"]
    assert senti["errors"][0]["where"].endswith("sentiment_fr_dev.jsonl:2")
    toxic = out["suites"]["toxicity_fr"]
    assert toxic["accuracy"] == 1.0
    assert toxic["macro_f1"] == 1.0
    assert set(out["suites"]) == {"sentiment_fr", "toxicity_fr"}
    only = run(tmp_path, suites=("toxicity",), split="dev", analyzer=fake)
    assert set(only["suites"]) == {"toxicity_fr"}


def test_scorer_reads_dutch_intent_only_where_given_and_reports_unseen_languages(
    tmp_path: Path,
) -> None:
    write_jsonl(
        tmp_path / "nl_test.jsonl",
        [
            {**_case("x", "negative", "insult"), "intent": "complaint", "lang": "nl"},
            {**_case("y", "positive", "negation"), "lang": "nl"},
        ],
    )
    write_jsonl(
        tmp_path / "unseen_languages.jsonl",
        [
            {**_case("z", "negative", "unseen_language"), "lang": "pl", "split": "test"},
            {**_case("w", "negative", "unseen_language"), "lang": "sv", "split": "dev"},
        ],
    )
    fake = ScriptedAnalyzer(
        {
            "x": Analysis(sentiment="negative", intent="question", lang="nl"),
            "y": Analysis(sentiment="negative", intent="praise", lang="nl"),
            "z": Analysis(sentiment="neutral", sentiment_score=0.9, lang="es"),
        }
    )
    out = run(tmp_path, split="test", analyzer=fake)
    assert out["suites"]["sentiment_nl"]["n"] == 2
    assert out["suites"]["sentiment_nl"]["accuracy"] == 0.5
    assert out["suites"]["intent_nl"]["n"] == 1
    assert out["suites"]["intent_nl"]["accuracy"] == 0.0
    unseen = out["unseen"]
    assert unseen["n"] == 1  # the dev line is left out of the test part
    assert unseen["confident"] == 1
    assert unseen["uncertain"] == 0
    assert unseen["per_language"]["pl"]["detected"] == {"es": 1}


def test_score_rejects_predictions_of_another_length() -> None:
    case = Case(text="t", label="toxic", capability="threat", lang="fr", where="f:1")
    with pytest.raises(ValueError, match="1 cases but 2 predictions"):
        score([case], ["toxic", "normal"], LABELS["toxicity"])


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "not a JSON line"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"text": "x", "label": "negative", "lang": "fr"}', "'capability'"),
        (b'{"text": "", "label": "negative", "capability": "c", "lang": "fr"}', "'text'"),
        (b'{"text": "x", "label": "angry", "capability": "c", "lang": "fr"}', "label 'angry'"),
        (
            b'{"text": "x", "label": "neutral", "capability": "c", "lang": "fr", "split": "tr"}',
            "split 'tr'",
        ),
        (b"\xff\xfe", "not a JSON line"),
    ],
)
def test_a_malformed_line_is_named_by_file_and_line(
    tmp_path: Path, line: bytes, reason: str
) -> None:
    path = write_jsonl(
        tmp_path / "sentiment_fr_test.jsonl",
        [_case("bien", "positive", "thanks"), b"", line],
    )
    fake = ScriptedAnalyzer({})
    with pytest.raises(InvalidInputError) as info:
        run(tmp_path, split="test", analyzer=fake)
    assert info.value.where == f"{path}:3"
    assert reason in info.value.reason
    assert fake.calls == 0  # files are checked before any model runs


def test_bad_suite_split_or_folder_is_a_clear_error(tmp_path: Path) -> None:
    fake = ScriptedAnalyzer({})
    with pytest.raises(InvalidInputError, match="unknown suite 'emotion'"):
        run(SUITES_DIR, suites=("emotion",), analyzer=fake)
    with pytest.raises(InvalidInputError, match="unknown split 'train'"):
        run(SUITES_DIR, split="train", analyzer=fake)
    with pytest.raises(InvalidInputError, match="no test suite file"):
        run(tmp_path, analyzer=fake)
    with pytest.raises(InvalidInputError, match="not a folder"):
        run(tmp_path / "missing", analyzer=fake)
    assert default_dir() == SUITES_DIR


# --- the shipped models: regression floors -------------------------------------------------


@pytest.fixture(scope="module")
def shipped_test_report() -> dict[str, Any]:
    return run(SUITES_DIR, split="test", analyzer=ModelAnalyzer.load())


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_shipped_models_hold_their_functional_floor(
    shipped_test_report: dict[str, Any], name: str
) -> None:
    report = shipped_test_report["suites"][name]
    assert report["macro_f1"] >= FLOORS[name], (
        f"{name}: macro-F1 {report['macro_f1']:.3f} < floor {FLOORS[name]}"
    )


def test_shipped_language_detection_on_the_suites(shipped_test_report: dict[str, Any]) -> None:
    suites = shipped_test_report["suites"]
    for name, share in (("sentiment_fr", 0.88), ("sentiment_en", 0.9), ("sentiment_nl", 0.9)):
        detected = suites[name]["languages_detected"]
        lang = name.rsplit("_", 1)[1]
        assert detected.get(lang, 0) / suites[name]["n"] >= share, (name, detected)
    assert shipped_test_report["unseen"]["n"] == 30


def test_unseen_languages_are_uncertain_and_ordinary_lines_stay_labelled(
    shipped_test_report: dict[str, Any],
) -> None:
    # Measured (#17, calibration): 29 of 30 uncertain, 1 confident (before: 0 and 18).
    unseen = shipped_test_report["unseen"]
    assert unseen["uncertain"] >= 26, unseen["languages_detected"]
    assert unseen["confident"] <= 3
    for name in ("sentiment_fr", "sentiment_en", "sentiment_nl", "intent_fr", "intent_en"):
        report = shipped_test_report["suites"][name]
        uncertain = sum(1 for e in report["errors"] if e["predicted"] == "uncertain")
        assert uncertain / report["n"] <= 0.15, (name, uncertain)  # measured 0–11 %


# --- the command ---------------------------------------------------------------------------


def _clameur(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clameur", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_eval_functional_prints_the_json_contract(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "toxicity_fr_dev.jsonl",
        [
            _case("Espèce de connard, je vais te retrouver", "toxic", "threat"),
            _case("Cette imprimante de merde ne marche plus", "normal", "profanity_object"),
        ],
    )
    result = _clameur(
        "eval",
        "functional",
        "--suite",
        "toxicity",
        "--split",
        "dev",
        "--dir",
        str(tmp_path),
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    report = out["suites"]["toxicity_fr"]
    assert set(report) >= {"macro_f1", "accuracy", "n", "per_capability"}
    assert report["n"] == 2
    assert report["per_capability"]["threat"]["n"] == 1
    assert 0.0 <= report["macro_f1"] <= 1.0


def test_eval_functional_names_the_bad_line_and_fails(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "intent_fr_test.jsonl", [b'{"text": "x"}'])
    result = _clameur("eval", "functional", "--dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode != 0
    assert f"{path}:1" in result.stderr
    assert "Traceback" not in result.stderr
