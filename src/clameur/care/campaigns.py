"""Campaign review: a supervisor confirms or rejects a suspected coordinated campaign.

Detection (:mod:`clameur.detection.campaign`) raises a ``campaign`` alert for a cluster of
near-identical texts from fresh accounts and flags its mentions ``campaign``; care gives
each one's conversation the flag and groups it under the alert's incident, out of the
queues (:mod:`clameur.care.service`, :func:`clameur.care.routing.route_conversations`).

- :func:`campaign_view` (``campaigns.read``): the cluster side by side — each post's text,
  author, account age at post time, followers, timing — with the alert's score and reasons.
- :func:`confirm_campaign` (``campaigns.review``): it is a campaign. The alert is resolved
  with the verdict ``confirmed``; every member conversation leaves the queues for good
  (``closed``, flag ``campaign_confirmed`` beside ``campaign``, unassigned, no queue,
  timeline event ``campaign_confirmed``); the posts stay flagged (their alert keeps them)
  and :func:`campaign_report_csv` exports them for the platform's abuse team.
- :func:`reject_campaign` (``campaigns.review``): genuine customers after all. Verdict
  ``rejected``, alert resolved, the ``campaign`` flag leaves the member conversations and
  the open ones are routed as ordinary work (timeline event ``campaign_rejected``).

- :func:`flag_earlier_members` (detection, no principal): posts stored before the
  campaign was recognised get what later ones get on arrival — flag ``campaign``, out of
  the queues, under the campaign's incident — in the detector's transaction. They are
  members of the alert, so :func:`reject_campaign` returns them to ordinary work too.

Either verdict closes the campaign's incident; a second verdict is refused. Both lock the alert's
row (PostgreSQL), so two supervisors deciding at once take turns and the second is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, tuple_
from sqlalchemy.orm import Session

from clameur.care import routing, sla
from clameur.care.audit import audit, record
from clameur.care.incidents import new_incident
from clameur.care.models import OPEN_STATUSES, Conversation, Incident
from clameur.clock import Clock
from clameur.db.repository import TenantRepository
from clameur.detection import triage
from clameur.detection.models import Alert, AlertMention
from clameur.errors import InvalidInputError, NotFoundError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

KIND = "campaign"
FLAG = "campaign"
CONFIRMED_FLAG = "campaign_confirmed"
VIEW_LIMIT = 1000
"""Posts shown side by side at most (the report has them all)."""
REPORT_COLUMNS = (
    "platform",
    "external_id",
    "url",
    "author_handle",
    "account_created",
    "followers",
    "posted_at",
    "text",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class CampaignMember:
    """One post of the cluster, with what its author's account looked like then."""

    mention_id: int | None
    source: str
    external_id: str
    role: str
    """tip (the post that raised it) or member."""
    posted_at: datetime
    offset_seconds: float
    """Seconds after the cluster's first post."""
    text: str | None
    url: str | None
    author_id: int | None
    handle: str
    name: str | None
    account_created_at: datetime | None
    account_age_days: float | None
    """The account's age when it posted (None: unknown)."""
    followers: int | None
    verified: bool
    conversation_id: int | None


@dataclass(frozen=True, slots=True)
class CampaignView:
    alert: dict[str, Any]
    """As :func:`clameur.detection.triage.get_alert` (status, summary, verdict…)."""
    score: float | None
    reasons: list[str]
    signals: dict[str, Any]
    members: list[CampaignMember]
    """Sorted by posting time (at most :data:`VIEW_LIMIT`)."""
    total: int
    """Posts in the cluster."""
    incident_id: int | None
    conversation_ids: list[int]


@dataclass(frozen=True, slots=True)
class CampaignVerdict:
    alert_id: int
    verdict: str
    incident_id: int | None
    conversations: list[int] = field(default_factory=list)
    """Member conversations the verdict changed."""


def _alert(session: Session, actor: Principal, alert_id: int, *, lock: bool = False) -> Alert:
    stmt = TenantRepository.of(session, actor, Alert).select().where(Alert.id == alert_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    alert: Alert | None = session.scalars(stmt).first()
    if alert is None:
        raise NotFoundError(f"alert {alert_id} not found")
    if alert.kind != KIND:
        raise InvalidInputError(f"alert {alert_id} is a {alert.kind} alert, not a campaign")
    return alert


def _members(
    session: Session, tenant_id: int, alert_id: int, limit: int | None
) -> tuple[list[CampaignMember], int]:
    am = AlertMention
    stmt = (
        select(am, Mention, Author)
        .outerjoin(
            Mention,
            and_(
                Mention.tenant_id == am.tenant_id,
                Mention.source == am.source,
                Mention.external_id == am.external_id,
            ),
        )
        .outerjoin(Author, Author.id == Mention.author_id)
        .where(am.tenant_id == tenant_id, am.alert_id == alert_id)
        .order_by(am.created_at, am.external_id)
    )
    total = session.scalar(
        select(Alert.count).where(Alert.tenant_id == tenant_id, Alert.id == alert_id)
    )
    rows = session.execute(stmt.limit(limit) if limit is not None else stmt).all()
    first = rows[0][0].created_at if rows else None
    out = []
    for link, mention, author in rows:
        posted = mention.created_at if mention is not None else link.created_at
        created = author.account_created_at if author is not None else None
        age = (posted - created).total_seconds() / 86400 if created is not None else None
        out.append(
            CampaignMember(
                mention_id=mention.id if mention is not None else None,
                source=link.source,
                external_id=link.external_id,
                role=link.role,
                posted_at=posted,
                offset_seconds=(posted - first).total_seconds() if first is not None else 0.0,
                text=mention.text if mention is not None else None,
                url=mention.url if mention is not None else None,
                author_id=author.id if author is not None else None,
                handle=author.handle if author is not None else link.author,
                name=author.name if author is not None else None,
                account_created_at=created,
                account_age_days=round(age, 1) if age is not None and age >= 0 else None,
                followers=author.followers if author is not None else None,
                verified=bool(author.verified) if author is not None else False,
                conversation_id=mention.conversation_id if mention is not None else None,
            )
        )
    out.sort(key=lambda m: (m.posted_at, m.external_id))
    return out, max(int(total or 0), len(out))


def _incident(session: Session, tenant_id: int, alert_id: int) -> Incident | None:
    return session.scalars(
        TenantRepository(session, tenant_id, Incident)
        .select()
        .where(Incident.alert_id == alert_id)
        .order_by(Incident.id)
        .limit(1)
    ).first()


def _conversation_ids(
    session: Session, tenant_id: int, alert: Alert, incident_id: int | None
) -> list[int]:
    """The member posts' conversations and those grouped under the campaign's incident."""
    am = AlertMention
    via_mentions = (
        select(Mention.conversation_id)
        .join(
            am,
            and_(
                am.tenant_id == Mention.tenant_id,
                am.source == Mention.source,
                am.external_id == Mention.external_id,
            ),
        )
        .where(
            am.alert_id == alert.id,
            Mention.tenant_id == tenant_id,
            Mention.conversation_id.is_not(None),
        )
    )
    ids = {i for i in session.scalars(via_mentions) if i is not None}
    if incident_id is not None:
        ids |= set(
            session.scalars(
                select(Conversation.id).where(
                    Conversation.tenant_id == tenant_id, Conversation.incident_id == incident_id
                )
            )
        )
    return sorted(ids)


def campaign_view(
    session: Session,
    principal: Principal,
    alert_id: int,
    *,
    now: datetime | None = None,
    limit: int = VIEW_LIMIT,
) -> CampaignView:
    """The suspected campaign's cluster (``campaigns.read``), posts in posting order."""
    principal = refresh(session, principal)
    authorize(principal, "campaigns.read")
    alert = _alert(session, principal, alert_id)
    item = triage.get_alert(session, principal, alert_id, now=now)
    members, total = _members(session, principal.tenant_id, alert.id, limit)
    incident = _incident(session, principal.tenant_id, alert.id)
    evidence = alert.evidence or {}
    score = evidence.get("score")
    return CampaignView(
        alert=item,
        score=float(score) if isinstance(score, int | float) else None,
        reasons=[str(r) for r in evidence.get("why") or []],
        signals=dict(evidence.get("signals") or {}),
        members=members,
        total=total,
        incident_id=incident.id if incident is not None else None,
        conversation_ids=_conversation_ids(
            session, principal.tenant_id, alert, incident.id if incident else None
        ),
    )


def _load(session: Session, tenant_id: int, ids: Sequence[int]) -> list[Conversation]:
    found: list[Conversation] = []
    for i in range(0, len(ids), _CHUNK):
        found.extend(
            session.scalars(
                select(Conversation)
                .where(
                    Conversation.tenant_id == tenant_id, Conversation.id.in_(ids[i : i + _CHUNK])
                )
                .order_by(Conversation.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
    return found


def _verdict(
    session: Session,
    clock: Clock,
    actor: Principal,
    alert_id: int,
    verdict: str,
    note: str | None,
) -> tuple[Alert, Incident | None, list[Conversation]]:
    actor = refresh(session, actor)
    authorize(actor, "campaigns.review")
    alert = _alert(session, actor, alert_id, lock=True)
    triage.record_verdict(session, clock.now(), actor, alert, verdict, note=note)
    incident = _incident(session, actor.tenant_id, alert.id)
    ids = _conversation_ids(session, actor.tenant_id, alert, incident.id if incident else None)
    if incident is not None and incident.status == "open":
        incident.status = "closed"
        audit(
            session,
            tenant_id=actor.tenant_id,
            at=clock.now(),
            actor_id=actor.actor_id,
            action="incident.close",
            object_type="incident",
            object_id=incident.id,
            data={"by": f"campaign_{verdict}", "alert_id": alert.id},
        )
    return alert, incident, _load(session, actor.tenant_id, ids)


def confirm_campaign(
    session: Session, clock: Clock, actor: Principal, alert_id: int, *, note: str | None = None
) -> CampaignVerdict:
    """It is a coordinated campaign (``campaigns.review``): see the module."""
    alert, incident, members = _verdict(session, clock, actor, alert_id, "confirmed", note)
    now = clock.now()
    for conversation in members:
        before = conversation.custom_status or conversation.status
        flags = list(conversation.flags or [])
        conversation.flags = [*flags, *(f for f in (FLAG, CONFIRMED_FLAG) if f not in flags)]
        previous = conversation.assignee_id
        conversation.status, conversation.custom_status = "closed", None
        conversation.assignee_id = conversation.assigned_at = None
        conversation.queue_id = conversation.snoozed_until = None
        conversation.resolved_at = conversation.resolved_at or now
        record(
            session,
            tenant_id=alert.tenant_id,
            conversation_id=conversation.id,
            at=now,
            actor_id=actor.actor_id,
            kind="campaign_confirmed",
            data={"alert_id": alert.id, "from": before, "assignee": previous},
        )
    session.flush()
    for conversation in members:
        sla.on_status_change(session, alert.tenant_id, conversation.id, now)  # clocks stop
    _audit(session, now, actor, alert, "campaign.confirm", members, note)
    return CampaignVerdict(
        alert.id, "confirmed", incident.id if incident else None, [c.id for c in members]
    )


def reject_campaign(
    session: Session, clock: Clock, actor: Principal, alert_id: int, *, note: str | None = None
) -> CampaignVerdict:
    """Not a campaign (``campaigns.review``): the conversations become ordinary work."""
    alert, incident, members = _verdict(session, clock, actor, alert_id, "rejected", note)
    now = clock.now()
    for conversation in members:
        conversation.flags = [f for f in (conversation.flags or []) if f != FLAG]
        record(
            session,
            tenant_id=alert.tenant_id,
            conversation_id=conversation.id,
            at=now,
            actor_id=actor.actor_id,
            kind="campaign_rejected",
            data={"alert_id": alert.id, "status": conversation.status},
        )
    session.flush()
    waiting = [c for c in members if c.status in OPEN_STATUSES]
    routing.route_conversations(session, alert.tenant_id, waiting)  # queued as usual
    _audit(session, now, actor, alert, "campaign.reject", members, note)
    return CampaignVerdict(
        alert.id, "rejected", incident.id if incident else None, [c.id for c in members]
    )


def _audit(
    session: Session,
    now: datetime,
    actor: Principal,
    alert: Alert,
    action: str,
    members: Sequence[Conversation],
    note: str | None,
) -> None:
    audit(
        session,
        tenant_id=alert.tenant_id,
        at=now,
        actor_id=actor.actor_id,
        action=action,
        object_type="alert",
        object_id=alert.id,
        data={"conversations": len(members), "note": (note or "").strip()[:1000] or None},
    )
    session.flush()


def flag_earlier_members(
    session: Session,
    tenant_id: int,
    alert_id: int,
    members: Sequence[tuple[str, str]],
    at: datetime,
) -> list[int]:
    """Retro-flagging: the conversations of campaign posts (``(source, external_id)``)
    stored before the alert named them are flagged ``campaign``, leave their queue and join
    the campaign's incident (opened if it has none yet), as a post arriving after the alert
    does; each gets a ``campaign_flagged`` timeline event at event time ``at``. Nothing is
    committed here (the detector's batch is the transaction). Returns the conversations
    changed."""
    pairs = sorted(set(members))
    ids: set[int] = set()
    mentions = TenantRepository(session, tenant_id, Mention)
    for i in range(0, len(pairs), _CHUNK):
        ids.update(
            session.scalars(
                mentions.select(Mention.conversation_id).where(
                    tuple_(Mention.source, Mention.external_id).in_(pairs[i : i + _CHUNK]),
                    Mention.conversation_id.is_not(None),
                )
            )
        )
    conversations = [
        c
        for c in _load(session, tenant_id, sorted(i for i in ids if i is not None))
        if FLAG not in (c.flags or [])
    ]
    if not conversations:
        return []
    incident = _incident(session, tenant_id, alert_id)
    if incident is None:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.tenant_id != tenant_id:
            raise NotFoundError(f"alert {alert_id} not found")
        incident = new_incident(session, alert)
    for conversation in conversations:
        conversation.flags = [*(conversation.flags or []), FLAG]
        previous = conversation.queue_id
        conversation.queue_id = None
        if conversation.incident_id is None:
            conversation.incident_id = incident.id
        record(
            session,
            tenant_id=tenant_id,
            conversation_id=conversation.id,
            at=at,
            actor_id=None,
            kind="campaign_flagged",
            data={"alert_id": alert_id, "queue_id": previous},
        )
    session.flush()
    return [c.id for c in conversations]


# -- the platform's report ------------------------------------------------------------------


def campaign_report(session: Session, principal: Principal, alert_id: int) -> list[dict[str, Any]]:
    """One row per post of the cluster (``campaigns.read``), in posting order: what a
    platform's abuse team needs (:data:`REPORT_COLUMNS`)."""
    principal = refresh(session, principal)
    authorize(principal, "campaigns.read")
    alert = _alert(session, principal, alert_id)
    members, _ = _members(session, principal.tenant_id, alert.id, None)
    return [
        {
            "platform": m.source,
            "external_id": m.external_id,
            "url": m.url,
            "author_handle": m.handle,
            "account_created": m.account_created_at.isoformat() if m.account_created_at else None,
            "followers": m.followers,
            "posted_at": m.posted_at.isoformat(),
            "text": m.text,
        }
        for m in members
    ]


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting with ``= + - @`` (or a tab or
    carriage return) gets a leading ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def campaign_report_csv(session: Session, principal: Principal, alert_id: int) -> str:
    """:func:`campaign_report` as CSV (a header row, then one row per post)."""
    rows = campaign_report(session, principal, alert_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow([safe_cell(row[name]) for name in REPORT_COLUMNS])
    return out.getvalue()
