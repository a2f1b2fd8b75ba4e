"""Routing conversations to queues and assigning them to agents.

**Routing** puts a conversation in the first queue (by ``position``, then id) whose filters
match its brand, language, source and priority level (:func:`route`, :func:`route_pending`).

**Assignment** (:func:`assign_next`, :func:`assign_pending`) gives a queue's waiting
conversations — open, unassigned — in order (priority score desc, oldest ``opened_at``, id)
to the *eligible* agents of the queue's team: online, with every skill the queue requires,
speaking the conversation's language (an agent with no languages set is not restricted) and
holding fewer open conversations than their ``capacity`` (counted over every tenant they
serve: capacity belongs to the person). Among the eligible agents, round-robin: the one
assigned least recently (``AgentState.last_assigned_at``, never first, ties by user id).
What no eligible agent can take stays queued.

**Presence** (:func:`set_presence`; another agent's: ``presence.set_others``): only online
agents receive work. An agent going away or
offline gives back the conversations they hold and have not answered yet (no agent reply:
``first_response_at`` and ``last_agent_at`` empty); answered ones stay theirs, the customer
knows them.

**Assigning by hand** (:func:`assign`): an agent takes a conversation nobody holds, or gives
back one they hold (``conversations.assign``); giving it to someone else, or taking it from
a colleague, needs ``conversations.assign_others``. **Supervisor override**
(:func:`reassign`, ``conversations.assign_others``): a conversation goes to anyone acting in
the tenant. Both ignore capacity and presence.

**Concurrency** (PostgreSQL, several dispatchers): agents' rows are locked ``FOR UPDATE`` in
user-id order before anything else, so capacity checks see every committed assignment and
dispatchers sharing agents run one after the other; waiting conversations are taken
``FOR UPDATE SKIP LOCKED``, so a conversation being changed elsewhere (a supervisor
reassigning it, an escalation) is left for the next round instead of being waited on or
assigned twice. Every function that locks both takes agents first, then conversations.
SQLite has a single writer and needs none of it (``FOR UPDATE`` is not rendered there).

Every assignment writes a ``record(kind="assign")`` (timeline and audit); a conversation
given back writes ``kind="unassign"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from clameur.care.audit import audit, record
from clameur.care.models import OPEN_STATUSES, AgentState, Conversation, Queue, TeamMember
from clameur.care.teams import LEVELS, get_queue, list_queues, member_who_may
from clameur.clock import Clock
from clameur.errors import InvalidInputError, NotFoundError
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

PRESENCES = ("online", "away", "offline")
_NEVER = datetime.min.replace(tzinfo=UTC)
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Assignment:
    conversation_id: int
    user_id: int
    queue_id: int


def primary_language(lang: str | None) -> str | None:
    """``fr-CA`` → ``fr``; routing compares primary languages only."""
    if not lang:
        return None
    return lang.strip().lower().replace("_", "-").split("-")[0] or None


# -- routing -----------------------------------------------------------------------------


def queue_matches(filters: dict[str, Any], conversation: Conversation) -> bool:
    """Whether a queue's filters take the conversation (empty filters match everything)."""
    brand_ids = filters.get("brand_ids") or []
    if brand_ids and conversation.brand_id not in brand_ids:
        return False
    languages = filters.get("languages") or []
    if languages and primary_language(conversation.lang) not in languages:
        return False
    sources = filters.get("sources") or []
    if sources and conversation.source not in sources:
        return False
    min_level = filters.get("min_level")
    if min_level:
        level = conversation.priority_level
        if level not in LEVELS or LEVELS.index(level) > LEVELS.index(min_level):
            return False
    return True


def route_conversations(
    session: Session, tenant_id: int, conversations: Sequence[Conversation]
) -> list[Queue | None]:
    """Route a batch (queues read once): each conversation's ``queue_id`` is set to its
    first matching queue, or cleared when none matches (and always for a conversation
    flagged ``campaign``: it is handled with its incident, not as ordinary work)."""
    queues = list_queues(session, tenant_id)
    out: list[Queue | None] = []
    for conversation in conversations:
        if conversation.tenant_id != tenant_id:
            raise NotFoundError(f"conversation {conversation.id} not found in this tenant")
        chosen = next((q for q in queues if queue_matches(q.filters or {}, conversation)), None)
        if "campaign" in (conversation.flags or []):
            chosen = None  # suspected campaign posts are grouped in their incident, not queued
        conversation.queue_id = chosen.id if chosen is not None else None
        out.append(chosen)
    session.flush()
    return out


def route(session: Session, tenant_id: int, conversation: Conversation) -> Queue | None:
    """The first queue by position whose filters match the conversation (its ``queue_id``
    is set), or None."""
    return route_conversations(session, tenant_id, [conversation])[0]


def route_pending(session: Session, tenant_id: int) -> int:
    """Route every open conversation of the tenant that has no queue yet; how many found
    one. Conversations no queue takes are looked at again on the next call."""
    routed = 0
    last_id = 0
    while True:
        batch = session.scalars(
            select(Conversation)
            .where(
                Conversation.tenant_id == tenant_id,
                Conversation.queue_id.is_(None),
                Conversation.status.in_(OPEN_STATUSES),
                Conversation.id > last_id,
            )
            .order_by(Conversation.id)
            .limit(_CHUNK)
        ).all()
        if not batch:
            return routed
        routed += sum(q is not None for q in route_conversations(session, tenant_id, batch))
        last_id = batch[-1].id


# -- assignment --------------------------------------------------------------------------


class _Agents:
    """The locked, fresh state of a set of agents and their current load."""

    def __init__(self, session: Session, user_ids: Iterable[int]) -> None:
        ids = sorted(set(user_ids))
        self.states: dict[int, AgentState] = {}
        self.load: dict[int, int] = {}
        self.turns: dict[int, int] = {}
        """Order of the agents' latest assignment in this dispatch: every assignment of a
        dispatch has the same ``now``, so the turn keeps the round going between them."""
        if not ids:
            return
        locked = session.scalars(
            select(AgentState)
            .where(AgentState.user_id.in_(ids))
            .order_by(AgentState.user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        self.states = {s.user_id: s for s in locked if s.presence == "online" and s.capacity > 0}
        if not self.states:
            return
        # Capacity is the person's: count their open conversations in every tenant.
        counts = session.execute(
            select(Conversation.assignee_id, func.count())
            .where(
                Conversation.assignee_id.in_(sorted(self.states)),
                Conversation.status.in_(OPEN_STATUSES),
            )
            .group_by(Conversation.assignee_id)
        )
        self.load = {user_id: 0 for user_id in self.states}
        for user_id, count in counts:
            if user_id is not None:
                self.load[user_id] = int(count)

    def took(self, state: AgentState, now: datetime) -> None:
        state.last_assigned_at = now
        self.load[state.user_id] += 1
        self.turns[state.user_id] = max(self.turns.values(), default=0) + 1

    def round_robin(self, state: AgentState) -> tuple[datetime, int, int]:
        """Sort key: assigned least recently first (never: first of all), ties by id."""
        return (state.last_assigned_at or _NEVER, self.turns.get(state.user_id, 0), state.user_id)

    def with_room(self, members: set[int], skills: list[str]) -> list[AgentState]:
        return [
            s
            for uid, s in self.states.items()
            if uid in members
            and self.load[uid] < s.capacity
            and all(skill in (s.skills or []) for skill in skills)
        ]


def _speaks(state: AgentState, lang: str | None) -> bool:
    wanted = primary_language(lang)
    return wanted is None or not state.languages or wanted in state.languages


def _language_filter(candidates: list[AgentState]) -> ColumnElement[bool] | None:
    """SQL filter keeping conversations some candidate speaks (None: no restriction)."""
    if any(not s.languages for s in candidates):
        return None
    codes = sorted({lang for s in candidates for lang in s.languages})
    lowered = func.lower(Conversation.lang)
    return or_(
        Conversation.lang.is_(None),
        lowered.in_(codes),
        *(lowered.startswith(f"{c}-", autoescape=True) for c in codes),
    )


def _team_members(session: Session, team_ids: Iterable[int]) -> dict[int, set[int]]:
    ids = sorted(set(team_ids))
    out: dict[int, set[int]] = {team_id: set() for team_id in ids}
    if ids:
        rows = session.execute(
            select(TeamMember.team_id, TeamMember.user_id).where(TeamMember.team_id.in_(ids))
        )
        for team_id, user_id in rows:
            out[team_id].add(user_id)
    return out


def _assign_queue(
    session: Session,
    clock: Clock,
    tenant_id: int,
    queue: Queue,
    members: set[int],
    agents: _Agents,
    limit: int,
) -> list[Assignment]:
    skills = list((queue.filters or {}).get("skills") or [])
    now = clock.now()
    done: list[Assignment] = []
    passed: list[int] = []  # waiting conversations no agent with room speaks
    while len(done) < limit:
        candidates = agents.with_room(members, skills)
        if not candidates:
            break
        room = sum(s.capacity - agents.load[s.user_id] for s in candidates)
        stmt = select(Conversation).where(
            Conversation.tenant_id == tenant_id,
            Conversation.queue_id == queue.id,
            Conversation.assignee_id.is_(None),
            Conversation.status.in_(OPEN_STATUSES),
            Conversation.snoozed_until.is_(None),  # snoozed: nobody is handed it until it wakes
        )
        language = _language_filter(candidates)
        if language is not None:
            stmt = stmt.where(language)
        if passed:
            stmt = stmt.where(Conversation.id.not_in(passed))
        stmt = (
            stmt.order_by(
                Conversation.priority.desc().nulls_last(),
                Conversation.opened_at,
                Conversation.id,
            )
            .limit(min(room, limit - len(done), _CHUNK))
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        waiting = session.scalars(stmt).all()
        if not waiting:
            break
        for conversation in waiting:
            eligible = [
                s for s in agents.with_room(members, skills) if _speaks(s, conversation.lang)
            ]
            if not eligible:
                passed.append(conversation.id)
                continue
            agent = min(eligible, key=agents.round_robin)
            conversation.assignee_id = agent.user_id
            conversation.assigned_at = now
            agents.took(agent, now)
            record(
                session,
                tenant_id=tenant_id,
                conversation_id=conversation.id,
                at=now,
                actor_id=None,
                kind="assign",
                data={"to": agent.user_id, "queue_id": queue.id, "by": "routing"},
            )
            done.append(Assignment(conversation.id, agent.user_id, queue.id))
    session.flush()
    return done


def assign_next(
    session: Session, clock: Clock, tenant_id: int, queue_id: int, *, limit: int = 10_000
) -> list[Assignment]:
    """Assign the queue's waiting conversations to its team's eligible agents (at most
    ``limit``). Locks the team's agents until the caller's transaction ends: to dispatch
    several queues in one transaction, use :func:`assign_pending` (one lock order)."""
    queue = get_queue(session, tenant_id, queue_id)
    if queue.team_id is None:
        return []
    members = _team_members(session, [queue.team_id])[queue.team_id]
    agents = _Agents(session, members)
    return _assign_queue(session, clock, tenant_id, queue, members, agents, limit)


def assign_pending(
    session: Session, clock: Clock, tenant_id: int, *, limit: int = 10_000
) -> list[Assignment]:
    """:func:`assign_next` over every queue of the tenant, in routing order."""
    queues = [q for q in list_queues(session, tenant_id) if q.team_id is not None]
    teams = _team_members(session, [q.team_id for q in queues if q.team_id is not None])
    agents = _Agents(session, {uid for members in teams.values() for uid in members})
    done: list[Assignment] = []
    for queue in queues:
        if len(done) >= limit:
            break
        assert queue.team_id is not None
        done += _assign_queue(
            session, clock, tenant_id, queue, teams[queue.team_id], agents, limit - len(done)
        )
    return done


# -- presence and supervisor override ----------------------------------------------------


def _lock_agent(session: Session, user_id: int) -> AgentState | None:
    return session.scalars(
        select(AgentState)
        .where(AgentState.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def set_presence(
    session: Session, clock: Clock, actor: Principal, user_id: int, presence: str
) -> list[int]:
    """Set an agent online, away or offline (a default profile is made if they have none):
    oneself (``presence.set``) or another agent of the tenant (``presence.set_others``).

    Going away or offline gives back the open conversations they hold without any agent
    reply yet — in every tenant they serve, since presence is the person's — each with an
    ``unassign`` timeline event in its own tenant. Returns the ids given back (run
    :func:`assign_pending` afterwards to hand them to others)."""
    actor = refresh(session, actor)
    authorize(actor, "presence.set")
    if user_id != actor.user_id:
        authorize(actor, "presence.set_others")
    if presence not in PRESENCES:
        raise InvalidInputError(
            f"presence is one of {', '.join(PRESENCES)}, got {presence!r}", where="presence"
        )
    member_who_may(session, actor.tenant_id, user_id, "presence.set", what="user_id")
    actor_id = actor.actor_id
    now = clock.now()
    state = _lock_agent(session, user_id)
    if state is None:
        state = AgentState(user_id=user_id, skills=[], languages=[], capacity=5)
        session.add(state)
    previous = state.presence
    state.presence = presence
    state.presence_at = now
    given_back: list[int] = []
    if presence != "online":
        held = session.scalars(
            select(Conversation)
            .where(
                Conversation.assignee_id == user_id,
                Conversation.status.in_(OPEN_STATUSES),
                Conversation.first_response_at.is_(None),
                Conversation.last_agent_at.is_(None),
            )
            .order_by(Conversation.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        for conversation in held:
            conversation.assignee_id = None
            conversation.assigned_at = None
            record(
                session,
                tenant_id=conversation.tenant_id,
                conversation_id=conversation.id,
                at=now,
                actor_id=actor_id,
                kind="unassign",
                data={"from": user_id, "reason": f"agent {presence}"},
            )
            given_back.append(conversation.id)
    session.flush()
    audit(
        session,
        tenant_id=actor.tenant_id,
        at=now,
        actor_id=actor_id,
        action="agent.presence",
        object_type="user",
        object_id=user_id,
        data={"from": previous, "to": presence, "given_back": given_back},
    )
    return given_back


def assign(
    session: Session, clock: Clock, actor: Principal, conversation_id: int, to_user_id: int | None
) -> Conversation:
    """Assign an open conversation by hand, whatever capacity or presence: to oneself when
    nobody holds it, or back to its queue (None) when one holds it
    (``conversations.assign``); to someone else, or away from a colleague, with
    ``conversations.assign_others``. The target must act in the tenant."""
    actor = refresh(session, actor)
    authorize(actor, "conversations.assign")
    return _set_assignee(session, clock, actor, conversation_id, to_user_id, override=False)


def reassign(
    session: Session, clock: Clock, actor: Principal, conversation_id: int, to_user_id: int | None
) -> Conversation:
    """Supervisor override (``conversations.assign_others``): give an open conversation to
    ``to_user_id`` (or back to its queue with None), whatever their capacity or presence."""
    actor = refresh(session, actor)
    authorize(actor, "conversations.assign_others")
    return _set_assignee(session, clock, actor, conversation_id, to_user_id, override=True)


def _set_assignee(
    session: Session,
    clock: Clock,
    actor: Principal,
    conversation_id: int,
    to_user_id: int | None,
    *,
    override: bool,
) -> Conversation:
    tenant_id = actor.tenant_id
    target = None
    if to_user_id is not None:
        member_who_may(session, tenant_id, to_user_id, "conversations.assign", what="to_user_id")
        target = _lock_agent(session, to_user_id)  # agents before conversations
    conversation = session.scalars(
        select(Conversation)
        .where(Conversation.tenant_id == tenant_id, Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} not found in this tenant")
    if conversation.status not in OPEN_STATUSES:
        raise InvalidInputError(
            f"conversation {conversation_id} is {conversation.status}: reopen it first",
            where="conversation_id",
        )
    previous = conversation.assignee_id
    mine = actor.user_id
    own = (to_user_id == mine and previous in (None, mine)) or (
        to_user_id is None and previous == mine
    )
    if not own:
        authorize(actor, "conversations.assign_others")
    if previous == to_user_id:
        return conversation
    now = clock.now()
    conversation.assignee_id = to_user_id
    conversation.assigned_at = now if to_user_id is not None else None
    if target is not None:
        target.last_assigned_at = now
    data: dict[str, Any] = {"to": to_user_id, "from": previous}
    if override:
        data.update(by="supervisor", override=True)
    else:
        data["by"] = "self" if own else "supervisor"
    record(
        session,
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        at=now,
        actor_id=actor.actor_id,
        kind="assign" if to_user_id is not None else "unassign",
        data=data,
    )
    session.flush()
    return conversation
