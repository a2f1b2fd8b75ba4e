"""The ``prioritise`` pipeline step: influence percentile within the tenant, then priority.

Runs after authors are resolved (authors, and so the influence histogram, are per tenant).
``record_influence`` keeps each tenant's histogram (:class:`InfluenceBin`) in step with its
authors' scores; ``prioritise`` reads it once per tenant per batch.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clameur.analysis.base import Analysis
from clameur.analysis.influence import author_score, bin_of, percentile
from clameur.analysis.models import InfluenceBin
from clameur.analysis.priority import PriorityInput
from clameur.analysis.priority import prioritise as score_priority

if TYPE_CHECKING:
    from clameur.mentions.draft import Draft, StepContext


def record_influence(
    session: Session, changes: Iterable[tuple[int, float | None, float | None]]
) -> None:
    """Apply ``(tenant_id, old score or None, new score or None)`` to the histograms."""
    deltas: dict[tuple[int, int], int] = defaultdict(int)
    for tenant_id, old, new in changes:
        if old is not None and new is not None and bin_of(old) == bin_of(new):
            continue
        if old is not None:
            deltas[(tenant_id, bin_of(old))] -= 1
        if new is not None:
            deltas[(tenant_id, bin_of(new))] += 1
    rows = [{"tenant_id": t, "bin": b, "authors": d} for (t, b), d in sorted(deltas.items()) if d]
    if not rows:
        return
    table = cast(Table, InfluenceBin.__table__)
    dialect = session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = make(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "bin"],
        set_={"authors": table.c.authors + stmt.excluded.authors},
    )
    session.execute(stmt, rows)


def histogram(session: Session, tenant_id: int) -> dict[int, int]:
    rows = session.execute(
        select(InfluenceBin.bin, InfluenceBin.authors).where(InfluenceBin.tenant_id == tenant_id)
    )
    return {b: n for b, n in rows if n > 0}


def prioritise(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Pipeline step: influence percentile and priority (score, level, reasons)."""
    histograms: dict[int, dict[int, int]] = {}
    now = ctx.clock.now()
    for draft in drafts:
        assert draft.tenant_id is not None, "prioritise runs after brand matching"
        counts = histograms.get(draft.tenant_id)
        if counts is None:
            counts = histograms[draft.tenant_id] = histogram(ctx.session, draft.tenant_id)
        m = draft.mention
        analysis = draft.analysis or Analysis(lang=m.lang)
        score = analysis.author_score
        if score is None:
            score = author_score(
                m.author.followers, m.author.verified, m.author.created_at, m.created_at
            )
        influence = percentile(counts, score)
        value, level, reasons = score_priority(
            PriorityInput(
                intent=analysis.intent,
                sentiment=analysis.sentiment,
                sentiment_score=analysis.sentiment_score,
                toxicity=analysis.toxicity,
                actionability=analysis.actionability,
                influence=influence,
                followers=m.author.followers,
                verified=m.author.verified,
                reach=analysis.reach or 0,
                created_at=m.created_at,
                analysed_at=now,
            )
        )
        draft.analysis = dataclasses.replace(
            analysis,
            author_score=score,
            influence=influence,
            priority=value,
            priority_level=level,
            priority_reasons=reasons,
        )
    return drafts
