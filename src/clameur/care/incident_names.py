"""The short name an incident is opened with, the same in every language."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clameur.detection.models import Alert
from clameur.tenancy.models import Brand


def incident_title(session: Session, alert: Alert) -> str:
    """A short name, the same in every language, for lists and the inbox's side: who (an
    influencer's handle and channel) or what (the brand and the spike's top terms). The
    detector's sentence stays on the alert, which the incident page links to."""
    evidence = alert.evidence or {}
    if alert.kind == "influencer" and evidence.get("author"):
        parts = [f"@{evidence['author']}", str(evidence.get("source") or "")]
    else:
        brand = session.get(Brand, alert.brand_id) if alert.brand_id else None
        name = brand.name if brand else ""
        squeezed = "".join(name.lower().split())
        words = [str(t) for t in evidence.get("top_terms") or []]
        terms = [t for t in words if t.lower() not in squeezed][:3]  # not the brand's own words
        parts = [name, ", ".join(terms)]
    title = " · ".join(p for p in parts if p)
    return (title or alert.summary or alert.kind)[:300]
