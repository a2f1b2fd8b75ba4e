"""The influencer alert pages someone on one post: it fires on a complaint or a churn
threat only, read from the intent and the sentiment together with their confidence, and
never on praise — the demo once raised a critical alert on "…fixed my issue in 10
minutes. Impressed." (tagged complaint · positive)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from clameur.analysis.base import Analysis
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.detection.influencer import complains
from clameur.detection.models import Alert
from clameur.mentions.draft import Draft
from clameur.mentions.schemas import AuthorIn, MentionIn
from clameur.pipeline import Pipeline
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl

START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def _draft(
    sentiment: str | None,
    sentiment_score: float | None,
    intent: str | None,
    intent_score: float | None,
) -> Draft:
    mention = MentionIn("twitter", "1", "Volta", START, AuthorIn("star", followers=400_000))
    analysis = Analysis(
        sentiment=sentiment,
        sentiment_score=sentiment_score,
        intent=intent,
        intent_score=intent_score,
    )
    return Draft(line=1, mention=mention, tenant_id=1, analysis=analysis)


@pytest.mark.parametrize(
    ("sentiment", "sentiment_score", "intent", "intent_score", "expected"),
    [
        # the demo's case: a complaint intent on a positive post
        ("positive", 0.62, "complaint", 0.71, False),
        ("positive", 0.95, "churn_threat", 0.9, False),
        ("negative", 0.9, "praise", 0.6, False),  # praise never, whatever the tone
        ("neutral", 0.42, "complaint", 0.67, False),  # "refunded… Impressed": not sure
        ("negative", 0.43, "complaint", 0.49, False),  # neither label confident
        ("negative", 0.61, "other", 0.62, False),  # "No problem at all": not sure enough
        ("neutral", 0.7, "request", 0.8, False),  # a flat request is ordinary work
        ("negative", 0.55, "complaint", 0.6, True),
        ("neutral", 0.5, "complaint", 0.95, True),  # sure of the complaint
        ("neutral", 0.67, "churn_threat", 0.99, True),  # "je résilie", said flatly
        ("neutral", 0.6, "churn_threat", 0.6, False),  # a churn threat not sure, not negative
        ("negative", 0.5, "request", 0.7, True),
        ("negative", 0.9, "other", 0.4, True),  # sure it is negative
        ("positive", 0.45, "complaint", 0.9, True),  # "positive" below its confidence
        ("uncertain", None, "complaint", 0.95, True),
        (None, None, None, None, False),
    ],
)
def test_the_trigger_reads_intent_and_sentiment_with_their_confidence(
    sentiment: str | None,
    sentiment_score: float | None,
    intent: str | None,
    intent_score: float | None,
    expected: bool,
) -> None:
    draft = _draft(sentiment, sentiment_score, intent, intent_score)
    assert complains(draft) is expected


def test_no_analysis_no_alert() -> None:
    draft = _draft(None, None, None, None)
    draft.analysis = None
    assert not complains(draft)


PRAISE = [
    "Volta live chat fixed my issue in 10 minutes. Impressed.",
    "Volta refunded my overpayment within a week. Impressed.",
    "Volta support sorted my billing problem in no time, thanks!",
    "Le service client de Volta a réglé mon problème en 5 minutes, bravo.",
    "Merci Volta, panne réparée en une heure, au top.",
    "Had an issue with Volta yesterday but they fixed it fast. Great job.",
]
COMPLAINTS = [
    "Volta my internet has been down for 3 days and nobody answers. Disgraceful.",
    "Volta coupe ma fibre depuis lundi, personne ne répond, je résilie.",
    "Volta I'm switching to another provider, third outage this month.",
]


def test_an_influencers_praise_raises_nothing_their_complaint_does(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    """With the shipped models, end to end: the demo's praise post and its neighbours by a
    400k-follower author raise no alert; their complaints each raise one."""
    make_tenant(db, clock, "acme", {"volta": ["volta"]})
    star = {"handle": "star", "followers": 400_000, "verified": True}
    lines = [
        record(f"p{n}", text, author=star, created_at=(START + timedelta(minutes=n)).isoformat())
        for n, text in enumerate(PRAISE)
    ]
    lines += [
        record(
            f"c{n}",
            text,
            author=star,
            created_at=(START + timedelta(hours=1, minutes=n)).isoformat(),
        )
        for n, text in enumerate(COMPLAINTS)
    ]
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=100), clock=clock)
    pipeline.import_file(write_jsonl(tmp_path / "star.jsonl", lines), tenant="acme")
    with db.session() as session:
        keys = sorted(session.scalars(select(Alert.key).where(Alert.kind == "influencer")))
    assert keys == sorted(f"influencer:twitter:c{n}" for n in range(len(COMPLAINTS)))
