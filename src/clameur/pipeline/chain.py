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
    """Raw records to drafts, each line judged alone: whatever goes wrong while checking,
    normalising or hashing one line rejects that line with a reason, never the batch."""
    drafts: list[Draft] = []
    for record in records:
        if isinstance(record.data, LineError):
            ctx.report.reject(record.line, record.data.reason)
            continue
        try:
            mention = normalise(record.data)
            content_hash = mention.content_hash()
        except RecordError as exc:
            ctx.report.reject(record.line, str(exc))
            continue
        except Exception as exc:  # one line's failure must not stop the others
            log.warning("line rejected on an unexpected error", exc_info=True)
            ctx.report.reject(record.line, f"cannot process the line: {_describe(exc)}")
            continue
        drafts.append(Draft(line=record.line, mention=mention, content_hash=content_hash))
    return drafts


def _describe(exc: BaseException) -> str:
    message = str(exc)[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


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
