"""Authors and mentions, as stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, BigId, TenantOwned, UTCDateTime, json_type


class Author(TenantOwned, Base):
    """A person or account on one source, as seen by one tenant."""

    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("tenant_id", "source", "handle"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    followers: Mapped[int | None] = mapped_column(Integer)
    account_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(Text)
    influence_score: Mapped[float | None] = mapped_column(Float)
    """See :mod:`clameur.analysis.influence` (follows the latest profile, like the others)."""
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of this author's earliest mention."""
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of this author's latest mention (profile fields follow the latest)."""


class Mention(TenantOwned, Base):
    """One post, comment, review or message, owned by one tenant."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "external_id"),
        Index("ix_mentions_tenant_created", "tenant_id", "created_at"),
        # dedupe looks a mention up across tenants when the import names none
        Index("ix_mentions_source_external", "source", "external_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(300))
    author_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("authors.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    """The text's index keys for archive search (``clameur.listening.search_index``), set
    on store; indexed by FTS5 (SQLite) or GIN (PostgreSQL), both made by migration 0002."""
    brand_set: Mapped[str | None] = mapped_column(Text)
    """The ids of the brands it is about, ascending, comma-separated (null: none): the same
    links as ``mention_brands``, written beside them by the store step, so that archive
    search counts a match set's brands from the mention's row alone (migration 0012)."""
    facet_code: Mapped[int | None] = mapped_column(BigInteger)
    """A 64-bit hash of (source, sentiment, lang, brand_set), written by the store step:
    archive search groups a match set's facets by it (``clameur.listening.search_facets``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    url: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    rating: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, int]] = mapped_column(json_type(), default=dict)
    raw: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """Fields of the original record that have no column (unknown fields are kept)."""
    content_hash: Mapped[str] = mapped_column(String(32))
    edit_history: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), default=list)
    """Earlier versions of the text, oldest first: ``[{"text", "replaced_at"}]``."""
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Wall-clock time of the first ingestion (never used by detection or SLAs)."""
    conversation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    # Analysis (filled by clameur.analysis; empty until its models exist).
    lang: Mapped[str | None] = mapped_column(String(8))
    sentiment: Mapped[str | None] = mapped_column(String(16))
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    intent: Mapped[str | None] = mapped_column(String(32))
    intent_score: Mapped[float | None] = mapped_column(Float)
    toxicity: Mapped[float | None] = mapped_column(Float)
    toxicity_labels: Mapped[list[str]] = mapped_column(json_type(), default=list)
    actionability: Mapped[str | None] = mapped_column(String(32))
    influence: Mapped[float | None] = mapped_column(Float)
    """The author's influence percentile within the tenant when the mention was analysed."""
    reach: Mapped[int | None] = mapped_column(BigInteger)
    """Estimated people reached (see :mod:`clameur.analysis.influence`)."""
    priority: Mapped[float | None] = mapped_column(Float)
    priority_level: Mapped[str | None] = mapped_column(String(4))
    priority_reasons: Mapped[list[str]] = mapped_column(json_type(), default=list)
