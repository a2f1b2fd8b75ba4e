"""The one path every mention takes, as a chain of plain steps over a batch.

normalise → dedupe → analyse → match brands → authors → prioritise → detect → care → store

``normalise`` turns raw records into drafts (bad records are reported, not raised); each
following step takes and returns a list of drafts. Author resolution sits between matching
and detection because authors are per tenant and conversations need them; ``prioritise``
follows it because influence is a percentile within the tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from clameur.analysis import analyse
from clameur.analysis.prioritise import prioritise
from clameur.care import assign_conversations
from clameur.detection import detect
from clameur.listening import match_brands
from clameur.mentions import Draft, LineError, RecordError, StepContext, normalise
from clameur.mentions.service import dedupe, resolve_authors, store

log = logging.getLogger(__name__)

Step = Callable[[StepContext, list[Draft]], list[Draft]]

STEPS: tuple[tuple[str, Step], ...] = (
    ("dedupe", dedupe),
    ("analyse", analyse),
    ("match", match_brands),
    ("authors", resolve_authors),
    ("prioritise", prioritise),
    ("detect", detect),
    ("care", assign_conversations),
    ("store", store),
)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record as read (or received), with its position for error reports."""

    line: int
    data: dict[str, Any] | LineError


def normalise_batch(ctx: StepContext, records: Iterable[RawRecord]) -> list[Draft]:
    drafts: list[Draft] = []
    for record in records:
        if isinstance(record.data, LineError):
            ctx.report.reject(record.line, record.data.reason)
            continue
        try:
            drafts.append(Draft(line=record.line, mention=normalise(record.data)))
        except RecordError as exc:
            ctx.report.reject(record.line, str(exc))
    return drafts


def process_batch(
    ctx: StepContext,
    records: Sequence[RawRecord],
    steps: Sequence[tuple[str, Step]] = STEPS,
) -> list[Draft]:
    """Run one batch through every step; flushes, never commits."""
    drafts = normalise_batch(ctx, records)
    for _name, step in steps:
        if not drafts:
            break
        drafts = step(ctx, drafts)
    return drafts
