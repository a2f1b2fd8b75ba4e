"""The analysis interface and the ``analyse`` pipeline step.

The analyzer of record is :class:`clameur.analysis.engine.ModelAnalyzer` (language,
sentiment, intent, toxicity, actionability, author influence score and reach, all per
mention). Influence percentile and priority need the tenant, so they are filled later by
the ``prioritise`` step (:mod:`clameur.analysis.prioritise`). :class:`PlaceholderAnalyzer`
keeps only the language hint: for tests of other steps that do not need models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    author_handle: str | None = None
    author_name: str | None = None
    metrics: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    lang: str | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    intent: str | None = None
    intent_score: float | None = None
    toxicity: float | None = None
    toxicity_labels: tuple[str, ...] = field(default_factory=tuple)
    actionability: str | None = None
    author_score: float | None = None
    """The author's influence score (see :mod:`clameur.analysis.influence`)."""
    reach: int | None = None
    influence: float | None = None
    """The author's influence percentile within the tenant (set by ``prioritise``)."""
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
            author_handle=d.mention.author.handle,
            author_name=d.mention.author.name,
            metrics=d.mention.metrics,
        )
        for d in drafts
    ]
    results = ctx.analyzer.analyse(inputs) if inputs else []
    if len(results) != len(drafts):
        raise RuntimeError(f"analyzer returned {len(results)} results for {len(drafts)} inputs")
    for draft, result in zip(drafts, results, strict=True):
        draft.analysis = result
    return drafts
