"""Tenants (the BPO's client companies) and their brands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, BigId, TenantOwned, UTCDateTime, json_type


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settings: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)


class Brand(TenantOwned, Base):
    __tablename__ = "brands"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    queries: Mapped[list[str]] = mapped_column(json_type(), default=list)
    """Listening queries, as text (the query language comes with the listening issue)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MentionBrand(TenantOwned, Base):
    """Which brands a stored mention is about (a mention may concern several)."""

    __tablename__ = "mention_brands"
    __table_args__ = (Index("ix_mention_brands_tenant_brand", "tenant_id", "brand_id"),)

    mention_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    brand_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True
    )
