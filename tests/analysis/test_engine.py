"""The analyzer of record on batches, hostile inputs, and what the pipeline stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from clameur.analysis.base import AnalysisInput
from clameur.analysis.engine import ModelAnalyzer, sanitise
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from tests.conftest import Database, make_tenant
from tests.factories import record

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def analyzer() -> ModelAnalyzer:
    return ModelAnalyzer.default()


def _input(text: str, **kw: object) -> AnalysisInput:
    return AnalysisInput(text=text, source="twitter", created_at=NOW, **kw)  # type: ignore[arg-type]


def test_sanitise_replaces_only_what_utf8_cannot_hold() -> None:
    assert sanitise("ok é 😡") == "ok é 😡"
    assert sanitise("a\ud800b\x00c") == "a\ufffdb\ufffdc"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😡😡😡",
        "x" * 100_000,
        "ما\u202eطلبي ma commande заказ 注文",
        "\ud800\udfff lone",
        "\x00",
    ],
    ids=["empty", "blank", "emoji", "100kB", "mixed-scripts", "surrogates", "nul"],
)
def test_hostile_inputs_get_a_complete_analysis(analyzer: ModelAnalyzer, text: str) -> None:
    (result,) = analyzer.analyse([_input(text)])
    assert result.sentiment in {"negative", "neutral", "positive", "uncertain"}
    assert result.intent is not None
    assert result.actionability is not None
    assert result.toxicity is not None
    assert 0.0 <= result.toxicity <= 1.0
    assert result.sentiment_score is not None
    assert 0.0 <= result.sentiment_score <= 1.0


def test_a_batch_is_analysed_as_its_items_alone(analyzer: ModelAnalyzer) -> None:
    texts = [
        "Ma commande 48213 n'est toujours pas arrivée, c'est honteux",
        "Merci pour votre aide rapide, super service !",
        "Comment je peux changer mon forfait ?",
        "Hello, my parcel never arrived and I'm furious",
    ]
    batch = analyzer.analyse([_input(t) for t in texts])
    alone = [analyzer.analyse([_input(t)])[0] for t in texts]
    assert batch == alone
    assert [r.lang for r in batch] == ["fr", "fr", "fr", "en"]
    assert batch[0].sentiment == "negative"
    assert batch[1].sentiment == "positive"
    assert batch[0].actionability == "actionable"
    assert batch[1].intent == "praise"


def test_every_stored_mention_carries_its_analysis(
    db: Database, clock: FrozenClock, pipeline: Pipeline
) -> None:
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    pipeline.ingest(
        [
            record(
                "1",
                "@acme ma box est encore en panne depuis hier, service nul, honteux, "
                "je vais résilier",
                author={"handle": "star", "followers": 452_000, "verified": True},
            ),
            record("2", "acme merci, super équipe", author={"handle": "fan"}),
            record("3", "👍", author={"handle": "emoji"}),
        ],
        tenant.id,
    )
    with session_scope(db.factory) as s:
        rows = {m.external_id: m for m in s.scalars(select(Mention))}
    assert len(rows) == 3
    for m in rows.values():
        filled = (
            m.sentiment,
            m.sentiment_score,
            m.intent,
            m.intent_score,
            m.toxicity,
            m.actionability,
            m.influence,
            m.priority,
            m.reach,
        )
        assert None not in filled, m.external_id
        assert m.priority_level in {"P1", "P2", "P3", "P4"}
    star = rows["1"]
    assert star.lang == "fr"
    assert star.sentiment == "negative"
    assert star.priority_level in {"P1", "P2"}
    assert "churn threat" in star.priority_reasons
    assert star.priority is not None
    assert rows["2"].priority is not None
    assert star.priority > rows["2"].priority
