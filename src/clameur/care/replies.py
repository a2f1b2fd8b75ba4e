"""Replies: canned answers with variables, drafting, approval, sending; moderation actions.

A reply goes ``draft`` → (``pending_approval`` → ``approved`` | ``rejected``) → ``queued`` →
``sent`` | ``failed``. Approval is required (:func:`approval_reasons`) when the tenant's
``settings["care"]["approval"]`` says so:

- ``"all": true`` — every reply of the tenant;
- ``"brands": [brand ids]`` — every reply about those brands;
- ``"p1": true`` (default) — replies to P1 conversations;
- ``"incident": true`` (default) — while the conversation's brand has an open incident, or
  the conversation belongs to one.

Who approves is the policy table's ``replies.approve`` (supervisors, admins, and the
client's own viewers). Queueing re-checks the rule, so nothing leaves without
an approval when one is required, whatever path asked for it. Queueing enqueues the outbox
event ``care.reply`` in the caller's transaction; the handler in :mod:`clameur.care.channels`
publishes after commit and records ``sent`` or ``failed``.

Templates (canned replies, incident holding answers) contain ``{variable}`` placeholders,
``{{`` and ``}}`` for literal braces. They are parsed here, never handed to ``str.format``:
no attribute access, no indexing, no format specs — a value is inserted as it is, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clameur.care.audit import audit, record
from clameur.care.canned import MAX_TEXT, _brand
from clameur.care.channels import (
    MODERATION_ACTIONS,
    MODERATION_EVENT,
    REPLY_EVENT,
    ChannelRegistry,
    check_visibility,
    default_channels,
    default_visibility,
)
from clameur.care.channels import (  # re-exported: the outbox handlers of replies live here too
    reply_handlers as reply_handlers,
)
from clameur.care.models import Conversation, Incident, Reply
from clameur.care.repository import Conversations
from clameur.care.repository import Replies as Replies
from clameur.clock import Clock
from clameur.core.outbox import enqueue
from clameur.errors import InvalidInputError, NotFoundError
from clameur.mentions.models import Mention
from clameur.tenancy.models import Tenant
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

REPLY_STATUSES = ("draft", "pending_approval", "approved", "rejected", "queued", "sent", "failed")
"""Variables :func:`conversation_variables` provides (``brand`` only when there is one)."""


# -- approval -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """``Tenant.settings["care"]["approval"]``; missing keys take these defaults."""

    all: bool = False
    brands: frozenset[int] = frozenset()
    p1: bool = True
    incident: bool = True

    def as_settings(self) -> dict[str, Any]:
        return {
            "all": self.all,
            "brands": sorted(self.brands),
            "p1": self.p1,
            "incident": self.incident,
        }


def approval_policy(tenant_settings: Mapping[str, Any] | None) -> ApprovalPolicy:
    care = (tenant_settings or {}).get("care") or {}
    raw = care.get("approval") if isinstance(care, Mapping) else None
    if raw is None:
        return ApprovalPolicy()
    if not isinstance(raw, Mapping):
        raise InvalidInputError("must be an object", where="tenant setting care.approval")
    brands = raw.get("brands") or []
    if not isinstance(brands, list) or not all(
        isinstance(b, int) and not isinstance(b, bool) for b in brands
    ):
        raise InvalidInputError("must be a list of brand ids", where="care.approval.brands")
    flags: dict[str, bool] = {}
    for key, default in (("all", False), ("p1", True), ("incident", True)):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise InvalidInputError("must be true or false", where=f"care.approval.{key}")
        flags[key] = value
    return ApprovalPolicy(
        all=flags["all"], brands=frozenset(brands), p1=flags["p1"], incident=flags["incident"]
    )


def set_approval_policy(
    session: Session, clock: Clock, actor: Principal, policy: ApprovalPolicy
) -> ApprovalPolicy:
    """Replace the tenant's approval policy (``approvals.manage``)."""
    actor = refresh(session, actor)
    authorize(actor, "approvals.manage")
    tenant_id = actor.tenant_id
    for brand_id in policy.brands:
        _brand(session, tenant_id, brand_id)
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError(f"tenant {tenant_id} not found")
    settings = dict(tenant.settings or {})
    settings["care"] = {**(settings.get("care") or {}), "approval": policy.as_settings()}
    tenant.settings = settings  # a new object: the JSON column sees the change
    audit(
        session,
        tenant_id=tenant_id,
        at=clock.now(),
        actor_id=actor.actor_id,
        action="tenant.approval_policy",
        object_type="tenant",
        object_id=tenant_id,
        data=policy.as_settings(),
    )
    session.flush()
    return policy


def approval_reasons(session: Session, tenant_id: int, conversation: Conversation) -> list[str]:
    """Why a reply to ``conversation`` needs a supervisor's approval (empty: it does not):
    ``all``, ``brand``, ``p1``, ``incident``."""
    tenant = session.get(Tenant, tenant_id)
    policy = approval_policy(tenant.settings if tenant else None)
    reasons = []
    if policy.all:
        reasons.append("all")
    if conversation.brand_id is not None and conversation.brand_id in policy.brands:
        reasons.append("brand")
    if policy.p1 and conversation.priority_level == "P1":
        reasons.append("p1")
    if policy.incident and _open_incident(session, tenant_id, conversation) is not None:
        reasons.append("incident")
    return reasons


def _open_incident(session: Session, tenant_id: int, conversation: Conversation) -> int | None:
    related = []
    if conversation.incident_id is not None:
        related.append(Incident.id == conversation.incident_id)
    if conversation.brand_id is not None:
        related.append(Incident.brand_id == conversation.brand_id)
    if not related:
        return None
    return session.scalar(
        select(Incident.id)
        .where(Incident.tenant_id == tenant_id, Incident.status == "open", or_(*related))
        .limit(1)
    )


# -- the reply lifecycle --------------------------------------------------------------------


def _text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInputError("a reply needs some text", where="text")
    if len(text) > MAX_TEXT:
        raise InvalidInputError(f"a reply is at most {MAX_TEXT} characters", where="text")
    return text


def latest_mention(session: Session, tenant_id: int, conversation_id: int) -> Mention | None:
    """The conversation's latest mention (event time): what a new reply answers."""
    return session.scalars(
        select(Mention)
        .where(Mention.tenant_id == tenant_id, Mention.conversation_id == conversation_id)
        .order_by(Mention.created_at.desc(), Mention.id.desc())
        .limit(1)
    ).first()


def draft_reply(
    session: Session,
    clock: Clock,
    actor: Principal,
    conversation_id: int,
    text: str,
    *,
    visibility: str | None = None,
    in_reply_to: str | None = None,
    channels: ChannelRegistry | None = None,
) -> Reply:
    """A draft answer. ``visibility`` defaults to public where the channel allows it;
    ``in_reply_to`` (a mention's external id in the conversation) to the latest mention."""
    actor = refresh(session, actor)
    authorize(actor, "replies.write")
    tenant_id = actor.tenant_id
    conversation = Conversations.of(session, actor).get(conversation_id)
    channel = (channels or default_channels()).for_tenant(conversation.source, tenant_id)
    visibility = check_visibility(channel, visibility or default_visibility(channel))
    if in_reply_to is None:
        latest = latest_mention(session, tenant_id, conversation_id)
        in_reply_to = latest.external_id if latest is not None else None
    else:
        found = session.scalar(
            select(Mention.id).where(
                Mention.tenant_id == tenant_id,
                Mention.conversation_id == conversation_id,
                Mention.external_id == in_reply_to,
            )
        )
        if found is None:
            raise NotFoundError(f"mention {in_reply_to!r} is not in conversation {conversation_id}")
    reply = Reply(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        author_id=actor.user_id,
        text=_text(text),
        visibility=visibility,
        status="draft",
        in_reply_to=in_reply_to,
        channel=channel.name,
        created_at=clock.now(),
    )
    session.add(reply)
    session.flush()
    _log(session, clock, reply, actor.actor_id, "reply_draft")
    return reply


def edit_reply(
    session: Session,
    clock: Clock,
    actor: Principal,
    reply_id: int,
    *,
    text: str | None = None,
    visibility: str | None = None,
    channels: ChannelRegistry | None = None,
) -> Reply:
    """Change a reply not yet queued; it becomes a draft again, and an approval it had is
    withdrawn (the changed text is asked anew)."""
    actor = refresh(session, actor)
    authorize(actor, "replies.write")
    reply = Replies.of(session, actor).get(reply_id)
    if reply.status not in ("draft", "pending_approval", "approved", "rejected"):
        raise InvalidInputError(f"reply {reply_id} is {reply.status}: it can no longer be edited")
    if text is not None:
        reply.text = _text(text)
    if visibility is not None:
        conversation = Conversations.of(session, actor).get(reply.conversation_id)
        registry = channels or default_channels()
        channel = registry.for_tenant(conversation.source, reply.tenant_id)
        reply.visibility = check_visibility(channel, visibility)
    reply.status, reply.approved_by = "draft", None
    _log(session, clock, reply, actor.actor_id, "reply_edit")
    return reply


def send_reply(
    session: Session,
    clock: Clock,
    actor: Principal,
    reply_id: int,
    *,
    channels: ChannelRegistry | None = None,
) -> Reply:
    """The agent's "send": queued for publishing, or ``pending_approval`` when a
    supervisor must approve it first (see :func:`approval_reasons`)."""
    actor = refresh(session, actor)
    authorize(actor, "replies.write")
    reply = Replies.of(session, actor).get(reply_id)
    conversation = Conversations.of(session, actor).get(reply.conversation_id)
    if reply.status == "draft":
        reasons = approval_reasons(session, actor.tenant_id, conversation)
        if reasons:
            reply.status = "pending_approval"
            _log(session, clock, reply, actor.actor_id, "reply_submitted", reasons=reasons)
            return reply
    elif reply.status != "approved":
        raise InvalidInputError(
            f"reply {reply_id} is {reply.status}: only a draft or an approved reply is sent"
        )
    _queue(session, clock, reply, conversation, actor.actor_id, channels)
    return reply


def approve_reply(
    session: Session,
    clock: Clock,
    actor: Principal,
    reply_id: int,
    *,
    send: bool = True,
    channels: ChannelRegistry | None = None,
) -> Reply:
    """An approval of a pending reply (``replies.approve``); it is queued at once unless
    ``send`` is False (then the agent's :func:`send_reply` queues it)."""
    actor = refresh(session, actor)
    authorize(actor, "replies.approve")
    reply = Replies.of(session, actor).get(reply_id)
    if reply.status != "pending_approval":
        raise InvalidInputError(f"reply {reply_id} is {reply.status}, not pending approval")
    reply.status, reply.approved_by = "approved", actor.user_id
    _log(session, clock, reply, actor.actor_id, "reply_approved")
    if send:
        conversation = Conversations.of(session, actor).get(reply.conversation_id)
        _queue(session, clock, reply, conversation, actor.actor_id, channels)
    return reply


def reject_reply(
    session: Session, clock: Clock, actor: Principal, reply_id: int, reason: str
) -> Reply:
    """A refusal of a pending reply (``replies.approve``); the reason goes to the timeline.
    The agent may edit it (a draft again) and send it anew."""
    actor = refresh(session, actor)
    authorize(actor, "replies.approve")
    reply = Replies.of(session, actor).get(reply_id)
    if reply.status != "pending_approval":
        raise InvalidInputError(f"reply {reply_id} is {reply.status}, not pending approval")
    reply.status = "rejected"
    _log(session, clock, reply, actor.actor_id, "reply_rejected", reason=reason.strip()[:1000])
    return reply


def _queue(
    session: Session,
    clock: Clock,
    reply: Reply,
    conversation: Conversation,
    actor_id: int | None,
    channels: ChannelRegistry | None,
) -> None:
    """Queue for publishing (outbox, same transaction). The one gate every reply passes:
    refused when approval is required and nobody approved it."""
    reasons = approval_reasons(session, reply.tenant_id, conversation)
    if reasons and reply.approved_by is None:
        raise InvalidInputError(
            f"reply {reply.id} needs a supervisor's approval ({', '.join(reasons)})"
        )
    channel = (channels or default_channels()).for_tenant(conversation.source, reply.tenant_id)
    check_visibility(channel, reply.visibility)
    reply.status, reply.error = "queued", None
    session.flush()
    enqueue(
        session,
        clock,
        REPLY_EVENT,
        {"tenant_id": reply.tenant_id, "reply_id": reply.id},
        reply.tenant_id,
    )
    _log(session, clock, reply, actor_id, "reply_queued")


def _log(
    session: Session, clock: Clock, reply: Reply, actor_id: int | None, kind: str, **extra: Any
) -> None:
    data: dict[str, Any] = {"reply_id": reply.id, "status": reply.status, **extra}
    if reply.incident_id is not None:
        data["incident_id"] = reply.incident_id
    record(
        session,
        tenant_id=reply.tenant_id,
        conversation_id=reply.conversation_id,
        at=clock.now(),
        actor_id=actor_id,
        kind=kind,
        data=data,
    )


def list_replies(session: Session, tenant_id: int, conversation_id: int) -> Sequence[Reply]:
    repo = Replies(session, tenant_id)
    return repo.all(
        repo.select().where(Reply.conversation_id == conversation_id).order_by(Reply.id)
    )


def pending_approvals(session: Session, tenant_id: int, *, limit: int = 100) -> Sequence[Reply]:
    """Replies waiting for a supervisor, oldest first."""
    repo = Replies(session, tenant_id)
    return repo.all(
        repo.select().where(Reply.status == "pending_approval").order_by(Reply.id).limit(limit)
    )


# -- moderation -----------------------------------------------------------------------------


def moderate_mention(
    session: Session,
    clock: Clock,
    actor: Principal,
    mention_id: int,
    action: str,
    *,
    label: str | None = None,
    channels: ChannelRegistry | None = None,
) -> bool:
    """Hide, delete (``moderation.delete``: supervisors and admins) or label a customer's
    mention on its network.

    Recorded on the conversation's timeline (and the audit log; a mention outside any
    conversation: the audit log only), and passed to the channel through the outbox when
    it supports the action. Returns whether the channel will apply it.
    """
    actor = refresh(session, actor)
    authorize(actor, "moderation.act")
    if action not in MODERATION_ACTIONS:
        raise InvalidInputError(
            f"moderation action is one of {', '.join(MODERATION_ACTIONS)}, got {action!r}"
        )
    if action == "delete":
        authorize(actor, "moderation.delete")
    tenant_id = actor.tenant_id
    actor_id = actor.actor_id
    if action == "label":
        label = (label or "").strip()
        if not label or len(label) > 50:
            raise InvalidInputError("a label of 1–50 characters is needed", where="label")
    else:
        label = None
    mention = session.scalars(
        select(Mention).where(Mention.tenant_id == tenant_id, Mention.id == mention_id)
    ).first()
    if mention is None:
        raise NotFoundError(f"mention {mention_id} not found in this tenant")
    channel = (channels or default_channels()).for_tenant(mention.source, tenant_id)
    forwarded = action in channel.moderation_actions
    data: dict[str, Any] = {
        "action": action,
        "mention_id": mention.id,
        "external_id": mention.external_id,
        "channel": channel.name,
        "forwarded": forwarded,
    }
    if label is not None:
        data["label"] = label
    now = clock.now()
    if mention.conversation_id is not None:
        record(
            session,
            tenant_id=tenant_id,
            conversation_id=mention.conversation_id,
            at=now,
            actor_id=actor_id,
            kind="moderation",
            data=data,
        )
    else:
        audit(
            session,
            tenant_id=tenant_id,
            at=now,
            actor_id=actor_id,
            action="mention.moderate",
            object_type="mention",
            object_id=mention.id,
            data=data,
        )
    if forwarded:
        payload = {
            "tenant_id": tenant_id,
            "mention_id": mention.id,
            "source": mention.source,
            "external_id": mention.external_id,
            "action": action,
            "label": label,
            "actor_id": actor_id,
        }
        enqueue(session, clock, MODERATION_EVENT, payload, tenant_id)
    session.flush()
    return forwarded
