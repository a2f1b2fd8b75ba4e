"""The analysis interface and the ``analyse`` pipeline step.

The models (language, sentiment, intent, toxicity, actionability, influence, priority) come
with the analysis issue; until then :class:`PlaceholderAnalyzer` keeps the language hint of
the record and leaves every other field empty, honestly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from clameur.mentions.draft import Draft, StepContext


@dataclass(frozen=True, slots=True)
class AnalysisInput:
    """What an analyzer may look at: the text and the context a human would see."""

    text: str
    source: str
    created_at: datetime
    lang_hint: str | None = None
    rating: int | None = None
    author_followers: int | None = None
    author_verified: bool = False
    author_created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    lang: str | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    intent: str | None = None
    toxicity: float | None = None
    actionability: str | None = None
    influence: float | None = None
    priority: float | None = None
    priority_level: str | None = None
    priority_reasons: tuple[str, ...] = field(default_factory=tuple)


class Analyzer(Protocol):
    """Analyses a batch at once (models vectorise a whole batch: do not loop per item)."""

    def analyse(self, items: Sequence[AnalysisInput]) -> list[Analysis]: ...


class PlaceholderAnalyzer:
    """Keeps the record's language hint; the models of the analysis issue replace it."""

    def analyse(self, items: Sequence[AnalysisInput]) -> list[Analysis]:
        return [Analysis(lang=item.lang_hint) for item in items]


def analyse(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Pipeline step: analyse every draft of the batch in one call."""
    inputs = [
        AnalysisInput(
            text=d.mention.text,
            source=d.mention.source,
            created_at=d.mention.created_at,
            lang_hint=d.mention.lang,
            rating=d.mention.rating,
            author_followers=d.mention.author.followers,
            author_verified=d.mention.author.verified,
            author_created_at=d.mention.author.created_at,
        )
        for d in drafts
    ]
    results = ctx.analyzer.analyse(inputs) if inputs else []
    if len(results) != len(drafts):
        raise RuntimeError(f"analyzer returned {len(results)} results for {len(drafts)} inputs")
    for draft, result in zip(drafts, results, strict=True):
        draft.analysis = result
    return drafts
