"""The organisation of a demo tenant's floor: business calendars, SLA policies, the reply
approval policy, teams, queues, and the agents' profiles and presence.

Staged *before* the demo mentions are imported, so the import routes each new conversation
to its queue and starts its SLA clocks (both happen on the way in, in event time). Every
step is idempotent: what exists already (by name) is kept as it is — a second ``clameur
demo`` neither duplicates nor resets what someone changed since. Changes on behalf of a
person go through the services with the demo admin's or the agent's own principal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from clameur.care import routing, teams
from clameur.care.calendars import add_calendar
from clameur.care.models import AgentState, BusinessCalendar, Queue, SlaPolicy, Team
from clameur.care.replies import ApprovalPolicy, set_approval_policy
from clameur.care.sla import set_policy
from clameur.clock import Clock
from clameur.db.repository import TenantRepository
from clameur.demo.staff import (
    BUSINESS_HOURS,
    DESK_CALENDAR,
    POLICIES,
    QUEUES,
    SOCIAL_CALENDAR,
    FloorPlan,
)
from clameur.errors import NotFoundError
from clameur.tenancy import Principal, Tenant, find_user, resolve


@dataclass(frozen=True, slots=True)
class Crew:
    """The people of one demo tenant's floor, as principals in that tenant."""

    tenant: Tenant
    admin: Principal
    supervisor: Principal
    agents: tuple[Principal, ...]
    """The demo agent first, in the order of the tenant's :class:`FloorPlan`."""
    plan: FloorPlan


def crew(session: Session, tenant: Tenant, plan: FloorPlan, emails: Mapping[str, str]) -> Crew:
    """Principals of the tenant's demo admin, supervisor (``emails`` by role) and agents."""

    def principal(email: str) -> Principal:
        user = find_user(session, email)
        if user is None:
            raise NotFoundError(f"demo user {email} is missing: run ensure_demo_users first")
        return resolve(session, user, tenant, via="cli")

    agents = tuple(principal(a.email(tenant.slug)) for a in plan.agents)
    return Crew(tenant, principal(emails["admin"]), principal(emails["supervisor"]), agents, plan)


def stage_setup(session: Session, clock: Clock, people: Crew) -> None:
    """Calendars, SLA policies, approval policy, teams, queues and agents (idempotent)."""
    calendars = _calendars(session, people.tenant.id)
    _policies(session, people.tenant.id, calendars)
    _approval(session, clock, people)
    team_ids = _teams(session, clock, people)
    _queues(session, clock, people, team_ids)
    _agents(session, clock, people, team_ids)


def _calendars(session: Session, tenant_id: int) -> dict[str, int]:
    repo = TenantRepository(session, tenant_id, BusinessCalendar)
    have = {c.name: c.id for c in repo.all()}
    if DESK_CALENDAR not in have:
        row = add_calendar(
            session,
            tenant_id,
            DESK_CALENDAR,
            timezone="Europe/Paris",
            hours=BUSINESS_HOURS,
            country="FR",
        )
        have[row.name] = row.id
    if SOCIAL_CALENDAR not in have:
        row = add_calendar(
            session, tenant_id, SOCIAL_CALENDAR, timezone="Europe/Paris", always_open=True
        )
        have[row.name] = row.id
    return have


def _policies(session: Session, tenant_id: int, calendars: Mapping[str, int]) -> None:
    have = {(p.source, p.level) for p in TenantRepository(session, tenant_id, SlaPolicy).all()}
    for spec in POLICIES:
        if (spec.source, spec.level) in have:
            continue  # kept as it is (perhaps changed since by someone)
        set_policy(
            session,
            tenant_id,
            source=spec.source,
            level=spec.level,
            first_response_minutes=spec.first,
            next_response_minutes=spec.next,
            resolution_minutes=spec.resolution,
            calendar_id=calendars[spec.calendar],
        )


def _approval(session: Session, clock: Clock, people: Crew) -> None:
    """Replies to P1 conversations and to those of a brand in incident need approval."""
    care = (people.tenant.settings or {}).get("care") or {}
    if "approval" not in care:
        set_approval_policy(session, clock, people.admin, ApprovalPolicy(p1=True, incident=True))


def _teams(session: Session, clock: Clock, people: Crew) -> dict[str, int]:
    plan = people.plan
    have = {t.name: t.id for t in TenantRepository(session, people.tenant.id, Team).all()}
    names = list(dict.fromkeys(name for agent in plan.agents for name in agent.teams))
    for name in names:
        if name in have:
            continue
        if name == plan.back_office:
            team = teams.add_team(
                session,
                clock,
                people.admin,
                name,
                kind="back_office",
                sla_minutes=plan.back_office_sla,
                required_fields=plan.required_fields,
            )
        else:
            team = teams.add_team(session, clock, people.admin, name)
        have[name] = team.id
    return have


def _queues(session: Session, clock: Clock, people: Crew, team_ids: Mapping[str, int]) -> None:
    have = {q.name for q in TenantRepository(session, people.tenant.id, Queue).all()}
    for spec in QUEUES:
        if spec.name in have:
            continue
        teams.add_queue(
            session,
            clock,
            people.admin,
            spec.name,
            team_id=team_ids[spec.team],
            position=spec.position,
            sources=spec.sources,
            languages=spec.languages,
            min_level=spec.min_level,
            skills=spec.skills,
        )


def _agents(session: Session, clock: Clock, people: Crew, team_ids: Mapping[str, int]) -> None:
    """Team memberships, then the profile and presence of an agent who has none yet (a
    profile is the person's: one set since, by them or a supervisor, is kept)."""
    for principal, spec in zip(people.agents, people.plan.agents, strict=True):
        for name in spec.teams:
            teams.add_member(session, clock, people.admin, team_ids[name], principal.user_id)
        state = session.get(AgentState, principal.user_id)
        if state is not None and state.presence_at is not None:
            continue
        teams.set_agent(
            session,
            clock,
            people.admin,
            principal.user_id,
            skills=spec.skills,
            languages=spec.languages,
            capacity=spec.capacity,
        )
        routing.set_presence(session, clock, principal, principal.user_id, spec.presence)
