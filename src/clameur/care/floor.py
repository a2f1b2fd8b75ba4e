"""The supervisor floor: who is online and how loaded, how deep the queues are, what is at
risk — a handful of grouped queries, whatever the number of conversations.

**SLA states** are read from the clocks the SLA hooks and sweep keep in
``Conversation.sla`` (:mod:`clameur.care.sla`), in SQL: a conversation is *breached* when
one of its running clocks is marked breached by the sweep or is past its ``due_at``, and
*at risk* when it is not breached and a running clock was warned (``warn_percent`` of its
target used) or is past its ``warn_at``. Paused (``waiting``) and stopped clocks count for
neither. Times in the JSON are fixed-width UTC ISO strings, so comparing them as text is
comparing the instants.

**Depth** of a queue: its ``open`` conversations nobody holds (what agents can pick up);
*oldest waiting*: the longest any of those has waited since the customer last wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from clameur.care.models import (
    OPEN_STATUSES,
    AgentState,
    Conversation,
    Incident,
    Queue,
    Team,
    TeamMember,
)
from clameur.care.sla import CLOCKS
from clameur.db.repository import TenantRepository
from clameur.detection.models import Alert
from clameur.detection.rules import SEVERITIES
from clameur.errors import InvalidInputError
from clameur.tenancy.models import Membership, User
from clameur.tenancy.policy import authorize, roles_for
from clameur.tenancy.principal import Principal, refresh


@dataclass(frozen=True, slots=True)
class AgentLoad:
    user_id: int
    name: str
    email: str
    role: str
    presence: str
    """online, away or offline."""
    presence_since: datetime | None
    open_assigned: int
    """Open conversations of this tenant they hold."""
    capacity: int
    teams: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueueLoad:
    id: int
    name: str
    team: str | None
    depth: int
    """Open conversations nobody holds."""
    oldest_waiting_seconds: float | None
    at_risk: int
    breached: int
    open: int
    """Every conversation of the queue that still needs work (assigned or not)."""


@dataclass(frozen=True, slots=True)
class Floor:
    at: datetime
    agents: list[AgentLoad]
    """Members of the tenant's teams and whoever holds its open conversations; online
    first, then by name."""
    queues: list[QueueLoad]
    """In routing order."""
    open: int
    """Conversations that still need work (open, pending, waiting, escalated)."""
    unassigned: int
    """Open conversations nobody holds, in a queue or not."""
    unqueued: int
    """Open conversations in no queue (nothing matched, or a campaign)."""
    sla_at_risk: int
    sla_breached: int
    alerts_open: dict[str, int]
    """Open alerts by severity (every severity present, zeros included)."""
    incidents_open: int

    @property
    def agents_online(self) -> int:
        return sum(a.presence == "online" for a in self.agents)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _clock(name: str, key: str) -> Any:
    return Conversation.__table__.c.sla[("clocks", name, key)].as_string()


def sla_states(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """SQL conditions (breached, at risk) of a conversation at ``now`` (see the module).

    Each clock's test is a ``CASE`` (1 or 0): a missing clock (JSON null) counts 0 instead
    of making the whole condition unknown."""
    stamp = _iso(now)
    breached: list[Any] = []
    warned: list[Any] = []
    for name in CLOCKS:
        running = _clock(name, "state") == "running"
        late = or_(_clock(name, "breached_at").is_not(None), _clock(name, "due_at") <= stamp)
        warn = or_(_clock(name, "warned_at").is_not(None), _clock(name, "warn_at") <= stamp)
        breached.append(case((and_(running, late), 1), else_=0))
        warned.append(case((and_(running, warn), 1), else_=0))
    is_breached = sum(breached[1:], breached[0]) > 0
    is_warned = sum(warned[1:], warned[0]) > 0
    return is_breached, and_(~is_breached, is_warned)


def floor(session: Session, principal: Principal, now: datetime) -> Floor:
    """The floor at ``now`` (``conversations.read``; the page is the supervisors')."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInputError("needs a time zone", where="now")
    principal = refresh(session, principal)
    authorize(principal, "conversations.read")
    tenant_id = principal.tenant_id
    c = Conversation
    breached, at_risk = sla_states(now)
    waiting_for_agent = and_(c.status == "open", c.assignee_id.is_(None))
    since = func.coalesce(c.last_customer_at, c.opened_at)

    def count_if(condition: ColumnElement[bool]) -> Any:
        return func.sum(case((condition, 1), else_=0))

    per_queue = session.execute(
        TenantRepository(session, tenant_id, Conversation)
        .select(
            c.queue_id,
            func.count(),
            count_if(waiting_for_agent),
            func.min(case((waiting_for_agent, since), else_=None)),
            count_if(at_risk),
            count_if(breached),
        )
        .where(c.status.in_(OPEN_STATUSES))
        .group_by(c.queue_id)
    ).all()
    grouped: dict[int | None, tuple[int, int, datetime | None, int, int]] = {
        queue_id: (int(n), int(depth or 0), oldest, int(risk or 0), int(late or 0))
        for queue_id, n, depth, oldest, risk, late in per_queue
    }

    teams = {
        team.id: team.name
        for team in TenantRepository(session, tenant_id, Team).all(
            TenantRepository(session, tenant_id, Team).select().order_by(Team.name)
        )
    }
    queues = []
    for queue in TenantRepository(session, tenant_id, Queue).all(
        TenantRepository(session, tenant_id, Queue).select().order_by(Queue.position, Queue.id)
    ):
        n, depth, oldest, risk, late = grouped.get(queue.id, (0, 0, None, 0, 0))
        queues.append(
            QueueLoad(
                id=queue.id,
                name=queue.name,
                team=teams.get(queue.team_id) if queue.team_id is not None else None,
                depth=depth,
                oldest_waiting_seconds=_age(now, oldest),
                at_risk=risk,
                breached=late,
                open=n,
            )
        )

    return Floor(
        at=now,
        agents=_agents(session, tenant_id, teams),
        queues=queues,
        open=sum(v[0] for v in grouped.values()),
        unassigned=sum(v[1] for v in grouped.values()),
        unqueued=grouped.get(None, (0, 0, None, 0, 0))[0],
        sla_at_risk=sum(v[3] for v in grouped.values()),
        sla_breached=sum(v[4] for v in grouped.values()),
        alerts_open=_alerts_open(session, tenant_id),
        incidents_open=int(
            session.scalar(
                TenantRepository(session, tenant_id, Incident)
                .select(func.count())
                .where(Incident.status == "open")
            )
            or 0
        ),
    )


def _age(now: datetime, since: datetime | None) -> float | None:
    if since is None:
        return None
    if since.tzinfo is None:  # an aggregate some drivers hand back without its zone
        since = since.replace(tzinfo=UTC)
    return max((now - since).total_seconds(), 0.0)


def _agents(session: Session, tenant_id: int, teams: dict[int, str]) -> list[AgentLoad]:
    """Team members and holders of open conversations, with presence, load and teams."""
    team_names: dict[int, list[str]] = {}
    if teams:
        for team_id, user_id in session.execute(
            select(TeamMember.team_id, TeamMember.user_id).where(
                TeamMember.team_id.in_(sorted(teams))
            )
        ):
            team_names.setdefault(user_id, []).append(teams[team_id])
    c = Conversation
    load = {
        user_id: int(n)
        for user_id, n in session.execute(
            TenantRepository(session, tenant_id, Conversation)
            .select(c.assignee_id, func.count())
            .where(c.status.in_(OPEN_STATUSES), c.assignee_id.is_not(None))
            .group_by(c.assignee_id)
        )
        if user_id is not None
    }
    wanted = sorted(set(team_names) | set(load))
    if not wanted:
        return []
    rows = session.execute(
        select(User, Membership.role, AgentState)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(AgentState, AgentState.user_id == User.id)
        .where(
            Membership.tenant_id == tenant_id,
            User.id.in_(wanted),
            User.active.is_(True),
            Membership.role.in_(sorted(roles_for("conversations.act"))),
        )
    ).all()
    agents = [
        AgentLoad(
            user_id=user.id,
            name=user.name,
            email=user.email,
            role=role,
            presence=state.presence if state is not None else "offline",
            presence_since=state.presence_at if state is not None else None,
            open_assigned=load.get(user.id, 0),
            capacity=state.capacity if state is not None else 5,
            teams=tuple(sorted(team_names.get(user.id, []))),
        )
        for user, role, state in rows
    ]
    order = {"online": 0, "away": 1, "offline": 2}
    return sorted(agents, key=lambda a: (order.get(a.presence, 3), a.name.casefold(), a.user_id))


def _alerts_open(session: Session, tenant_id: int) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity, n in session.execute(
        TenantRepository(session, tenant_id, Alert)
        .select(Alert.severity, func.count())
        .where(Alert.status == "open")
        .group_by(Alert.severity)
    ):
        counts[severity] = counts.get(severity, 0) + int(n)
    return counts
