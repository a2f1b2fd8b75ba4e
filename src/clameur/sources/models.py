"""Connector instances (``sources``) and their secrets, kept apart (``source_secrets``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, BigId, TenantOwned, UTCDateTime, json_type


class Source(TenantOwned, Base):
    """One connector instance of a tenant: what to poll, how often, where it got to, and
    how healthy it is. Secrets (passwords, tokens) live in :class:`SourceSecret`."""

    __tablename__ = "sources"
    __table_args__ = (
        Index("uq_sources_tenant_name", "tenant_id", "name", unique=True),
        Index("ix_sources_due", "enabled", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    """The connector: rss, webhook, imap, pages, mastodon… (an entry point name)."""
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    """The mention ``source`` stamped on items that do not say (blog, news, email…)."""
    options: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """Non-secret configuration, validated by the connector's options schema."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    cursor: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    """Where the connector got to (ETag, newest entry seen…): moves with its mentions."""
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When it is next due (null: now)."""
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # -- health ----------------------------------------------------------------------------
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    """One line, no secrets; cleared by the next success."""
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_after_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The remote asked us to wait (Retry-After) until then."""
    stats: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """``{"last": counts of the last poll, "hours": {"2026-12-03T09": items…}}`` (24 hours
    kept): the health panel's items per hour."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SourceSecret(TenantOwned, Base):
    """A source's secrets (name → value). Never shown: listings say ``password: set``."""

    __tablename__ = "source_secrets"
    __table_args__ = (Index("ix_source_secrets_tenant", "tenant_id"),)

    source_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    values: Mapped[dict[str, str]] = mapped_column(json_type(), default=dict)
