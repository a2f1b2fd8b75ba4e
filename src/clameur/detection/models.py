"""Alerts raised by detection (spikes, influencers, campaigns)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, BigId, TenantOwned, UTCDateTime, json_type


class Alert(TenantOwned, Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_tenant_triggered", "tenant_id", "triggered_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("brands.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    """Incident key: one incident is one alert, updated while it lasts (cool-down)."""
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of the mention that tipped it."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")
    summary: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    evidence: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
