"""Collision rules of the reply box: two agents must not answer one customer at once.

:func:`reply_now` is what the reply box calls (draft and send in one step). Under a lock on
the conversation's row it refuses:

- a reply when **another reply went out meanwhile**: any reply of the conversation that is
  not a draft or rejected, newer than ``seen_reply_id`` (the newest reply the agent's
  screen showed when the box opened; None: none) — :class:`NewerReply`, carrying that
  reply so the page can show it. Two agents sending at the same instant: the second is
  refused with the first's reply;
- a reply to a conversation **assigned to someone else**, by the owning team's setting
  ``reply_to_others`` (``Team.settings``; :func:`set_reply_to_others`): ``"confirm"`` (the
  default) asks first — :class:`ConfirmationRequired` until ``confirm_other_assignee`` —
  and ``"refuse"`` refuses — :class:`AssignedToOther`. The owning team is the back-office
  team holding the conversation, or else its queue's team; no team: ``"confirm"``.

**The lock.** PostgreSQL: ``SELECT … FOR UPDATE`` of the conversation, so a second sender
waits for the first's commit and then sees its reply (READ COMMITTED reads anew after the
lock). SQLite runs one writer at a time, but its driver starts the transaction only at the
first write, so the reads of two senders could both come before either writes: a no-op
``UPDATE`` of the row first takes the database's write lock, and the second sender waits
there (``busy_timeout``) until the first commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from clameur.care import replies
from clameur.care.audit import audit
from clameur.care.channels import ChannelRegistry
from clameur.care.models import Conversation, Queue, Reply, Team
from clameur.care.repository import Conversations, Replies
from clameur.care.teams import get_team
from clameur.clock import Clock
from clameur.errors import ConflictError, InvalidInputError, NotFoundError
from clameur.tenancy.models import User
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

REPLY_TO_OTHERS = ("confirm", "refuse")
"""``Team.settings["reply_to_others"]``: what a reply to a colleague's conversation does."""
DEFAULT_REPLY_TO_OTHERS = "confirm"
NOT_OUT = ("draft", "rejected")
"""Reply statuses that never left (or never will): they do not collide."""


class AssignedToOther(ConflictError):
    """The conversation is assigned to someone else and the team refuses such replies."""

    def __init__(self, reason: str, *, assignee: dict[str, Any], mode: str) -> None:
        self.assignee = assignee
        self.mode = mode
        super().__init__(reason, detail={"conflict": mode, "assignee": assignee})


class ConfirmationRequired(AssignedToOther):
    """The conversation is assigned to someone else: send again with
    ``confirm_other_assignee=True`` once the agent confirmed."""


class NewerReply(ConflictError):
    """Another reply went out after the one the agent saw: ``reply`` is that reply."""

    def __init__(self, reason: str, *, reply: dict[str, Any]) -> None:
        self.reply = reply
        super().__init__(reason, detail={"conflict": "newer_reply", "reply": reply})


# -- the team setting ----------------------------------------------------------------------


def reply_to_others(session: Session, tenant_id: int, conversation: Conversation) -> str:
    """The owning team's rule for replies to a conversation assigned to someone else."""
    team_id = conversation.holder_team_id
    if team_id is None and conversation.queue_id is not None:
        queue = session.get(Queue, conversation.queue_id)
        team_id = queue.team_id if queue is not None and queue.tenant_id == tenant_id else None
    team = session.get(Team, team_id) if team_id is not None else None
    if team is None or team.tenant_id != tenant_id:
        return DEFAULT_REPLY_TO_OTHERS
    mode = (team.settings or {}).get("reply_to_others", DEFAULT_REPLY_TO_OTHERS)
    return mode if mode in REPLY_TO_OTHERS else DEFAULT_REPLY_TO_OTHERS


def set_reply_to_others(
    session: Session, clock: Clock, actor: Principal, team_id: int, mode: str
) -> Team:
    """Set a team's ``reply_to_others`` (``teams.manage``): ``confirm`` or ``refuse``."""
    actor = refresh(session, actor)
    authorize(actor, "teams.manage")
    if mode not in REPLY_TO_OTHERS:
        raise InvalidInputError(
            f"is one of {', '.join(REPLY_TO_OTHERS)}, got {mode!r}", where="reply_to_others"
        )
    team = get_team(session, actor.tenant_id, team_id)
    before = (team.settings or {}).get("reply_to_others", DEFAULT_REPLY_TO_OTHERS)
    team.settings = {**(team.settings or {}), "reply_to_others": mode}  # a new object
    audit(
        session,
        tenant_id=actor.tenant_id,
        at=clock.now(),
        actor_id=actor.actor_id,
        action="team.reply_to_others",
        object_type="team",
        object_id=team.id,
        data={"from": before, "to": mode},
    )
    session.flush()
    return team


# -- the reply box -------------------------------------------------------------------------


def lock_conversation(session: Session, actor: Principal, conversation_id: int) -> Conversation:
    """The conversation, locked until the transaction ends (see the module)."""
    repo = Conversations.of(session, actor)
    if session.get_bind().dialect.name == "sqlite":  # the write lock, before any read
        session.execute(
            update(Conversation)
            .where(Conversation.tenant_id == actor.tenant_id, Conversation.id == conversation_id)
            .values(id=Conversation.id)
            .execution_options(synchronize_session=False)
        )
    found: Conversation | None = session.scalars(
        repo.select()
        .where(Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise NotFoundError(f"conversation {conversation_id} not found")
    return found


def _person(session: Session, user_id: int | None) -> dict[str, Any] | None:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        return None
    return {"id": user.id, "name": user.name, "email": user.email}


def reply_summary(session: Session, reply: Reply) -> dict[str, Any]:
    """What a refused sender is shown of the reply that went first."""
    return {
        "id": reply.id,
        "author": _person(session, reply.author_id),
        "text": reply.text,
        "status": reply.status,
        "created_at": reply.created_at.isoformat(),
    }


def check_collisions(
    session: Session,
    actor: Principal,
    conversation: Conversation,
    *,
    seen_reply_id: int | None,
    confirm_other_assignee: bool,
) -> None:
    """Raise :class:`NewerReply`, :class:`AssignedToOther` or
    :class:`ConfirmationRequired` when the rules refuse the actor's reply (call it with
    the conversation locked)."""
    repo = Replies.of(session, actor)
    if seen_reply_id is not None:
        seen = session.scalar(
            repo.select(Reply.id).where(
                Reply.id == seen_reply_id, Reply.conversation_id == conversation.id
            )
        )
        if seen is None:
            raise NotFoundError(f"reply {seen_reply_id} is not in conversation {conversation.id}")
    newer = repo.select().where(
        Reply.conversation_id == conversation.id, Reply.status.not_in(NOT_OUT)
    )
    if seen_reply_id is not None:
        newer = newer.where(Reply.id > seen_reply_id)
    first = session.scalars(newer.order_by(Reply.id.desc()).limit(1)).first()
    if first is not None:
        summary = reply_summary(session, first)
        who = (summary["author"] or {}).get("name") or "someone"
        raise NewerReply(
            f"{who} replied to conversation {conversation.id} meanwhile (reply {first.id})",
            reply=summary,
        )
    holder = conversation.assignee_id
    if holder is None or holder == actor.user_id:
        return
    assignee = _person(session, holder) or {"id": holder, "name": None, "email": None}
    name = assignee["name"] or assignee["email"] or f"user {holder}"
    mode = reply_to_others(session, actor.tenant_id, conversation)
    if mode == "refuse":
        raise AssignedToOther(
            f"conversation {conversation.id} is assigned to {name}: only they may reply",
            assignee=assignee,
            mode=mode,
        )
    if not confirm_other_assignee:
        raise ConfirmationRequired(
            f"conversation {conversation.id} is assigned to {name}: reply anyway?",
            assignee=assignee,
            mode=mode,
        )


def reply_now(
    session: Session,
    clock: Clock,
    actor: Principal,
    conversation_id: int,
    text: str,
    *,
    seen_reply_id: int | None,
    visibility: str | None = None,
    confirm_other_assignee: bool = False,
    channels: ChannelRegistry | None = None,
) -> Reply:
    """Draft and send in one step (``replies.write``), once the collision rules allow it
    (see the module): the reply is ``queued``, or ``pending_approval`` when a supervisor
    must approve it (:func:`clameur.care.replies.send_reply`)."""
    actor = refresh(session, actor)
    authorize(actor, "replies.write")
    conversation = lock_conversation(session, actor, conversation_id)
    check_collisions(
        session,
        actor,
        conversation,
        seen_reply_id=seen_reply_id,
        confirm_other_assignee=confirm_other_assignee,
    )
    draft = replies.draft_reply(
        session, clock, actor, conversation.id, text, visibility=visibility, channels=channels
    )
    return replies.send_reply(session, clock, actor, draft.id, channels=channels)
