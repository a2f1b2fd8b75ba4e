"""Storage owned by the analysis: each tenant's histogram of author influence scores."""

from __future__ import annotations

from sqlalchemy import Integer, PrimaryKeyConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, TenantOwned


class InfluenceBin(TenantOwned, Base):
    """How many of the tenant's authors have an influence score in ``bin`` (0.1 wide)."""

    __tablename__ = "influence_bins"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "bin"),)

    bin: Mapped[int] = mapped_column(Integer)
    authors: Mapped[int] = mapped_column(Integer, default=0)
