"""Alert rules (``clameur alert-rule show|set``): the tenant's and each brand's overrides of
the built-in defaults, and the rules that result (``alert_rules.manage``: they name
recipients and webhook secrets)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from clameur.clock import Clock
from clameur.db.repository import TenantRepository
from clameur.detection.models import AlertRule
from clameur.detection.rules import load_rules, set_rule
from clameur.tenancy.principal import Principal
from clameur.tenancy.service import get_brand
from clameur.web.api_v1.common import ClockDep, SessionDep, audit_write, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["alert rules"])


class RulesOut(BaseModel):
    brand: str | None = Field(description="null: the tenant's rule (every brand inherits it).")
    overrides: dict[str, Any] = Field(description="What this rule sets; the rest is inherited.")
    effective: dict[str, Any] = Field(
        description="The rules that apply: defaults, then the tenant's, then the brand's."
    )


class RulesIn(BaseModel):
    settings: dict[str, Any] = Field(
        description='Replaces the overrides, e.g. {"min_count": 12, "quiet_hours": [22, 7], '
        '"emails": ["ops@brand.example"]}; {} inherits everything.',
        max_length=100,
    )


class AlertRules(TenantRepository[AlertRule]):
    model = AlertRule


def _show(session: Session, principal: Principal, brand: str | None) -> RulesOut:
    brand_id = get_brand(session, principal.tenant_id, brand).id if brand else None
    rules = AlertRules.of(session, principal)
    column = AlertRule.brand_id
    row = session.scalars(
        rules.select().where(column.is_(None) if brand_id is None else column == brand_id)
    ).first()
    effective = load_rules(session, principal.tenant_id).for_brand(brand_id)
    return RulesOut(
        brand=brand,
        overrides=dict(row.settings) if row is not None else {},
        effective=effective.as_dict(),
    )


def _set(
    session: Session, clock: Clock, principal: Principal, brand: str | None, body: RulesIn
) -> RulesOut:
    brand_row = get_brand(session, principal.tenant_id, brand) if brand else None
    row = set_rule(
        session,
        principal.tenant_id,
        brand_row.id if brand_row is not None else None,
        body.settings,
        clock.now(),
        replace_all=True,
    )
    audit_write(
        session,
        principal,
        clock.now(),
        "alert_rule.set",
        "alert_rule",
        row.id,
        {"brand": brand, "settings": sorted(body.settings)},
    )
    return _show(session, principal, brand)


@router.get(
    "/alert-rules",
    response_model=RulesOut,
    summary="The tenant's alert rule",
    **operation("alert_rules.manage"),
)
def show_tenant_rules(session: SessionDep, principal: CurrentPrincipal) -> RulesOut:
    return _show(session, principal, None)


@router.put(
    "/alert-rules",
    response_model=RulesOut,
    summary="Replace the tenant's alert rule (checked before saving)",
    **operation("alert_rules.manage"),
)
def set_tenant_rules(
    session: SessionDep, clock: ClockDep, principal: CurrentPrincipal, body: RulesIn
) -> RulesOut:
    return _set(session, clock, principal, None, body)


@router.get(
    "/brands/{brand_slug}/alert-rules",
    response_model=RulesOut,
    summary="A brand's alert rule",
    **operation("alert_rules.manage", 404),
)
def show_brand_rules(session: SessionDep, principal: CurrentPrincipal, brand_slug: str) -> RulesOut:
    return _show(session, principal, brand_slug)


@router.put(
    "/brands/{brand_slug}/alert-rules",
    response_model=RulesOut,
    summary="Replace a brand's alert rule (checked before saving)",
    **operation("alert_rules.manage", 404),
)
def set_brand_rules(
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    brand_slug: str,
    body: RulesIn,
) -> RulesOut:
    return _set(session, clock, principal, brand_slug, body)
