"""Spike incidents: what the detector's verdicts become — one alert per brand, updated.

Every series of a brand feeds one incident per brand (``spike:<brand>``); verdicts of one
batch are gathered into runs (a gap longer than the cool-down starts a new one), then
each run raises or updates the brand's alert (:func:`raise_incident`). Merging with the
open alert's evidence (peaks, terms, authors, tests, the share test's strongest window)
keeps the result the same whatever the batch size.

Times: the alert's ``triggered_at`` is the event time of the first mention whose windows
were anomalous (the detector had the evidence when it arrived); ``started_at`` the first
mention of the window that test read. A volume spike that turns negative becomes a
negative spike raised when the negative evidence was there: ``triggered_at`` moves to
that mention (``negative_at``), the volume spike's stays in ``volume_at``, ``started_at``
stays (docs/detection.md, "Alert times").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clameur.detection.alerts import Member, open_alert, raise_or_update
from clameur.detection.rules import Rules, severity_rank
from clameur.detection.spikes_share import ShareVerdict
from clameur.detection.spikes_terms import brand_words, distinctive, terms_of
from clameur.mentions.draft import Draft, StepContext
from clameur.tenancy.models import Brand


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: str
    severity: str
    count: int
    negative: int
    expected: float
    expected_negative: float
    basis: str
    test: str = "count"
    """Which test fired: "count" (the window's counts) or "share" (its negative share)."""
    started: float = 0.0
    """Event time (epoch seconds) of the tested window's first mention."""
    share: ShareVerdict | None = None


@dataclass
class Incident:
    brand_id: int
    verdict: Verdict
    first_at: datetime
    last_at: datetime
    members: list[Draft] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)
    peaks: dict[str, list[Any]] = field(default_factory=dict)
    """"total"/"negative" → [highest window count, its expectation, baseline], the first
    of equal peaks kept: the same whatever the batch size."""
    started: float = 0.0
    """Earliest event time (epoch seconds) of a tested window's first mention."""
    negative_at: datetime | None = None
    """Event time of the first mention whose windows made it a negative spike."""
    tests: set[str] = field(default_factory=set)
    share: dict[str, Any] | None = None
    """The share test's strongest window (highest share, the first of equal ones)."""

    def peak(self, v: Verdict) -> None:
        self.tests.add(v.test)
        self.started = min(self.started, v.started) if self.started else v.started
        s = v.share
        if s is not None and (self.share is None or s.share > self.share["share"]):
            self.share = _share_evidence(s)
        for name, count, mean in (
            ("total", v.count, v.expected),
            ("negative", v.negative, v.expected_negative),
        ):
            if name not in self.peaks or count > self.peaks[name][0]:
                self.peaks[name] = [count, round(mean, 2), v.basis]


def strongest(verdicts: list[Verdict]) -> Verdict:
    return max(
        verdicts,
        key=lambda v: (v.kind == "negative_spike", severity_rank(v.severity), v.count),
    )


def note(
    incidents: dict[int, list[Incident]], brand_id: int, draft: Draft, v: Verdict, rules: Rules
) -> None:
    runs = incidents.setdefault(brand_id, [])
    at = draft.mention.created_at
    current = runs[-1] if runs else None
    if current is None or at - current.last_at > timedelta(minutes=rules.cooldown_minutes):
        current = Incident(brand_id, v, at, at)
        runs.append(current)
    elif strongest([current.verdict, v]) is v:
        current.verdict = v
    current.peak(v)
    if v.kind == "negative_spike" and current.negative_at is None:
        current.negative_at = at
    current.last_at = at
    current.members.append(draft)
    current.sources[draft.mention.source] += 1


def raise_incident(ctx: StepContext, tenant_id: int, incident: Incident, rules: Rules) -> None:

    v = incident.verdict
    key = f"spike:{incident.brand_id}"
    terms: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    for draft in incident.members:
        terms.update(terms_of(draft))
        authors[draft.mention.author.handle] += 1
    # The brand's incident still within its cool-down: an alert of days ago, left open on
    # the page, is another incident (its evidence and kind must not leak into this one).
    cooldown = timedelta(minutes=rules.cooldown_minutes)
    existing = open_alert(ctx.session, tenant_id, key, incident.first_at, cooldown)
    previous = existing.evidence if existing is not None else {}
    kind = v.kind
    if existing is not None and existing.kind == "negative_spike":
        kind = "negative_spike"  # an incident that turned negative stays negative
    peaks = {k: list(p) for k, p in previous.get("peaks", {}).items()}
    for name, peak in incident.peaks.items():
        if name not in peaks or peak[0] > peaks[name][0]:
            peaks[name] = peak
    share = previous.get("share")
    if incident.share is not None and (
        not isinstance(share, dict) or incident.share["share"] > share.get("share", 0)
    ):
        share = incident.share
    tests = sorted(set(previous.get("tests", [])) | incident.tests)
    negative_at = previous.get("negative_at")
    was_negative = existing is not None and existing.kind == "negative_spike"
    # The batch in which the incident turns negative: a negative spike is raised when the
    # negative evidence was there, even if the incident began as a volume spike.
    turned = kind == "negative_spike" and not was_negative and negative_at is None
    at = incident.first_at
    volume_at = previous.get("volume_at")
    if turned and incident.negative_at is not None:
        at = incident.negative_at
        negative_at = at.isoformat()
        if volume_at is None and existing is not None:
            volume_at = existing.triggered_at.isoformat()
        elif volume_at is None and incident.first_at < at:
            volume_at = incident.first_at.isoformat()
    merged_terms = Counter(previous.get("terms", {})) + terms
    merged_authors = Counter(previous.get("author_counts", {})) + authors
    brand = ctx.session.get(Brand, incident.brand_id)
    own = brand_words([brand.name, brand.slug]) if brand is not None else frozenset()
    top_terms = distinctive(_top(merged_terms, 10 + len(own)), own)[:10]
    shown = peaks["negative" if kind == "negative_spike" else "total"]
    what = "negative mentions" if kind == "negative_spike" else "mentions"
    if tests == ["share"] and isinstance(share, dict):
        summary = (
            f"{share['negative']} of {share['mentions']} mentions firmly negative "
            f"(negative tone and a complaint) in {share['window_minutes']} min "
            f"({share['share']:.0%}) against a {share['baseline_share']:.0%} baseline share"
        )
    else:
        summary = (
            f"{shown[0]} {what} in {rules.window_minutes} min at the peak against "
            f"{shown[1]:.1f} expected ({shown[2]})"
        )
    summary += f"; top terms: {', '.join(top_terms[:5])}" if top_terms else ""
    evidence = {
        "peak": shown[0],
        "expected": shown[1],
        "baseline": shown[2],
        "peaks": peaks,
        "window_minutes": rules.window_minutes,
        "tests": tests,
        **({"share": share} if share is not None else {}),
        **({"negative_at": negative_at} if negative_at is not None else {}),
        **({"volume_at": volume_at} if volume_at is not None else {}),
        "sources": dict(Counter(previous.get("sources", {})) + incident.sources),
        "terms": dict((t, merged_terms[t]) for t in _top(merged_terms, 500)),
        "author_counts": dict((a, merged_authors[a]) for a in _top(merged_authors, 500)),
        "top_terms": top_terms,
        "top_authors": _top(merged_authors, 10),
    }
    alert = raise_or_update(
        ctx.session,
        ctx.clock,
        rules,
        tenant_id=tenant_id,
        brand_id=incident.brand_id or None,
        kind=kind,
        key=key,
        severity=v.severity,
        at=at,
        started_at=datetime.fromtimestamp(incident.started, tz=UTC) if incident.started else None,
        summary=summary,
        evidence=evidence,
        members=[Member.of(d, "member") for d in incident.members],
    )
    alert.updated_at = max(alert.updated_at, incident.last_at)
    if turned and alert.triggered_at < at:
        alert.triggered_at = at  # a volume spike turned negative: raised as such now
    for draft in incident.members:
        if alert.id not in draft.alert_ids:
            draft.alert_ids.append(alert.id)


def _share_evidence(s: ShareVerdict) -> dict[str, Any]:
    return {
        "share": round(s.share, 3),
        "baseline_share": round(s.baseline_share, 3),
        "mentions": s.window_total,
        "negative": s.window_negative,
        "threshold": s.threshold,
        "rho": round(s.rho, 4),
        "window_minutes": s.window_minutes,
    }


def _top(counts: Counter[str], n: int) -> list[str]:
    """The ``n`` most frequent keys, ties by name: the same whatever the batch size."""
    return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
