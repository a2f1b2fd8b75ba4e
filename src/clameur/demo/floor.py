"""The living floor of the demo: a contact centre at work on the demo tenants' mentions.

:func:`prepare_floor` organises each demo tenant (calendars, SLA policies with business
hours, teams, queues, agents with skills, languages, capacity and presence: see
:mod:`clameur.demo.floor_setup`) and runs *before* the mentions are imported, so that the
import routes conversations and starts their SLA clocks. :func:`stage_floor` runs after:
it puts the floor in the state of a working day (see :mod:`clameur.demo.floor_work` for how
each action is dated), then publishes the replies at the moments they were sent and relays
the outbox:

- what is older than :data:`RECENT` was dealt with: its conversations taken and resolved
  by the agents, its alerts resolved and their incidents closed by the supervisor;
- the last hours (:data:`SCENES`, then the rest): conversations taken by agents and
  answered — resolved, waiting on the customer, pending, escalated to the back office with
  the fields it requires — with notes and tags, replies sent, one still a draft, some
  waiting for a supervisor's approval (the tenant's approval policy: replies about a brand
  in incident, or to a P1); a suspected coordinated campaign (raised by the campaign
  detector on the demo's review burst, see :mod:`clameur.demo.generator`) under review;
- each incident of an influencer or a spike answered in bulk with an approved holding
  answer, and the biggest one with an update of it waiting for approval;
- what came in during the last :data:`FRESH` minutes waits in the queues, SLA clocks
  running, for the worker to hand to online agents.

Idempotent: a tenant whose floor holds replies already is left as it is, so running
``clameur demo`` twice creates no team, queue, policy or reply twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func
from sqlalchemy.orm import Session

from clameur.care import incidents as care_incidents
from clameur.care import routing
from clameur.care.channels import ChannelRegistry, default_channels, publish_reply
from clameur.care.incidents import INCIDENT_KINDS
from clameur.care.models import (
    OPEN_STATUSES,
    AgentState,
    BusinessCalendar,
    Conversation,
    Incident,
    Queue,
    Reply,
    SlaPolicy,
    Team,
)
from clameur.care.replies import reply_handlers
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.db.repository import TenantRepository
from clameur.demo.accounts import DemoAccounts
from clameur.demo.floor_setup import Crew, crew, stage_setup
from clameur.demo.floor_work import NOTES, Desk, pick
from clameur.demo.generator import DEMO_TENANTS
from clameur.demo.staff import PLANS
from clameur.detection import triage
from clameur.detection.models import Alert
from clameur.pipeline import Pipeline
from clameur.pipeline.handlers import outbox_handlers
from clameur.pipeline.worker import relay_all
from clameur.tenancy import Tenant, find_user, get_tenant

RECENT: Final = timedelta(hours=6)
"""Conversations and alerts quiet for longer than this were dealt with."""
SETTLED: Final = timedelta(minutes=90)
"""Answered conversations quiet for longer than this are resolved; newer ones wait."""
FRESH: Final = timedelta(minutes=40)
"""Conversations active within this are new work: nobody has answered them yet."""

SCENES: Final[tuple[tuple[str, int], ...]] = (
    ("draft", 0),
    ("approval", 0),
    ("waiting", 0),
    ("escalated", 0),
    ("resolved", 0),
    ("open", 0),
    ("open", 1),
    ("approval", 1),
    ("pending", 1),
    ("approved", 1),
    ("waiting", 1),
    ("open", 2),
    ("pending", 2),
    ("escalated", 2),
    ("resolved", 2),
    ("waiting", 3),
    ("resolved", 3),
    ("resolved", 4),
    ("waiting", 4),
)
"""The last hours' work, by agent (their index in the tenant's plan: 0 is the demo agent,
3 is away, 4 offline: those two hold only conversations they answered)."""


@dataclass(frozen=True, slots=True)
class TenantFloor:
    """What one demo tenant's floor holds (read from the database)."""

    slug: str
    name: str
    calendars: tuple[str, ...]
    teams: tuple[str, ...]
    queues: tuple[str, ...]
    policies: int
    agents: tuple[tuple[str, str, int], ...]
    """(e-mail, presence, open conversations they hold), in the plan's order."""
    statuses: Mapping[str, int]
    """Conversations by status."""
    replies: Mapping[str, int]
    """Replies by status."""
    incident: str | None
    """Title of an open incident whose holding answer waits for approval."""
    campaign: str | None
    """Summary of an open campaign alert."""


@dataclass(frozen=True, slots=True)
class FloorSummary:
    tenants: tuple[TenantFloor, ...]

    def tenant(self, slug: str) -> TenantFloor:
        return next(t for t in self.tenants if t.slug == slug)

    def describe(self) -> str:
        """One line per tenant: what is on its floor."""
        lines = []
        for t in self.tenants:
            presence = Counter(p for _, p, _ in t.agents)
            states = ", ".join(f"{n} {s}" for s, n in sorted(t.statuses.items()))
            lines.append(
                f"  {t.name}: {len(t.teams)} teams, {len(t.queues)} queues, {t.policies} SLA "
                f"policies; {len(t.agents)} agents ({presence['online']} online, "
                f"{presence['away']} away, {presence['offline']} offline); conversations: "
                f"{states}; replies: {t.replies.get('sent', 0)} sent, "
                f"{t.replies.get('pending_approval', 0)} awaiting approval"
            )
        return "\n".join(lines)

    def guide(self, accounts: DemoAccounts, slug: str = "volta") -> str:
        """Which account to sign in as for each role, and what it will see (a line each)."""
        t = self.tenant(slug)
        mine = next((held for email, _, held in t.agents if email.startswith("agent@")), 0)
        pending = t.replies.get("pending_approval", 0)
        to_approve = f"{pending} replies"
        if t.incident:
            to_approve += " and the incident's updated holding answer"
        to_approve += " to approve"
        campaigns = [x.name for x in self.tenants if x.campaign]
        review = f"; the suspected review campaign on {campaigns[0]}" if campaigns else ""
        others = [x for x in self.tenants if x.slug != slug]
        rows = (
            (
                "agent",
                accounts.email("agent", slug),
                f"your {mine} open conversations (a draft, replies awaiting approval, "
                "customers waiting on you) and your queues, SLA clocks running",
            ),
            (
                "supervisor",
                accounts.email("supervisor", slug),
                f"the floor: agents' presence and load, {to_approve}{review}",
            ),
            (
                "client viewer",
                accounts.email("viewer", slug),
                f"{t.name} as its client sees it: conversations, alerts, reports "
                "(read-only; may approve replies)",
            ),
            (
                "admin",
                accounts.email("admin", slug),
                f"{t.name}'s set-up: Sources (the live forum feed, a webhook) and their "
                "health, teams, queues, SLA policies with business hours, users, audit log",
            ),
            (
                "operator",
                accounts.email("admin", "*"),
                "every tenant, as admin, and the tenants themselves",
            ),
        )
        width = max(len(email) for _, email, _ in rows)
        where = "".join(f"; {x.name}: @{x.slug}.example" for x in others)
        lines = [f"Who to sign in as ({t.name}{where}, same roles):"]
        lines += [f"  {role + ':':<14} {email:<{width}}  {what}" for role, email, what in rows]
        return "\n".join(lines)


def _plans() -> list[tuple[str, str]]:
    return [(t.slug, t.name) for t in DEMO_TENANTS if t.slug in PLANS]


def _crew(session: Session, slug: str, accounts: DemoAccounts) -> Crew:
    emails = {role: accounts.email(role, slug) for role in ("admin", "supervisor")}
    return crew(session, get_tenant(session, slug), PLANS[slug], emails)


def prepare_floor(pipeline: Pipeline, accounts: DemoAccounts) -> None:
    """Organise every demo tenant's floor (idempotent); run it before the import."""
    for slug, _ in _plans():
        with session_scope(pipeline.factory) as session:
            stage_setup(session, pipeline.clock, _crew(session, slug, accounts))


def stage_floor(pipeline: Pipeline, accounts: DemoAccounts) -> FloorSummary:
    """Put each demo tenant's floor to work (once; idempotent), publish the replies it
    sent at the moments they were sent, relay the outbox, and say what the floor holds."""
    prepare_floor(pipeline, accounts)
    channels = default_channels(pipeline.settings)
    sent: list[tuple[int, int, datetime]] = []
    for slug, _ in _plans():
        with session_scope(pipeline.factory) as session:
            people = _crew(session, slug, accounts)
            if TenantRepository(session, people.tenant.id, Reply).count():
                continue  # staged already: nothing is added twice
            desk = _stage_tenant(session, pipeline.clock.now(), people, channels)
            by_email = set(
                session.scalars(
                    TenantRepository(session, people.tenant.id, Reply)
                    .select(Reply.id)
                    .where(Reply.status == "queued", Reply.channel == "email")
                )
            )
            sent += [
                (people.tenant.id, reply_id, at)
                for reply_id, at in desk.to_publish
                if reply_id not in by_email  # e-mail: left to the relay and its SMTP server
            ]
    for tenant_id, reply_id, at in sorted(sent, key=lambda s: (s[2], s[1])):
        payload = {"tenant_id": tenant_id, "reply_id": reply_id}
        publish_reply(pipeline.factory, FrozenClock(at), channels, payload)
    handlers = outbox_handlers(pipeline.settings, pipeline.factory)
    handlers.update(
        reply_handlers(pipeline.factory, pipeline.settings, clock=pipeline.clock, channels=channels)
    )
    relay_all(pipeline.factory, pipeline.clock, handlers)  # their events: published already
    return summarise(pipeline)


# -- staging one tenant ------------------------------------------------------------------


def _stage_tenant(session: Session, now: datetime, people: Crew, channels: ChannelRegistry) -> Desk:
    tenant_id = people.tenant.id
    routing.route_pending(session, tenant_id)  # conversations imported before the queues
    back_office = session.scalars(
        TenantRepository(session, tenant_id, Team)
        .select()
        .where(Team.name == people.plan.back_office)
    ).one()
    desk = Desk(session, people, now, channels, back_office.id)
    _settle_alerts(desk)
    open_incidents = set(
        session.scalars(
            TenantRepository(session, tenant_id, Incident)
            .select(Incident.id)
            .where(Incident.status == "open")
        )
    )
    untouched = session.scalars(
        TenantRepository(session, tenant_id, Conversation)
        .select()
        .where(Conversation.status == "open", Conversation.assignee_id.is_(None))
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
    ).all()
    regular = [
        c
        for c in untouched
        if c.incident_id not in open_incidents and "campaign" not in (c.flags or [])
    ]
    fresh = [c for c in regular if now - c.last_activity_at < FRESH]
    window = [c for c in regular if FRESH <= now - c.last_activity_at < RECENT]
    backlog = [c for c in regular if now - c.last_activity_at >= RECENT]
    in_incidents = [
        c
        for c in untouched
        if c.incident_id in open_incidents and "campaign" not in (c.flags or [])
    ]
    _scenes(desk, fresh, window, backlog, in_incidents)
    _answer(desk, window)
    _incidents(desk)
    _resolve(desk, backlog)
    return desk


def _settle_alerts(desk: Desk) -> None:
    """Alerts quiet for :data:`RECENT` were resolved and their incidents closed; an open
    campaign alert is under review (acknowledged)."""
    session, people, now = desk.session, desk.people, desk.now
    alerts = {
        a.id: a
        for a in session.scalars(
            TenantRepository(session, desk.tenant_id, Alert).select().order_by(Alert.id)
        )
    }
    for alert in alerts.values():
        if alert.status != "open":
            continue
        if now - alert.updated_at >= RECENT:
            at = desk.when(alert.updated_at + timedelta(minutes=50 + alert.id % 70))
            triage.resolve(session, at, people.supervisor, alert.id, note="Traité.")
        elif alert.kind == "campaign":
            at = desk.when(alert.triggered_at + timedelta(minutes=25))
            triage.acknowledge(session, at, people.supervisor, alert.id)
    incidents = session.scalars(
        TenantRepository(session, desk.tenant_id, Incident)
        .select()
        .where(Incident.status == "open")
        .order_by(Incident.id)
    ).all()
    for incident in incidents:
        alert = alerts.get(incident.alert_id) if incident.alert_id is not None else None
        if alert is None or now - alert.updated_at >= RECENT:
            at = incident.opened_at + timedelta(hours=2)
            care_incidents.close_incident(session, desk.clock(at), people.supervisor, incident.id)


def _take(pools: Sequence[list[Conversation]], scene: str, desk: Desk) -> Conversation | None:
    """The first conversation of the first pool that suits ``scene`` (taken out of it)."""
    for pool in pools:
        for i, c in enumerate(pool):
            if scene in ("waiting", "resolved", "approved") and c.source == "email":
                continue  # a reply that is sent: e-mail would need an SMTP server
            if scene in ("approval", "approved") and not desk.needs_approval(c):
                continue
            return pool.pop(i)
    return None


def _scenes(
    desk: Desk,
    fresh: list[Conversation],
    window: list[Conversation],
    backlog: list[Conversation],
    in_incidents: list[Conversation],
) -> None:
    people = desk.people
    agents = people.agents
    colleague = people.plan.agents[1].local
    team = people.plan.back_office
    topic = people.plan.topic
    fields = people.plan.escalation
    for scene, index in SCENES:
        pools = [fresh, window, backlog] if scene in ("draft", "open") else [window, fresh, backlog]
        if scene == "approval":
            pools.append(in_incidents)
        c = _take(pools, scene, desk)
        if c is None:
            continue
        agent = agents[index % len(agents)]
        at = desk.assign(c, agent, c.opened_at + timedelta(minutes=2 + c.id % 9))
        at = max(at, c.last_activity_at)
        if scene == "open":
            desk.note(c, agent, pick(NOTES["open"], c).format(colleague=colleague), at)
        elif scene == "draft":
            desk.reply(c, agent, desk.text("draft", c), at + timedelta(minutes=1), send=False)
        elif scene == "approval":
            desk.tag(c, agent, "geste commercial", at=at)
            desk.reply(c, agent, desk.text("approval", c), at + timedelta(minutes=6), approve=False)
        elif scene in ("waiting", "resolved", "approved"):
            text = desk.text("waiting" if scene == "waiting" else "resolved", c)
            _, at = desk.reply(c, agent, text, at + timedelta(minutes=5 + c.id % 11))
            if scene == "waiting":
                desk.tag(c, agent, "info demandée", at=at)
            desk.status(c, agent, "waiting" if scene == "waiting" else "resolved", at)
        elif scene == "pending":
            text = pick(NOTES["pending"], c).format(team=team, colleague=colleague)
            desk.note(c, agent, text, at + timedelta(minutes=3))
            desk.tag(c, agent, topic, at=at + timedelta(minutes=3))
            desk.status(c, agent, "pending", at + timedelta(minutes=4))
        elif scene == "escalated":
            desk.note(c, agent, pick(NOTES["escalated"], c).format(team=team), at)
            filled = {k: v.format(id=c.id) for k, v in fields}
            desk.escalate(c, agent, filled, at + timedelta(minutes=8))


def _answer(desk: Desk, window: list[Conversation]) -> None:
    """The rest of the last hours: answered by online agents, resolved once settled;
    e-mails taken, being worked on."""
    online = [
        p
        for p, a in zip(desk.people.agents, desk.people.plan.agents, strict=True)
        if a.presence == "online"
    ]
    for n, c in enumerate(window):
        agent = online[n % len(online)]
        at = desk.assign(c, agent, c.opened_at + timedelta(minutes=3 + c.id % 12))
        if c.source == "email":
            continue
        settled = desk.now - c.last_activity_at >= SETTLED
        text = desk.text("resolved" if settled else "waiting", c)
        start = max(at, c.last_activity_at) + timedelta(minutes=4 + c.id % 17)
        _, at = desk.reply(c, agent, text, start)
        desk.status(c, agent, "resolved" if settled else "waiting", at + timedelta(minutes=2))


def _incidents(desk: Desk) -> None:
    """Each open incident (of an influencer or a spike) answered in bulk with its approved
    holding answer; the biggest one has an update of it waiting for approval. An incident
    holding suspected campaign posts is not answered (the campaign is under review)."""
    session, people = desk.session, desk.people
    flagged = {
        incident_id
        for incident_id, flags in session.execute(
            TenantRepository(session, desk.tenant_id, Conversation)
            .select(Conversation.incident_id, Conversation.flags)
            .where(Conversation.incident_id.is_not(None))
        )
        if "campaign" in (flags or [])
    }
    rows = session.execute(
        TenantRepository(session, desk.tenant_id, Incident)
        .select(Incident, func.count(Conversation.id), func.max(Conversation.last_activity_at))
        .join(Alert, Alert.id == Incident.alert_id)
        .join(Conversation, Conversation.incident_id == Incident.id)
        .where(Incident.status == "open", Alert.kind.in_(INCIDENT_KINDS))
        .group_by(Incident.id)
        .order_by(func.count(Conversation.id).desc(), Incident.id)
    ).all()
    rows = [row for row in rows if row[0].id not in flagged]
    first, update = people.plan.holding_answers
    writer = people.agents[1]
    for incident, _, latest in rows:
        approved = desk.clock(incident.opened_at + timedelta(minutes=25))
        care_incidents.approve_holding_answer(
            session, approved, people.supervisor, incident.id, first
        )
        at = desk.when(max(latest, approved.now()) + timedelta(minutes=2))
        bulk = care_incidents.bulk_reply(
            session, FrozenClock(at), writer, incident.id, channels=desk.channels
        )
        sent_at = desk.when(at + timedelta(minutes=1))
        desk.to_publish += [(reply_id, sent_at) for reply_id in bulk.replies]
    if rows:
        main = rows[0][0]
        at = desk.now - timedelta(minutes=3)
        care_incidents.set_holding_answer(session, desk.clock(at), writer, main.id, update)


def _resolve(desk: Desk, backlog: list[Conversation]) -> None:
    """Older conversations were taken and resolved, by everyone (answered elsewhere: by
    phone, or no answer needed; the last hours' work shows the replies)."""
    agents = desk.people.agents
    for n, c in enumerate(backlog):
        agent = agents[n % len(agents)]
        at = desk.assign(c, agent, c.opened_at + timedelta(minutes=4 + c.id % 25))
        at = max(at, c.last_activity_at) + timedelta(minutes=10 + c.id % 90)
        desk.status(c, agent, "resolved", at)


# -- what the floor holds ----------------------------------------------------------------


def summarise(pipeline: Pipeline) -> FloorSummary:
    """Each demo tenant's floor, as the database holds it."""
    found = []
    with session_scope(pipeline.factory) as session:
        for slug, name in _plans():
            found.append(_summarise(session, get_tenant(session, slug), name))
    return FloorSummary(tuple(found))


def _summarise(session: Session, tenant: Tenant, name: str) -> TenantFloor:
    conversations = TenantRepository(session, tenant.id, Conversation)
    by_status = conversations.select(Conversation.status, func.count()).group_by(
        Conversation.status
    )
    statuses: dict[str, int] = {str(k): int(v) for k, v in session.execute(by_status)}
    replies = TenantRepository(session, tenant.id, Reply)
    by_reply = replies.select(Reply.status, func.count()).group_by(Reply.status)
    reply_statuses: dict[str, int] = {str(k): int(v) for k, v in session.execute(by_reply)}
    by_agent = (
        conversations.select(Conversation.assignee_id, func.count())
        .where(Conversation.status.in_(OPEN_STATUSES))
        .group_by(Conversation.assignee_id)
    )
    held: dict[int, int] = {int(k): int(v) for k, v in session.execute(by_agent) if k is not None}
    agents = []
    for spec in PLANS[tenant.slug].agents:
        email = spec.email(tenant.slug)
        user = find_user(session, email)
        state = session.get(AgentState, user.id) if user is not None else None
        presence = state.presence if state is not None else "offline"
        agents.append((email, presence, int(held.get(user.id, 0)) if user else 0))
    incident = session.scalars(
        TenantRepository(session, tenant.id, Incident)
        .select(Incident.title)
        .where(
            Incident.status == "open",
            Incident.holding_answer.is_not(None),
            Incident.approved_by.is_(None),
        )
        .order_by(Incident.id)
    ).first()
    campaign = session.scalars(
        TenantRepository(session, tenant.id, Alert)
        .select(Alert.summary)
        .where(Alert.status == "open", Alert.kind == "campaign")
        .order_by(Alert.id)
    ).first()
    return TenantFloor(
        slug=tenant.slug,
        name=name,
        calendars=tuple(
            session.scalars(
                TenantRepository(session, tenant.id, BusinessCalendar)
                .select(BusinessCalendar.name)
                .order_by(BusinessCalendar.id)
            )
        ),
        teams=tuple(
            session.scalars(
                TenantRepository(session, tenant.id, Team).select(Team.name).order_by(Team.id)
            )
        ),
        queues=tuple(
            session.scalars(
                TenantRepository(session, tenant.id, Queue)
                .select(Queue.name)
                .order_by(Queue.position, Queue.id)
            )
        ),
        policies=TenantRepository(session, tenant.id, SlaPolicy).count(),
        agents=tuple(agents),
        statuses=statuses,
        replies=reply_statuses,
        incident=incident,
        campaign=campaign,
    )
