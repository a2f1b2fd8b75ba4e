"""Conversations: a thread with one customer on one channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, BigId, TenantOwned, UTCDateTime, json_type

OPEN_STATUSES = ("open", "pending", "waiting", "escalated")


class Conversation(TenantOwned, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_queue", "tenant_id", "status", "last_activity_at"),
        Index("ix_conversations_author", "tenant_id", "author_id", "source"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int] = mapped_column(BigId, ForeignKey("authors.id", ondelete="CASCADE"))
    brand_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("brands.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="open")
    priority_level: Mapped[str | None] = mapped_column(String(4))
    root_external_id: Mapped[str] = mapped_column(String(300))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of the first mention."""
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of the latest mention."""
    mention_count: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[int | None] = mapped_column(BigId)
    flags: Mapped[list[str]] = mapped_column(json_type(), default=list)
