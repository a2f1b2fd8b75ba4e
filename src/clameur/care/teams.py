"""Teams, their members, queues and agents' routing profiles.

A **front** team answers customers; a **back-office** team (billing, technical, legal…) takes
escalations with an agreed SLA (``settings["sla_minutes"]``) and the fields it needs to work
(``settings["required_fields"]``). A **queue** says which conversations wait where (filters on
brand, language, source, minimum priority level) and which team works them, with the skills
its agents need. An agent's profile (:class:`~clameur.care.models.AgentState`) holds skills,
languages and capacity; it belongs to the person, so it is shared by every tenant they serve.

Every change is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.care.audit import audit
from clameur.care.models import AgentState, Queue, Team, TeamMember
from clameur.care.repository import Queues, Teams
from clameur.clock import Clock
from clameur.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clameur.mentions import SOURCES
from clameur.tenancy.accounts import role_in
from clameur.tenancy.models import Brand
from clameur.tenancy.policy import authorize, roles_for
from clameur.tenancy.principal import Principal, refresh

TEAM_KINDS = ("front", "back_office")
LEVELS = ("P1", "P2", "P3", "P4")
"""Priority levels, most urgent first."""


def member_who_may(
    session: Session, tenant_id: int, user_id: int, action: str, *, what: str
) -> str:
    """The role of ``user_id`` in the tenant, when it is one the policy table lets take
    ``action`` (e.g. ``conversations.act``: a viewer never acts). A user with no role there
    (or deactivated) is not found; a role that may not is refused naming ``what``."""
    role = role_in(session, tenant_id, user_id)
    if role is None:
        raise NotFoundError(f"{what}: user {user_id} not found in this tenant")
    allowed = roles_for(action)
    if role not in allowed:
        raise InvalidInputError(
            f"user {user_id} is {role} in this tenant; this needs {' or '.join(sorted(allowed))}",
            where=what,
        )
    return role


def get_team(session: Session, tenant_id: int, team_id: int) -> Team:
    try:
        return Teams(session, tenant_id).get(team_id)
    except NotFoundError:
        raise NotFoundError(f"team {team_id} not found in this tenant") from None


def get_queue(session: Session, tenant_id: int, queue_id: int) -> Queue:
    try:
        return Queues(session, tenant_id).get(queue_id)
    except NotFoundError:
        raise NotFoundError(f"queue {queue_id} not found in this tenant") from None


def _names(values: Iterable[str], what: str) -> list[str]:
    out: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"empty or non-text value {value!r}", where=what)
        cleaned = value.strip().lower()
        if cleaned not in out:
            out.append(cleaned)
    return out


def _languages(values: Iterable[str], what: str) -> list[str]:
    """ISO 639-1 codes, lower case (``fr-CA`` is kept as ``fr``: routing compares the
    primary language only)."""
    return list(dict.fromkeys(v.split("-")[0].split("_")[0] for v in _names(values, what)))


def add_team(
    session: Session,
    clock: Clock,
    actor: Principal,
    name: str,
    *,
    kind: str = "front",
    sla_minutes: int | None = None,
    required_fields: Sequence[str] = (),
) -> Team:
    """A front or back-office team. A back-office team has an agreed SLA in minutes (plain
    elapsed minutes, not business hours) and the fields an escalation must fill in."""
    actor = refresh(session, actor)
    authorize(actor, "teams.manage")
    tenant_id = actor.tenant_id
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInputError("a team needs a name of 1–100 characters", where="name")
    if kind not in TEAM_KINDS:
        raise InvalidInputError(
            f"kind is one of {', '.join(TEAM_KINDS)}, got {kind!r}", where="kind"
        )
    settings: dict[str, Any] = {}
    if kind == "back_office":
        if sla_minutes is None or isinstance(sla_minutes, bool) or sla_minutes <= 0:
            raise InvalidInputError(
                f"a back-office team needs a positive SLA in minutes, got {sla_minutes!r}",
                where="sla_minutes",
            )
        settings = {
            "sla_minutes": int(sla_minutes),
            "required_fields": _names(required_fields, "required_fields"),
        }
    elif sla_minutes is not None or required_fields:
        raise InvalidInputError(
            "sla_minutes and required_fields are for back-office teams", where="kind"
        )
    taken = select(Team.id).where(Team.tenant_id == tenant_id, Team.name == name)
    if session.scalar(taken) is not None:
        raise AlreadyExistsError(f"team {name!r} exists already in this tenant")
    team = Team(tenant_id=tenant_id, name=name, kind=kind, settings=settings)
    session.add(team)
    session.flush()
    audit(
        session,
        tenant_id=tenant_id,
        at=clock.now(),
        actor_id=actor.actor_id,
        action="team.add",
        object_type="team",
        object_id=team.id,
        data={"name": name, "kind": kind, **settings},
    )
    return team


def add_member(
    session: Session, clock: Clock, actor: Principal, team_id: int, user_id: int
) -> TeamMember:
    """Put a user in a team (idempotent). Viewers cannot be members: they never act."""
    actor = refresh(session, actor)
    authorize(actor, "teams.manage")
    tenant_id = actor.tenant_id
    team = get_team(session, tenant_id, team_id)
    member_who_may(session, tenant_id, user_id, "conversations.act", what="user_id")
    member = session.get(TeamMember, (team.id, user_id))
    if member is not None:
        return member
    member = TeamMember(team_id=team.id, user_id=user_id)
    session.add(member)
    session.flush()
    audit(
        session,
        tenant_id=tenant_id,
        at=clock.now(),
        actor_id=actor.actor_id,
        action="team.member_add",
        object_type="team",
        object_id=team.id,
        data={"user_id": user_id},
    )
    return member


def remove_member(
    session: Session, clock: Clock, actor: Principal, team_id: int, user_id: int
) -> None:
    """Take a user out of a team (their assigned conversations stay theirs)."""
    actor = refresh(session, actor)
    authorize(actor, "teams.manage")
    tenant_id = actor.tenant_id
    team = get_team(session, tenant_id, team_id)
    member = session.get(TeamMember, (team.id, user_id))
    if member is None:
        raise NotFoundError(f"user {user_id} is not a member of team {team.name!r}")
    session.delete(member)
    session.flush()
    audit(
        session,
        tenant_id=tenant_id,
        at=clock.now(),
        actor_id=actor.actor_id,
        action="team.member_remove",
        object_type="team",
        object_id=team.id,
        data={"user_id": user_id},
    )


def add_queue(
    session: Session,
    clock: Clock,
    actor: Principal,
    name: str,
    *,
    team_id: int,
    position: int = 100,
    brand_ids: Sequence[int] = (),
    languages: Sequence[str] = (),
    sources: Sequence[str] = (),
    min_level: str | None = None,
    skills: Sequence[str] = (),
) -> Queue:
    """A queue worked by a front team. Empty filters match everything; ``min_level`` P2
    takes P1 and P2 conversations. Routing tries queues by ascending ``position``."""
    actor = refresh(session, actor)
    authorize(actor, "teams.manage")
    tenant_id = actor.tenant_id
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInputError("a queue needs a name of 1–100 characters", where="name")
    team = get_team(session, tenant_id, team_id)
    if team.kind != "front":
        raise InvalidInputError(
            f"team {team.name!r} is a back-office team: queues are worked by front teams "
            "(escalate to back office instead)",
            where="team_id",
        )
    if min_level is not None and min_level not in LEVELS:
        raise InvalidInputError(
            f"min_level is one of {', '.join(LEVELS)}, got {min_level!r}", where="min_level"
        )
    wanted_brands = sorted(set(brand_ids))
    if wanted_brands:
        found = set(
            session.scalars(
                select(Brand.id).where(Brand.tenant_id == tenant_id, Brand.id.in_(wanted_brands))
            )
        )
        missing = [b for b in wanted_brands if b not in found]
        if missing:
            raise NotFoundError(f"brand_ids: brands {missing} not found in this tenant")
    cleaned_sources = _names(sources, "sources")
    unknown = [s for s in cleaned_sources if s not in SOURCES]
    if unknown:
        raise InvalidInputError(
            f"unknown sources {unknown} (expected among {', '.join(sorted(SOURCES))})",
            where="sources",
        )
    filters: dict[str, Any] = {
        "brand_ids": wanted_brands,
        "languages": _languages(languages, "languages"),
        "sources": cleaned_sources,
        "min_level": min_level,
        "skills": _names(skills, "skills"),
    }
    queue = Queue(
        tenant_id=tenant_id, name=name, position=position, team_id=team.id, filters=filters
    )
    session.add(queue)
    session.flush()
    audit(
        session,
        tenant_id=tenant_id,
        at=clock.now(),
        actor_id=actor.actor_id,
        action="queue.add",
        object_type="queue",
        object_id=queue.id,
        data={"name": name, "team_id": team.id, "position": position, **filters},
    )
    return queue


def list_queues(session: Session, tenant_id: int) -> Sequence[Queue]:
    """The tenant's queues in routing order."""
    stmt = select(Queue).where(Queue.tenant_id == tenant_id).order_by(Queue.position, Queue.id)
    return session.scalars(stmt).all()


def set_agent(
    session: Session,
    clock: Clock,
    actor: Principal,
    user_id: int,
    *,
    skills: Sequence[str] = (),
    languages: Sequence[str] = (),
    capacity: int = 5,
) -> AgentState:
    """Create or update a user's routing profile. ``languages`` empty means "not
    restricted" (any language); ``capacity`` is the most open conversations they hold at
    once, over every tenant they serve. Presence is left as it is (new: offline)."""
    actor = refresh(session, actor)
    authorize(actor, "teams.manage")
    tenant_id = actor.tenant_id
    member_who_may(session, tenant_id, user_id, "conversations.act", what="user_id")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
        raise InvalidInputError(
            f"capacity must be an integer ≥ 0, got {capacity!r}", where="capacity"
        )
    cleaned_skills = _names(skills, "skills")
    cleaned_languages = _languages(languages, "languages")
    state = session.get(AgentState, user_id)
    if state is None:
        state = AgentState(user_id=user_id, presence="offline")
        session.add(state)
    state.skills = cleaned_skills
    state.languages = cleaned_languages
    state.capacity = capacity
    session.flush()
    audit(
        session,
        tenant_id=tenant_id,
        at=clock.now(),
        actor_id=actor.actor_id,
        action="agent.set",
        object_type="user",
        object_id=user_id,
        data={"skills": cleaned_skills, "languages": cleaned_languages, "capacity": capacity},
    )
    return state
