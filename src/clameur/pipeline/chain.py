"""The one path every mention takes, as a chain of plain steps over a batch.

normalise → dedupe → analyse → match brands → lock → authors → prioritise → detect → care → store

``normalise`` turns raw records into drafts (bad records are reported, not raised); each
following step takes and returns a list of drafts. Author resolution sits between matching
and detection because authors are per tenant and conversations need them; ``prioritise``
follows it because influence is a percentile within the tenant.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text, update

from clameur.analysis import analyse
from clameur.analysis.prioritise import prioritise
from clameur.care import assign_conversations
from clameur.core.metrics import STEP_SECONDS
from clameur.detection import detect
from clameur.listening import match_brands
from clameur.mentions import Draft, LineError, RecordError, StepContext, normalise
from clameur.mentions.service import dedupe, resolve_authors, store
from clameur.tenancy import Tenant

log = logging.getLogger(__name__)

Step = Callable[[StepContext, list[Draft]], list[Draft]]

_LOCK_SPACE: Final = 0x436C616D << 32
"""High half of the PostgreSQL advisory-lock keys of tenants (``Clam``): key = this + id."""


def lock_tenants(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Take the batch's tenants for the writing half of the chain, in id order.

    Until here a batch only reads (dedupe, analysis, matching: the costly part, which runs
    in parallel); from here to its commit, batches of the same tenant take turns, so each
    reads the authors, conversations, contacts and detector state that the previous one
    committed — concurrent imports into one tenant neither fail nor open a conversation
    twice. PostgreSQL: transaction-scoped advisory locks (other tenants are not held up).
    SQLite: a write now, which takes the database's single write lock (waiting for it up to
    the busy timeout) instead of taking it at the first write of a later step.
    """
    tenants = sorted({d.tenant_id for d in drafts if d.tenant_id is not None})
    if not tenants:
        return drafts
    dialect = ctx.session.get_bind().dialect.name
    if dialect == "postgresql":
        for tenant_id in tenants:
            ctx.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_SPACE + tenant_id}
            )
    elif dialect == "sqlite":
        # a column no foreign key refers to: no child table is checked
        ctx.session.execute(update(Tenant).where(Tenant.id.in_(tenants)).values(name=Tenant.name))
    return drafts


STEPS: tuple[tuple[str, Step], ...] = (
    ("dedupe", dedupe),
    ("analyse", analyse),
    ("match", match_brands),
    ("lock", lock_tenants),
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
    """Run one batch through every step; flushes, never commits. Each step's time goes to
    ``clameur_pipeline_step_seconds`` (:mod:`clameur.core.metrics`)."""
    began = time.perf_counter()
    drafts = normalise_batch(ctx, records)
    ended = time.perf_counter()
    STEP_SECONDS.labels("normalise").observe(ended - began)
    for name, step in steps:
        if not drafts:
            break
        began = ended
        drafts = step(ctx, drafts)
        ended = time.perf_counter()
        STEP_SECONDS.labels(name).observe(ended - began)
    return drafts
