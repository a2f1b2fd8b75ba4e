"""Alerts raised by detection (spikes, influencers, campaigns), their rules and state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, BigId, TenantOwned, UTCDateTime, json_type


class Alert(TenantOwned, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_tenant_triggered", "tenant_id", "triggered_at"),
        Index("ix_alerts_tenant_key", "tenant_id", "key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("brands.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    """volume_spike, negative_spike, influencer or campaign."""
    severity: Mapped[str] = mapped_column(String(16))
    """low, medium, high or critical."""
    key: Mapped[str] = mapped_column(String(200))
    """Incident key: one incident is one alert, updated while it lasts (cool-down)."""
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of the mention whose arrival made the detector raise it (when the
    evidence was there)."""
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Event time of the incident's first member (migration 0013; null only if a writer
    outside :func:`clameur.detection.alerts.raise_or_update` left it out)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of the latest mention that updated it."""
    status: Mapped[str] = mapped_column(String(16), default="open")
    """open while the incident lasts; closed once its cool-down has passed (event time)."""
    summary: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    """Mentions attached to the incident."""
    evidence: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """Details by kind (peak, baseline, top terms, why…); member mentions are in
    :class:`AlertMention`."""
    notified_severity: Mapped[str | None] = mapped_column(String(16))
    """The highest severity already notified: an update notifies again only above it."""


class AlertMention(TenantOwned, Base):
    """A mention attached to an alert as evidence (the tipping one, members, replies)."""

    __tablename__ = "alert_mentions"
    __table_args__ = (
        PrimaryKeyConstraint("alert_id", "source", "external_id"),
        Index("ix_alert_mentions_lookup", "tenant_id", "source", "external_id"),
    )

    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alerts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(300))
    author: Mapped[str] = mapped_column(String(200))
    """The author's handle."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    role: Mapped[str] = mapped_column(String(16), default="member")
    """tip (the mention that raised it), member, or reply (to an influencer's post)."""


class AlertRule(TenantOwned, Base):
    """Alerting settings of a brand, or of the whole tenant when ``brand_id`` is null.

    A brand's rule overrides the tenant's, which overrides the built-in defaults
    (:class:`clameur.detection.rules.Rules`), field by field: a null column inherits.
    """

    __tablename__ = "alert_rules"
    __table_args__ = (Index("ix_alert_rules_tenant_brand", "tenant_id", "brand_id", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("brands.id", ondelete="CASCADE"))
    settings: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """Overrides of :class:`clameur.detection.rules.Rules` fields (thresholds, quiet hours,
    recipients, webhooks, digest)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DetectionState(TenantOwned, Base):
    """What a streaming detector remembers for one series (tenant × brand × source).

    ``brand_id`` 0 is the tenant's mentions that no brand matched; ``source`` "*" is every
    source together. ``state`` is the detector's own JSON (baseline, recent bins).
    """

    __tablename__ = "detection_state"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "detector", "brand_id", "source"),)

    detector: Mapped[str] = mapped_column(String(32))
    brand_id: Mapped[int] = mapped_column(BigId, autoincrement=False)
    source: Mapped[str] = mapped_column(String(20))
    state: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    """Latest event time folded into ``state``."""
