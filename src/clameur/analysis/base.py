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
    from clameur.mentions.schemas import MentionIn


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


def input_of(mention: MentionIn) -> AnalysisInput:
    """What the analyzer is given of a mention (the one place this mapping is written)."""
    return AnalysisInput(
        text=mention.text,
        source=mention.source,
        created_at=mention.created_at,
        lang_hint=mention.lang,
        rating=mention.rating,
        author_followers=mention.author.followers,
        author_verified=mention.author.verified,
        author_created_at=mention.author.created_at,
        author_handle=mention.author.handle,
        author_name=mention.author.name,
        metrics=mention.metrics,
    )


def analyse(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Pipeline step: analyse every draft of the batch in one call.

    A draft whose analysis was computed ahead of time (``ctx.prefetched``: by line, with
    the content hash it was computed for — see :mod:`clameur.pipeline.prefetch`) takes it
    instead; an analysis is a function of the mention alone, so this changes no result.
    """
    todo = drafts
    if ctx.prefetched:
        todo = []
        for draft in drafts:
            ready = ctx.prefetched.get(draft.line)
            if ready is not None and ready[0] == draft.content_hash:
                draft.analysis = ready[1]
            else:
                todo.append(draft)
    inputs = [input_of(d.mention) for d in todo]
    results = ctx.analyzer.analyse(inputs) if inputs else []
    if len(results) != len(todo):
        raise RuntimeError(f"analyzer returned {len(results)} results for {len(todo)} inputs")
    for draft, result in zip(todo, results, strict=True):
        draft.analysis = result
    return drafts
