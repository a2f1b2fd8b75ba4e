"""Reports: KPIs and counts (more with the steering issue)."""

from clameur.reports.service import stats

__all__ = ["stats"]
