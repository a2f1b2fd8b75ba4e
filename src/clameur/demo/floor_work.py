"""Agents' and supervisors' actions on the demo floor, each at a chosen moment.

The floor is staged after the demo mentions are imported, but what it shows happened over
the past hours and days: a conversation is taken a few minutes after the customer wrote,
answered some minutes later, resolved after that. Every action goes through the care
services with the acting person's principal and a :class:`~clameur.clock.FrozenClock` set
at that moment (``at`` for the services that take it), never later than the demo's now.

Replies are published after the staging commits (:attr:`Desk.to_publish`): the outbox
relay would stamp them with the time it runs, so :func:`clameur.demo.floor.stage_floor`
calls the relay's own handler for each, at the moment it was sent (e-mails excepted:
they are left to the relay and its SMTP server).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session

from clameur.care import conversations as care
from clameur.care import handover, routing
from clameur.care.canned import conversation_variables, render
from clameur.care.channels import ChannelRegistry
from clameur.care.models import Conversation, Reply
from clameur.care.replies import approval_reasons, approve_reply, draft_reply, send_reply
from clameur.clock import FrozenClock
from clameur.demo.floor_setup import Crew
from clameur.tenancy import Principal

LATEST: Final = timedelta(seconds=30)
"""No staged action is later than this before the demo's now."""


def lang_of(conversation: Conversation) -> str:
    return "en" if (conversation.lang or "fr").startswith("en") else "fr"


TEXTS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "waiting": {
        "fr": (
            "Bonjour {name}, désolés pour ce souci. Pouvez-vous nous écrire en message privé "
            "votre numéro client, que nous regardions votre dossier ?",
            "Bonjour {name}, merci de votre message. Pour vérifier votre ligne, pourriez-vous "
            "nous indiquer en message privé votre code postal et l'heure du problème ?",
        ),
        "en": (
            "Hi {name}, sorry about this. Could you send us your customer number in a direct "
            "message so we can look into your account?",
        ),
    },
    "resolved": {
        "fr": (
            "Bonjour {name}, c'est réglé de notre côté : tout devrait être rentré dans "
            "l'ordre. N'hésitez pas à revenir vers nous si besoin.",
            "Bonjour {name}, merci pour votre patience : votre demande est traitée. Belle "
            "journée !",
            "Bonjour {name}, nous avons fait le nécessaire, vous recevrez une confirmation "
            "par e-mail. Merci de votre confiance.",
        ),
        "en": (
            "Hi {name}, this is sorted on our side: everything should be back to normal. "
            "Let us know if anything else comes up.",
            "Hi {name}, thanks for your patience, your request has been dealt with.",
        ),
    },
    "approval": {
        "fr": (
            "Bonjour {name}, nous sommes sincèrement désolés. Un geste commercial vous sera "
            "proposé sur votre prochaine facture ; un conseiller vous contacte aujourd'hui.",
            "Bonjour {name}, toutes nos excuses pour ce désagrément. Nous vous remboursons "
            "les frais engagés : un conseiller revient vers vous en message privé.",
        ),
        "en": (
            "Hi {name}, we are truly sorry. We will credit your next bill and an adviser "
            "will contact you today.",
        ),
    },
    "draft": {
        "fr": (
            "Bonjour {name}, merci pour votre message. Je regarde cela tout de suite et je "
            "reviens vers vous.",
        ),
        "en": ("Hi {name}, thanks for reaching out. I'm looking into it right now.",),
    },
}
"""Reply texts by scene and language: templates with the conversation's variables."""

NOTES: Final[Mapping[str, tuple[str, ...]]] = {
    "pending": (
        "En attente du retour de l'équipe {team} avant de répondre. @{colleague} tu peux "
        "relancer si rien d'ici ce soir ?",
        "Client déjà en contact la semaine dernière, voir l'historique. Je vérifie avec "
        "l'équipe {team}.",
    ),
    "escalated": (
        "Transmis à l'équipe {team} : le client attend une réponse précise, pas un message type.",
    ),
    "open": ("Je prends. @{colleague} pour info, c'est le même client qu'hier.",),
}


def pick(options: tuple[str, ...], conversation: Conversation) -> str:
    return options[conversation.id % len(options)]


class Desk:
    """One tenant's floor being staged: acts for its people at the moments given."""

    def __init__(
        self,
        session: Session,
        people: Crew,
        now: datetime,
        channels: ChannelRegistry,
        back_office_id: int,
    ) -> None:
        self.session, self.people, self.now = session, people, now
        self.channels, self.back_office_id = channels, back_office_id
        self.to_publish: list[tuple[int, datetime]] = []
        """Queued replies and the moment each was sent."""
        self.tenant_id = people.tenant.id

    def when(self, at: datetime) -> datetime:
        return min(at, self.now - LATEST)

    def clock(self, at: datetime) -> FrozenClock:
        return FrozenClock(self.when(at))

    def variables(self, conversation: Conversation) -> dict[str, str]:
        found = conversation_variables(self.session, self.tenant_id, conversation.id)
        found.setdefault("name", "")
        found.setdefault("brand", self.people.tenant.name)
        return found

    def text(self, scene: str, conversation: Conversation) -> str:
        template = pick(TEXTS[scene][lang_of(conversation)], conversation)
        return render(template, self.variables(conversation))

    # -- actions ---------------------------------------------------------------------------
    def assign(self, conversation: Conversation, agent: Principal, at: datetime) -> datetime:
        at = self.when(at)
        routing.assign(self.session, FrozenClock(at), agent, conversation.id, agent.user_id)
        return at

    def needs_approval(self, conversation: Conversation) -> bool:
        return bool(approval_reasons(self.session, self.tenant_id, conversation))

    def reply(
        self,
        conversation: Conversation,
        agent: Principal,
        text: str,
        at: datetime,
        *,
        send: bool = True,
        approve: bool = True,
    ) -> tuple[Reply, datetime]:
        """Drafted at ``at``; sent a minute later (``send``). When approval is needed it
        waits for it, or (``approve``) the supervisor approves it some minutes later."""
        at = self.when(at)
        reply = draft_reply(
            self.session, FrozenClock(at), agent, conversation.id, text, channels=self.channels
        )
        if not send:
            return reply, at
        at = self.when(at + timedelta(minutes=1))
        send_reply(self.session, FrozenClock(at), agent, reply.id, channels=self.channels)
        if reply.status == "pending_approval" and approve:
            at = self.when(at + timedelta(minutes=4 + conversation.id % 9))
            approve_reply(
                self.session,
                FrozenClock(at),
                self.people.supervisor,
                reply.id,
                channels=self.channels,
            )
        if reply.status == "queued":
            at = self.when(at + timedelta(seconds=20))
            self.to_publish.append((reply.id, at))
        return reply, at

    def note(self, conversation: Conversation, agent: Principal, text: str, at: datetime) -> None:
        care.add_note(self.session, agent, conversation.id, text, at=self.when(at))

    def tag(self, conversation: Conversation, agent: Principal, *tags: str, at: datetime) -> None:
        care.tag(self.session, agent, conversation.id, add=tags, at=self.when(at))

    def status(
        self, conversation: Conversation, agent: Principal, status: str, at: datetime
    ) -> datetime:
        at = self.when(at)
        care.set_status(self.session, agent, conversation.id, status, at=at)
        return at

    def escalate(
        self,
        conversation: Conversation,
        agent: Principal,
        fields: Mapping[str, str],
        at: datetime,
    ) -> None:
        handover.escalate(
            self.session,
            self.clock(at),
            agent,
            conversation.id,
            self.back_office_id,
            fields,
        )
