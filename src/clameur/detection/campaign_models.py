"""State of the coordinated-campaign detector: signatures, LSH bands and clusters.

Everything the detector remembers lives here, per tenant, so that a replay (any batch size,
any number of processes) meets the same state as a live run. Rows older than the campaign
window are pruned as event time advances (see :mod:`clameur.detection.campaign`).
"""

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
    LargeBinary,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, BigId, TenantOwned, UTCDateTime, json_type


class CampaignCluster(TenantOwned, Base):
    """Near-duplicate mentions by several accounts, linked in event time (single linkage)."""

    __tablename__ = "campaign_clusters"
    __table_args__ = (
        Index("ix_campaign_clusters_tenant_key", "tenant_id", "key", unique=True),
        Index("ix_campaign_clusters_tenant_last", "tenant_id", "last_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(32))
    """Stable name derived from the founding mention: the same on every replay."""
    brand_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("brands.id", ondelete="SET NULL")
    )
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of the latest member: the cluster is dropped a window after it."""
    centre: Mapped[bytes] = mapped_column(LargeBinary)
    """MinHash signature of the founding mention (members' similarity is measured to it)."""
    members: Mapped[int] = mapped_column(Integer)
    accounts: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    alert_key: Mapped[str | None] = mapped_column(String(200))
    """Key of the campaign alert once raised (kept through merges: one campaign, one alert)."""
    state: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """Per account facts (``accounts``) and member similarities (``sims``)."""


class CampaignSignature(TenantOwned, Base):
    """One mention long enough to compare: its MinHash and its author's facts at post time.

    Written for most mentions on the import's hot path, so its columns are plain values the
    driver takes as they are (SQLite rows go through its ``executemany`` directly): the key
    is a 63-bit digest of ``(source, external_id)`` (computed, so bands can point at a row
    before it exists; a collision within a tenant's window, odds ~1e-8 for a million
    mentions, would fail the batch rather than mix two mentions up), and the event time is
    in microseconds since the epoch (exact, so replays agree to the microsecond).
    """

    __tablename__ = "campaign_signatures"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "key"),)

    key: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(300))
    author_id: Mapped[int] = mapped_column(BigId, ForeignKey("authors.id", ondelete="CASCADE"))
    brand_id: Mapped[int | None] = mapped_column(BigId)
    """First brand of the mention (no foreign key: rows live one window at most)."""
    at_us: Mapped[int] = mapped_column(BigInteger)
    """The mention's ``created_at``, in microseconds since the epoch (UTC)."""
    cluster_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaign_clusters.id", ondelete="CASCADE"), index=True
    )
    similarity: Mapped[float | None] = mapped_column(Float)
    """Estimated Jaccard similarity to the cluster's centre when the mention joined it."""
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    # The author's facts as of this mention (profiles change; replays must not).
    age_days: Mapped[float | None] = mapped_column(Float)
    followers: Mapped[int | None] = mapped_column(Integer)
    verified: Mapped[bool] = mapped_column(Boolean)
    first_post: Mapped[bool] = mapped_column(Boolean)
    rating: Mapped[int | None] = mapped_column(Integer)
    rare: Mapped[int | None] = mapped_column(Integer)
    """Sampled shingles of the text that were rare in the tenant's archive before its day
    (``campaign_idf``): how much of it is the author's own, not everyone's phrasing."""


class CampaignBand(TenantOwned, Base):
    """LSH band of a signature: mentions sharing a band hash are candidate near-duplicates.

    Up to ten rows are written per mention on the import's hot path, so the table has one
    B-tree only (its key, which serves the lookups; ``WITHOUT ROWID`` on SQLite) and ``at``
    is the mention's event time in epoch seconds, not a datetime column. A mention that is
    a copy of one already indexed (see ``COPY`` in :mod:`clameur.detection.campaign`) gets
    no bands: later copies find the original. No foreign key to the signature either: bands
    are pruned now and then by a scan on ``at``, and lookups ignore a band whose signature
    is gone or too old.
    """

    __tablename__ = "campaign_bands"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "band_hash", "signature_key"),
        {"sqlite_with_rowid": False},  # the key is the table: one B-tree, not two
    )

    band_hash: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    signature_key: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    """:attr:`CampaignSignature.key`."""
    at: Mapped[int] = mapped_column(BigInteger)
    """Event time in seconds since the epoch."""


class CampaignVocabulary(TenantOwned, Base):
    """How many of a tenant's mentions of each day held a shingle: the archive's document
    frequencies, kept incrementally by the detector (see ``campaign_idf``).

    One shingle in four is kept (those whose 32-bit hash is a multiple of 4: every text
    samples the same ones), counted once per mention, one row per (shingle, day); the row
    of ``shingle = -1`` counts the day's mentions. A mention's rarity is read from the
    days *before* its own, so that replays agree whatever the batch size.
    """

    __tablename__ = "campaign_vocabulary"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "shingle", "day"),
        {"sqlite_with_rowid": False},
    )

    shingle: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    day: Mapped[int] = mapped_column(Integer, autoincrement=False)
    """Days since the epoch (UTC) of the mentions counted."""
    docs: Mapped[int] = mapped_column(Integer)
