"""Shared set-up of the sources tests: a tenant with a brand, a poller over a pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clameur.clock import Clock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.mentions.models import Mention
from clameur.pipeline import Pipeline
from clameur.sources.models import Source
from clameur.sources.schedule import Counts, Poller
from tests.conftest import Database


def poller(
    db: Database,
    pipeline: Pipeline,
    clock: Clock,
    *,
    settings: Settings | None = None,
    before_commit: Callable[[], None] | None = None,
    **kwargs: Any,
) -> Poller:
    """A poller whose records go through ``pipeline``; ``before_commit`` runs inside the
    commit's transaction (raise there to simulate a crash before the commit)."""

    def ingest(
        records: Sequence[dict[str, Any]], tenant_id: int, then: Callable[[Session, Counts], None]
    ) -> Counts:
        def then_and_crash(session: Session, counts: Counts) -> None:
            then(session, counts)
            if before_commit is not None:
                before_commit()

        return pipeline.ingest_polled(records, tenant_id, then_and_crash)

    return Poller(
        factory=db.factory,
        settings=settings or Settings(),
        clock=clock,
        ingest=ingest,
        **kwargs,
    )


def feed_file(path: Path, items: Sequence[dict[str, Any] | str]) -> Path:
    path.write_text(
        "".join((json.dumps(i) if isinstance(i, dict) else i) + "\n" for i in items),
        encoding="utf-8",
    )
    return path


def mention_ids(db: Database) -> list[str]:
    with session_scope(db.factory) as session:
        return sorted(session.scalars(select(Mention.external_id)).all())


def mention_count(db: Database) -> int:
    with session_scope(db.factory) as session:
        return int(session.scalar(select(func.count()).select_from(Mention)) or 0)


def source_row(db: Database, source_id: int) -> Source:
    with session_scope(db.factory) as session:
        row = session.get(Source, source_id)
        assert row is not None
        session.expunge(row)
        return row
