"""The dashboard's figures and the analysis's "uncertain" label (#17): uncertain mentions
have their own count per day, apart from "not analysed", and the negative share counts
them as not negative (in the total, never in the negatives)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.mentions.models import Mention
from clameur.reports.dashboard import SENTIMENTS, Dashboard, dashboard
from tests.care.test_inbox import AT, Seed
from tests.conftest import Database, make_tenant

NOW = AT + timedelta(hours=2)
PARIS = ZoneInfo("Europe/Paris")


def figures_of(db: Database, field: str, labels: Sequence[str | None]) -> Dashboard:
    """The dashboard of a tenant whose one conversation's mentions carry ``labels`` as
    their ``field`` (sentiment or intent), in mention order."""
    tenant = make_tenant(db, FrozenClock(NOW), "acme", {"volta": ["volta"]})
    with session_scope(db.factory) as session:
        conversation = Seed(session, tenant.id).conversation(mentions=len(labels))
        mentions = session.scalars(
            select(Mention).where(Mention.conversation_id == conversation.id).order_by(Mention.id)
        ).all()
        for mention, label in zip(mentions, labels, strict=True):
            setattr(mention, field, label)
        session.flush()
        return dashboard(session, tenant.id, NOW, PARIS)


def test_uncertain_is_counted_apart_and_as_not_negative(db: Database) -> None:
    labels = ["negative", "negative", "uncertain", "uncertain", "uncertain", "neutral", None]
    figures = figures_of(db, "sentiment", labels)
    assert "uncertain" in SENTIMENTS
    today = figures.days[-1]
    assert today.counts == {
        "negative": 2,
        "neutral": 1,
        "positive": 0,
        "uncertain": 3,
        None: 1,
    }, "uncertain is not folded into 'not analysed'"
    assert today.total == len(labels)
    assert figures.last_24h == len(labels)
    assert figures.negative_24h == 2, "an uncertain mention is not a negative one"
    assert figures.negative_share_24h == 2 / 7


def test_a_day_of_only_uncertain_mentions_has_no_negative_share_to_speak_of(
    db: Database,
) -> None:
    figures = figures_of(db, "sentiment", ["uncertain"] * 4)
    assert figures.negative_share_24h == 0.0
    assert figures.days[-1].counts["uncertain"] == 4


def test_what_customers_want_never_lists_uncertain(db: Database) -> None:
    intents = ["uncertain", "uncertain", "uncertain", "complaint", "question", "complaint"]
    figures = figures_of(db, "intent", intents)
    assert figures.intents == [("complaint", 2), ("question", 1)], "uncertain is not a want"
