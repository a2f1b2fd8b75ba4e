"""Pipeline tables: queued imports (the outbox is core: `clameur.core.models`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, BigId, UTCDateTime, json_type


class QueuedImport(Base):
    """A ``clameur import`` queued on the bus for the workers (scaled out): its chunks'
    progress and the summary they add up to.

    Chunk ``seq`` commits only when ``next_seq == seq`` (the workers take turns on this
    row), so one import's chunks are stored in file order — as the embedded import stores
    them — whichever worker holds each; its counts are added in the same transaction, so a
    chunk delivered twice is counted once (``next_seq`` has moved past it)."""

    __tablename__ = "queued_imports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("tenants.id", ondelete="CASCADE")
    )
    file: Mapped[str] = mapped_column(Text)
    chunks: Mapped[int | None] = mapped_column(Integer)
    """How many chunks the import has: known once the producer queued the last one."""
    next_seq: Mapped[int] = mapped_column(Integer, default=0)
    """The chunk whose turn it is; chunks below it are stored (or dead-lettered)."""
    dead_chunks: Mapped[list[int]] = mapped_column(json_type(), default=list)
    """Chunks dead-lettered before their turn: skipped when it comes."""
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    unmatched: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
