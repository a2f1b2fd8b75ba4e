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


class User(Base):
    """A person who signs in: the BPO's staff (``tenant_id`` null: may work for several
    tenants) or a client's people (``tenant_id`` set: sees only that tenant).

    ``role`` is admin, supervisor, agent or viewer (a client viewer reads, never acts).
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("tenants.id", ondelete="CASCADE")
    )
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEntry(TenantOwned, Base):
    """Who did what, when (wall clock), to which object: every agent action is written here."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    """e.g. conversation.assign, reply.send, contact.merge."""
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column(BigId)
    data: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
