"""Language, actionability, influence and priority: the rules and models besides the classifiers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clameur.analysis import actionability as act
from clameur.analysis.influence import author_score, humanise, percentile, reach
from clameur.analysis.language import LanguageDetector, parse_languages
from clameur.analysis.priority import PriorityInput, prioritise
from clameur.errors import InvalidInputError

DATA = Path(__file__).parent.parent / "data"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


# --- language ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def test_language_of_ordinary_sentences(detector: LanguageDetector) -> None:
    texts = [
        "Bonjour, ma commande n'est toujours pas arrivée, pouvez-vous m'aider ?",
        "Hello, my order still hasn't arrived, can you help me please?",
        "Hallo, meine Bestellung ist immer noch nicht angekommen, können Sie helfen?",
        "Hola, mi pedido todavía no ha llegado, ¿me pueden ayudar?",
        "Ciao, il mio ordine non è ancora arrivato, potete aiutarmi?",
        "Hallo, mijn bestelling is nog steeds niet aangekomen, kunnen jullie helpen?",
        "Olá, a minha encomenda ainda não chegou, podem ajudar-me?",
        "مرحبا، طلبي لم يصل بعد، هل يمكنكم مساعدتي؟",
    ]
    assert detector.detect(texts) == ["fr", "en", "de", "es", "it", "nl", "pt", "ar"]


def test_short_texts_keep_the_hint_or_stay_unknown(detector: LanguageDetector) -> None:
    got = detector.detect(
        ["ok", "👍👍", "ok", "", "https://x.example/a @brand"], ["en", None, None, "fr", None]
    )
    assert got[0] == "en"  # the network said so; two letters say nothing
    assert got[1] is None  # emoji only, no hint: not guessed
    assert got[2] is None
    assert got[3] == "fr"
    assert got[4] is None  # a link and a handle are not language


def test_script_fallback_and_restricted_languages() -> None:
    arabic_only = LanguageDetector(["fr", "ar"])
    assert arabic_only.detect(["شكرا"]) == ["ar"]  # 4 letters, Arabic script
    french_english = LanguageDetector(["fr", "en"])
    # Spanish is not configured: the answer is one of the configured languages.
    assert french_english.detect(["Hola, mi pedido todavía no ha llegado"])[0] in {"fr", "en"}


def test_language_codes_are_checked() -> None:
    assert parse_languages("fr, EN,fr") == ("fr", "en")
    with pytest.raises(InvalidInputError, match="xx"):
        parse_languages("fr,xx")
    with pytest.raises(InvalidInputError):
        parse_languages(" , ")


# --- actionability ----------------------------------------------------------------------


def _rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / "actionability.jsonl").read_text().splitlines()]


def test_actionability_on_the_written_set() -> None:
    rows = _rows()
    right = 0
    for row in rows:
        anonymous = bool(row.get("anonymous"))
        item = act.ActionabilityInput(
            text=str(row["text"]),
            toxicity=float(row.get("toxicity", 0.05)),  # type: ignore[arg-type]
            author_handle="user84512931" if anonymous else "claire_m",
            author_name=None if anonymous else "Claire M.",
            author_followers=2 if anonymous else 340,
        )
        right += act.classify_one(item).label == row["label"]
    assert right / len(rows) >= 0.9, f"{right}/{len(rows)}"


def test_hearsay_cancels_first_person() -> None:
    fact = act.classify_one(act.ActionabilityInput("Ma box est en panne depuis lundi"))
    rumour = act.classify_one(
        act.ActionabilityInput("Mon voisin m'a dit que ma box allait tomber en panne")
    )
    assert fact.label == "actionable"
    assert fact.first_person
    assert rumour.label == "opinion"
    assert rumour.hearsay


def test_toxic_threshold_is_lower_for_anonymous_accounts() -> None:
    text = "vous êtes des incapables"
    named = act.ActionabilityInput(
        text, toxicity=0.5, author_handle="jeanne", author_name="Jeanne", author_followers=800
    )
    anon = act.ActionabilityInput(
        text,
        toxicity=0.5,
        author_handle="x9912873",
        author_followers=0,
        author_created_at=NOW - timedelta(days=2),
        created_at=NOW,
    )
    assert act.classify_one(named).label == "opinion"
    assert act.classify_one(anon).label == "attack"
    assert act.is_anonymous(anon)


def test_hostile_text_does_not_break_the_rules() -> None:
    for text in ["", "😡" * 50, "x" * 100_000, "\ud800 ma commande", "ما\u202eطلبي 123"]:
        assert act.classify_one(act.ActionabilityInput(text)).label in act.LABELS


# --- influence --------------------------------------------------------------------------


def test_author_score_orders_audiences() -> None:
    small = author_score(120, False, None, NOW)
    big = author_score(452_000, False, None, NOW)
    verified = author_score(452_000, True, None, NOW)
    fresh = author_score(452_000, False, NOW - timedelta(days=3), NOW)
    assert 0 < small < big < verified
    assert fresh < big
    assert author_score(None, False, None, NOW) == 0.0


def test_percentile_within_a_histogram() -> None:
    counts = {0: 50, 20: 40, 50: 9, 57: 1}  # bins of 0.1
    assert percentile(counts, 5.7) == pytest.approx(99.5)
    assert percentile(counts, 0.0) == pytest.approx(25.0)
    assert percentile({}, 3.0) == 50.0


def test_reach_grows_with_followers_and_engagement() -> None:
    assert reach("twitter", 100_000, {}) == 10_000
    assert reach("twitter", 100_000, {"shares": 10}) > reach("twitter", 100_000, {})
    assert reach("email", None, None) == 1
    assert reach("twitter", 5, {"likes": -3}) >= 0


def test_humanise() -> None:
    assert [humanise(n) for n in (950, 1_250, 452_300, 1_250_000, 2_000_000)] == [
        "950",
        "1.2k",
        "452k",
        "1.2M",
        "2M",
    ]


# --- priority ---------------------------------------------------------------------------


def _item(**kw: object) -> PriorityInput:
    base: dict[str, object] = {
        "intent": "other",
        "sentiment": "neutral",
        "sentiment_score": 0.6,
        "toxicity": 0.0,
        "actionability": "opinion",
        "influence": 50.0,
        "followers": 200,
        "verified": False,
        "reach": 20,
        "created_at": NOW - timedelta(minutes=5),
        "analysed_at": NOW,
    }
    base.update(kw)
    return PriorityInput(**base)  # type: ignore[arg-type]


def test_influencer_churn_threat_is_p1_with_reasons() -> None:
    score, level, reasons = prioritise(
        _item(
            intent="churn_threat",
            sentiment="negative",
            sentiment_score=0.9,
            influence=99.6,
            followers=452_000,
            reach=45_200,
        )
    )
    assert level == "P1"
    assert score >= 75
    assert reasons[:3] == ("influencer 452k followers", "churn threat", "negative")


def test_a_small_tenants_top_author_is_not_called_an_influencer() -> None:
    _, _, reasons = prioritise(_item(intent="complaint", influence=96.0, followers=1_300))
    assert reasons[0] == "top 4% audience (1.3k followers)"
    _, _, anonymous = prioritise(_item(intent="complaint", influence=99.5, followers=None))
    assert anonymous[0] == "top 1% audience"


def test_ordinary_praise_is_p4_and_spam_lowest() -> None:
    _, praise_level, _ = prioritise(
        _item(intent="praise", sentiment="positive", sentiment_score=0.9)
    )
    spam_score, spam_level, reasons = prioritise(_item(intent="spam"))
    assert praise_level == "P4"
    assert spam_level == "P4"
    assert "spam" in reasons
    assert spam_score < prioritise(_item())[0]


def test_first_hand_complaint_outranks_gossip_and_old_posts_sink() -> None:
    fact = prioritise(_item(intent="complaint", sentiment="negative", actionability="actionable"))
    gossip = prioritise(_item(intent="complaint", sentiment="negative", actionability="opinion"))
    old = prioritise(
        _item(
            intent="complaint",
            sentiment="negative",
            actionability="actionable",
            created_at=NOW - timedelta(days=9),
        )
    )
    assert fact[0] > gossip[0]
    assert fact[0] > old[0]
    assert "old (9 days)" in old[2]
    assert "first-hand fact" in fact[2]
