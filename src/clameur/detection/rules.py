"""Alert rules: thresholds, quiet hours, recipients — defaults, tenant, brand.

Every field has a built-in default (:class:`Rules`). A tenant's rule (``brand_id`` null)
overrides some fields for all its brands; a brand's rule overrides some more. Rules are
stored as JSON overrides so that a new field gets its default everywhere at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.detection.models import AlertRule
from clameur.errors import InvalidInputError

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")


def severity_rank(severity: str | None) -> int:
    """0 for none, then 1 (low) … 4 (critical)."""
    return SEVERITIES.index(severity) + 1 if severity in SEVERITIES else 0


@dataclass(frozen=True)
class Rules:
    """What a brand's alerting does. Times are event times; hours are local to ``timezone``."""

    enabled: tuple[str, ...] = ("volume_spike", "negative_spike", "influencer", "campaign")
    # -- spikes
    bin_minutes: int = 5
    window_minutes: int = 15
    """Counts are tested over the last ``window_minutes`` (a whole number of bins)."""
    alpha: float = 1e-6
    """Poisson upper-tail probability below which a window count is a spike."""
    dispersion: float = 8.0
    """Gamma shape of the hour-to-hour variation of ordinary traffic: the test's negative
    binomial never gets narrower than this (measured on replays, docs/detection.md)."""
    min_count: int = 8
    """A window needs at least this many mentions (negative ones for negative spikes)."""
    min_ratio: float = 3.0
    """… and at least this many times the expected count."""
    negative_share: float = 0.5
    """A spike whose window is at least this share negative is a negative spike."""
    share_window_minutes: int = 60
    """The share test (negativity shift at constant volume) reads the last this many
    minutes (a whole number of bins; docs/detection.md, "Negativity shifts")."""
    share_alpha: float = 5e-5
    """Beta-binomial upper-tail probability below which the window's negative share is a
    shift (the hour's and the three hours' windows; the half hour takes a tenth of it)."""
    share_margin: float = 0.1
    """… and the share must exceed the baseline share by at least this much."""
    share_concentration: float = 30.0
    """Prior hour-to-hour variation of the share: a beta law of this concentration (30: a
    share of one third varies by about ±0.085 from hour to hour), learned from each
    series' own hours."""
    share_prior_hours: float = 48.0
    """Weight of that prior, in hours of the series' own average hour (at least 20
    mentions)."""
    cold_rate_per_hour: float = 4.0
    """Expected mentions an hour before a series has any history."""
    cooldown_minutes: int = 60
    """An incident stays open (and is updated, not raised again) until this long after
    its last anomalous window."""
    # -- influencer
    influencer_percentile: float = 0.99
    """Top band of the tenant's authors by influence score…"""
    influencer_min_followers: int = 10_000
    """… among authors with at least this many followers…"""
    influencer_followers: int = 100_000
    """… or any author with at least this many followers."""
    influencer_ignored_sources: tuple[str, ...] = ("news",)
    """Press articles are coverage, not a person complaining (and the intent model reads
    news prose poorly): they feed spikes, not the influencer trigger."""
    # -- campaigns
    campaign_min_authors: int = 5
    campaign_window_hours: int = 24
    campaign_min_score: float = 0.5
    # -- notifications
    notify_min_severity: str = "medium"
    """Alerts below this severity go to the digest instead of being sent at once."""
    emails: tuple[str, ...] = ()
    webhooks: tuple[dict[str, str], ...] = ()
    """``{"url": …, "secret": …}``: signed with HMAC-SHA256."""
    timezone: str = "Europe/Paris"
    quiet_hours: tuple[int, int] | None = None
    """``(start, end)`` local hours (end exclusive, may wrap midnight): only ``high`` and
    ``critical`` alerts are sent at once then; the others wait for the digest."""
    digest_minutes: int = 60

    def is_quiet(self, at: datetime) -> bool:
        if self.quiet_hours is None:
            return False
        start, end = self.quiet_hours
        hour = at.astimezone(ZoneInfo(self.timezone)).hour
        return start <= hour < end if start <= end else hour >= start or hour < end

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = {f.name: f for f in fields(Rules)}


def _coerce(name: str, value: Any) -> Any:
    default = getattr(Rules(), name)
    if name == "quiet_hours":
        if value is None:
            return None
        if not (isinstance(value, list | tuple) and len(value) == 2):
            raise ValueError("quiet_hours is [start, end] in local hours")
        start, end = (int(v) for v in value)
        if not (0 <= start <= 23 and 0 <= end <= 24):
            raise ValueError("quiet hours are between 0 and 24")
        return (start, end)
    if name == "timezone":
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return str(value)
    if name == "notify_min_severity":
        if value not in SEVERITIES:
            raise ValueError(f"severity is one of {', '.join(SEVERITIES)}")
        return value
    if name == "webhooks":
        hooks = []
        for hook in value:
            if not isinstance(hook, dict) or not str(hook.get("url", "")).startswith(
                ("http://", "https://")
            ):
                raise ValueError("a webhook is {url: http(s)://…, secret: …}")
            hooks.append({"url": str(hook["url"]), "secret": str(hook.get("secret", ""))})
        return tuple(hooks)
    if isinstance(default, tuple):
        return tuple(str(v) for v in value)
    if isinstance(default, bool):
        return bool(value)
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    return value


def apply(rules: Rules, overrides: dict[str, Any], where: str = "rule") -> Rules:
    """``rules`` with ``overrides`` applied; an unknown field or bad value is refused."""
    changes: dict[str, Any] = {}
    for name, value in overrides.items():
        if name not in _FIELDS:
            raise InvalidInputError(f"unknown alert rule setting {name!r}", where=where)
        try:
            changes[name] = _coerce(name, value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidInputError(f"{name}: {exc}", where=where) from None
    return replace(rules, **changes)


@dataclass
class RuleBook:
    """Resolved rules of one tenant's brands, loaded once per batch."""

    tenant: Rules
    brands: dict[int, Rules] = field(default_factory=dict)

    def for_brand(self, brand_id: int | None) -> Rules:
        if brand_id is None:
            return self.tenant
        return self.brands.get(brand_id, self.tenant)


def load_rules(session: Session, tenant_id: int) -> RuleBook:
    rows = session.scalars(select(AlertRule).where(AlertRule.tenant_id == tenant_id)).all()
    base = Rules()
    tenant_row = next((r for r in rows if r.brand_id is None), None)
    tenant_rules = apply(base, tenant_row.settings) if tenant_row else base
    book = RuleBook(tenant_rules)
    for row in rows:
        if row.brand_id is not None:
            book.brands[row.brand_id] = apply(tenant_rules, row.settings)
    return book


def set_rule(
    session: Session,
    tenant_id: int,
    brand_id: int | None,
    overrides: dict[str, Any],
    now: datetime,
    *,
    replace_all: bool = False,
) -> AlertRule:
    """Store overrides for a tenant (``brand_id`` None) or a brand; checked before saving."""
    row = session.scalars(
        select(AlertRule).where(
            AlertRule.tenant_id == tenant_id,
            AlertRule.brand_id.is_(None) if brand_id is None else AlertRule.brand_id == brand_id,
        )
    ).one_or_none()
    merged = dict(overrides) if replace_all or row is None else {**row.settings, **overrides}
    checked = apply(Rules(), merged)  # refuses unknown names and bad values before saving
    for hook in checked.webhooks:
        if not hook["secret"].strip():
            raise InvalidInputError(
                f"webhooks: {hook['url']} has no secret: give each webhook a secret "
                "(its deliveries are signed with HMAC-SHA256 under it)",
                where="rule",
            )
    if row is None:
        row = AlertRule(tenant_id=tenant_id, brand_id=brand_id, settings=merged, updated_at=now)
        session.add(row)
    else:
        row.settings = merged
        row.updated_at = now
    session.flush()
    return row
