"""Publishing replies and moderation actions: the channel plugins and their outbox handlers.

A :class:`Channel` publishes one reply (and, when it can, applies moderation actions) on
the network a conversation came from. Which channel serves which mention source is the
:class:`ChannelRegistry`'s business: ``email`` goes out over SMTP (:class:`EmailChannel`);
every other source goes to the :class:`RecordingChannel` until the connectors issue brings
real publishers — it keeps what would have been published so tests and demos can see it.

Nothing is published inside a transaction: services enqueue an outbox event (``care.reply``,
``care.moderation``) with the data that caused it, and the relay calls the handlers of
:func:`reply_handlers` after commit. The reply handler reads the reply in one short session,
publishes outside any transaction, then records the outcome (``sent`` + the channel's id, or
``failed`` + the error) in another. Delivery is at-least-once: a reply already ``sent`` is
never published again, the e-mail keeps the same ``Message-ID`` on every try, and the
recording channel drops a reply it has already recorded.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formatdate, parseaddr
from functools import partial
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clameur.care.audit import record
from clameur.care.models import Contact, Conversation, Reply
from clameur.care.sla import on_agent_reply
from clameur.clock import Clock, SystemClock
from clameur.config import Settings, get_settings
from clameur.core.outbox import Handler
from clameur.db.engine import session_scope
from clameur.errors import ClameurError, InvalidInputError
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand

log = logging.getLogger(__name__)

REPLY_EVENT = "care.reply"
"""Outbox kind of a queued reply: payload ``{"tenant_id", "reply_id"}``."""
MODERATION_EVENT = "care.moderation"
"""Outbox kind of a moderation action a channel applies: see :class:`ModerationRequest`."""

VISIBILITIES = ("public", "private")
MODERATION_ACTIONS = ("hide", "delete", "label")


class ChannelError(ClameurError):
    """Publishing failed; the outbox tries again later."""


class PermanentChannelError(ChannelError):
    """Publishing cannot succeed by trying again (no address, a refused visibility…):
    the reply is marked ``failed`` and the outbox does not retry."""


@dataclass(frozen=True, slots=True)
class OutgoingReply:
    """What a channel needs to publish one reply (read from the database by the handler)."""

    reply_id: int
    tenant_id: int
    conversation_id: int
    source: str
    text: str
    visibility: str
    in_reply_to: str | None
    """External id of the customer's mention this answers."""
    recipient_handle: str
    recipient_name: str | None = None
    recipient_email: str | None = None
    subject: str | None = None
    """Subject of the customer's e-mail, when there is one."""
    thread_message_id: str | None = None
    """Message-ID of the customer's e-mail (``<…>``): our reply's ``In-Reply-To``."""
    references: tuple[str, ...] = ()
    brand: str | None = None
    created_at: datetime | None = None
    reply_to: str | None = None
    """The mailbox the customer wrote to (an IMAP source's address): our reply's
    ``Reply-To``, so that their answer comes back where Clameur reads."""


@dataclass(frozen=True, slots=True)
class ModerationRequest:
    tenant_id: int
    mention_id: int
    source: str
    external_id: str
    action: str
    """hide, delete or label."""
    label: str | None = None
    actor_id: int | None = None


class Channel(Protocol):
    """A place replies are published: one network (or e-mail)."""

    name: str

    @property
    def supports_public(self) -> bool: ...

    @property
    def supports_private(self) -> bool: ...

    @property
    def moderation_actions(self) -> frozenset[str]:
        """The moderation actions it can apply on the network (may be empty)."""
        ...

    def publish(self, reply: OutgoingReply) -> str:
        """Publish; returns the network's id of the published reply. Raises
        :class:`ChannelError` (retried) or :class:`PermanentChannelError` (not retried)."""
        ...

    def moderate(self, request: ModerationRequest) -> None:
        """Apply one of :attr:`moderation_actions` on the network."""
        ...


def default_visibility(channel: Channel) -> str:
    return "public" if channel.supports_public else "private"


def check_visibility(channel: Channel, visibility: str) -> str:
    """``visibility`` if the channel allows it; the refusal names the channel."""
    if visibility not in VISIBILITIES:
        raise InvalidInputError(f"visibility is public or private, got {visibility!r}")
    allowed = channel.supports_public if visibility == "public" else channel.supports_private
    if not allowed:
        raise InvalidInputError(
            f"channel {channel.name!r} cannot publish {visibility} replies", where="visibility"
        )
    return visibility


# -- e-mail ------------------------------------------------------------------------------


class EmailChannel:
    """Replies by e-mail over SMTP (the ``smtp_*`` settings, like alert e-mails), private
    only. The answer goes to the customer's address (``reply_to``/``from`` of the mention's
    raw payload, an e-mail handle, or the contact's first address) and threads under their
    message (``In-Reply-To``/``References``) when its Message-ID is known. When the message
    came from a mailbox Clameur reads (``mailbox`` in the raw payload, set by the IMAP
    connector) other than the sender address, that mailbox is the ``Reply-To``: the
    customer's answer comes back where it is read, and threads."""

    name = "email"
    supports_public = False
    supports_private = True
    moderation_actions: frozenset[str] = frozenset()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def sender(self) -> str:
        return self.settings.care_email_from or self.settings.smtp_from

    def build(self, reply: OutgoingReply) -> EmailMessage:
        """The message; its Message-ID (the reply's external id) is the same on every try."""
        if reply.visibility != "private":
            raise PermanentChannelError(f"e-mail replies are private (reply {reply.reply_id})")
        to = _address(reply.recipient_email)
        if to is None:
            raise PermanentChannelError(
                f"no e-mail address for {reply.recipient_handle!r} (reply {reply.reply_id}): "
                "neither the message nor the contact carries one"
            )
        domain = self.sender.rpartition("@")[2] or "localhost"
        message = EmailMessage()  # the default policy refuses CR/LF in header values
        message["From"] = self.sender
        message["To"] = to
        subject = " ".join((reply.subject or "").split())[:200]
        if not subject:
            subject = "Your message" + (f" to {reply.brand}" if reply.brand else "")
        message["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        when = reply.created_at
        message["Date"] = format_datetime(when) if when else formatdate()
        message["Message-ID"] = f"<clameur.reply.{reply.reply_id}@{domain}>"
        answer_to = _address(reply.reply_to)
        if answer_to is not None and answer_to.lower() != (_address(self.sender) or "").lower():
            message["Reply-To"] = answer_to
        parent = _message_id(reply.thread_message_id)
        if parent is not None:
            message["In-Reply-To"] = parent
            chain = [r for r in map(_message_id, reply.references) if r and r != parent]
            message["References"] = " ".join([*chain[-10:], parent])
        message.set_content(reply.text)
        return message

    def publish(self, reply: OutgoingReply) -> str:
        message = self.build(reply)
        s = self.settings
        if not s.smtp_host:  # the reply fails where the agent sees it, not silently
            raise PermanentChannelError(
                f"e-mail is off (CLAMEUR_SMTP_HOST is empty): reply {reply.reply_id} not sent"
            )
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password)
                smtp.send_message(message, from_addr=self.sender, to_addrs=[message["To"]])
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentChannelError(f"SMTP server refused {message['To']}: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from None
        return str(message["Message-ID"])

    def moderate(self, request: ModerationRequest) -> None:
        raise PermanentChannelError("e-mail has no moderation actions")


def _address(value: str | None) -> str | None:
    """A bare ``user@domain`` from a header-like value, or None."""
    if not value or "\r" in value or "\n" in value:
        return None
    _, address = parseaddr(value)
    if "@" not in address or any(c.isspace() for c in address) or len(address) > 320:
        return None
    return address


def _message_id(value: str | None) -> str | None:
    """``<…@…>`` without whitespace (brackets added when missing), or None: nothing else
    is ever copied into a header."""
    value = (value or "").strip()
    if value and not value.startswith("<"):
        value = f"<{value}>"  # a Message-ID stored without its brackets
    if not (value.startswith("<") and value.endswith(">") and "@" in value):
        return None
    if any(c.isspace() or c in "<>" for c in value[1:-1]) or len(value) > 300:
        return None
    return value


# -- recording -----------------------------------------------------------------------------


class RecordingChannel:
    """Keeps what would have been published: in memory, and appended to a JSON Lines file
    when given one (``CLAMEUR_CARE_RECORDING_PATH``, so a demo can show it). Public and
    private replies and every moderation action are accepted. A reply already recorded is
    not recorded twice (the outbox delivers at least once)."""

    name = "recording"
    supports_public = True
    supports_private = True
    moderation_actions = frozenset(MODERATION_ACTIONS)

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._replies: set[tuple[int, int]] = set()

    def publish(self, reply: OutgoingReply) -> str:
        external_id = f"recorded:{reply.source}:{reply.reply_id}"
        with self._lock:
            if (reply.tenant_id, reply.reply_id) not in self._replies:
                self._replies.add((reply.tenant_id, reply.reply_id))
                self._keep({"kind": "reply", "external_id": external_id, **asdict(reply)})
        return external_id

    def moderate(self, request: ModerationRequest) -> None:
        with self._lock:
            self._keep({"kind": "moderation", **asdict(request)})

    def _keep(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, default=str, ensure_ascii=False)
        self._records.append(json.loads(line))  # as the file holds it: plain JSON values
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    @property
    def records(self) -> list[dict[str, Any]]:
        """Everything recorded by this instance, oldest first."""
        with self._lock:
            return list(self._records)

    def replies(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["kind"] == "reply"]


# -- registry ------------------------------------------------------------------------------


@runtime_checkable
class TenantChannel(Protocol):
    """A channel that publishes through each tenant's own account on the network."""

    def for_tenant(self, tenant_id: int) -> Channel: ...


class ChannelRegistry:
    """Which channel publishes for which mention source (one default for the others)."""

    def __init__(self, by_source: Mapping[str, Channel], default: Channel) -> None:
        self.by_source = dict(by_source)
        self.default = default

    def for_source(self, source: str) -> Channel:
        return self.by_source.get(source, self.default)

    def for_tenant(self, source: str, tenant_id: int) -> Channel:
        """The channel that will publish ``source``'s replies for this tenant — what it
        allows (visibility, moderation) is what will happen. A per-tenant channel (a
        connector, :class:`TenantChannel`) resolves to the tenant's own: its source of that
        network, or the stand-in for a tenant that has none."""
        channel = self.for_source(source)
        if isinstance(channel, TenantChannel):
            return channel.for_tenant(tenant_id)
        return channel


def default_channels(settings: Settings | None = None) -> ChannelRegistry:
    """E-mail over SMTP; every other source recorded until the connectors issue."""
    settings = settings or get_settings()
    path = Path(settings.care_recording_path) if settings.care_recording_path else None
    return ChannelRegistry({"email": EmailChannel(settings)}, RecordingChannel(path))


# -- outbox handlers -------------------------------------------------------------------------


def reply_handlers(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    clock: Clock | None = None,
    channels: ChannelRegistry | None = None,
) -> dict[str, Handler]:
    """The outbox handlers of ``care.reply`` and ``care.moderation`` events, for
    :func:`clameur.pipeline.relay` (merge them with the alert handlers)."""
    registry = channels or default_channels(settings)
    return {
        REPLY_EVENT: partial(publish_reply, factory, clock or SystemClock(), registry),
        MODERATION_EVENT: partial(publish_moderation, registry),
    }


def publish_reply(
    factory: sessionmaker[Session],
    clock: Clock,
    channels: ChannelRegistry,
    payload: dict[str, Any],
) -> None:
    """Publish one queued reply, then record the outcome in a session of its own.

    A transient failure marks the reply ``failed`` with the error and raises, so the outbox
    retries (a later success turns it ``sent``); a permanent one marks it ``failed`` only.
    """
    tenant_id, reply_id = int(payload["tenant_id"]), int(payload["reply_id"])
    with session_scope(factory) as session:
        outgoing = _outgoing(session, tenant_id, reply_id)
    if outgoing is None:
        return
    try:
        channel = channels.for_tenant(outgoing.source, tenant_id)
        # Checked again at publishing: a private answer queued under other rules (an older
        # version, a source added since) must never go out in public.
        check_visibility(channel, outgoing.visibility)
    except (InvalidInputError, PermanentChannelError) as exc:
        _failed(factory, clock, tenant_id, reply_id, str(exc), retry=False)
        return
    try:
        external_id = channel.publish(outgoing)
    except PermanentChannelError as exc:
        _failed(factory, clock, tenant_id, reply_id, str(exc), retry=False)
        return
    except Exception as exc:
        _failed(factory, clock, tenant_id, reply_id, f"{type(exc).__name__}: {exc}", retry=True)
        raise
    now = clock.now()
    with session_scope(factory) as session:
        reply = _reply(session, tenant_id, reply_id)
        if reply is None or reply.status not in ("queued", "failed"):
            return
        reply.status, reply.external_id, reply.sent_at, reply.error = "sent", external_id, now, None
        # first/last agent response and the SLA clocks, at the sending time
        on_agent_reply(session, tenant_id, reply.conversation_id, now)
        record(
            session,
            tenant_id=tenant_id,
            conversation_id=reply.conversation_id,
            at=now,
            actor_id=None,
            kind="reply_sent",
            data={"reply_id": reply_id, "channel": channel.name, "external_id": external_id},
        )
    log.info("reply published", extra={"reply": reply_id, "channel": channel.name})


def publish_moderation(channels: ChannelRegistry, payload: dict[str, Any]) -> None:
    """Apply one moderation action on the network (only enqueued when the channel can)."""
    request = ModerationRequest(
        tenant_id=int(payload["tenant_id"]),
        mention_id=int(payload["mention_id"]),
        source=str(payload["source"]),
        external_id=str(payload["external_id"]),
        action=str(payload["action"]),
        label=payload.get("label"),
        actor_id=payload.get("actor_id"),
    )
    channel = channels.for_tenant(request.source, request.tenant_id)
    if request.action in channel.moderation_actions:
        channel.moderate(request)


def _reply(session: Session, tenant_id: int, reply_id: int) -> Reply | None:
    return session.scalars(
        select(Reply).where(Reply.tenant_id == tenant_id, Reply.id == reply_id)
    ).first()


def _outgoing(session: Session, tenant_id: int, reply_id: int) -> OutgoingReply | None:
    """The reply as a channel sees it, or None when there is nothing (left) to publish."""
    reply = _reply(session, tenant_id, reply_id)
    if reply is None or reply.status not in ("queued", "failed"):
        # sent already (a duplicate delivery) or deleted: nothing to do
        log.info("reply not publishable", extra={"reply": reply_id})
        return None
    conversation = session.get(Conversation, reply.conversation_id)
    assert conversation is not None  # reply rows cascade with their conversation
    author = session.get(Author, conversation.author_id)
    mention: Mention | None = None
    if reply.in_reply_to:
        mention = session.scalars(
            select(Mention).where(
                Mention.tenant_id == tenant_id,
                Mention.source == conversation.source,
                Mention.external_id == reply.in_reply_to,
            )
        ).first()
    raw: dict[str, Any] = dict(mention.raw or {}) if mention is not None else {}
    email = next(
        (
            a
            for key in ("reply_to", "from", "email", "sender")
            if isinstance(raw.get(key), str) and (a := _address(raw[key]))
        ),
        None,
    )
    if email is None and author is not None:
        email = _address(author.handle)
    if email is None and conversation.contact_id is not None:
        contact = session.get(Contact, conversation.contact_id)
        email = next((a for e in (contact.emails if contact else []) if (a := _address(e))), None)
    thread = raw.get("message_id") or raw.get("message-id")
    if not isinstance(thread, str) and mention is not None:
        thread = mention.external_id
    references = raw.get("references") or []
    if isinstance(references, str):
        references = references.split()
    brand = session.get(Brand, conversation.brand_id) if conversation.brand_id else None
    return OutgoingReply(
        reply_id=reply.id,
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        source=conversation.source,
        text=reply.text,
        visibility=reply.visibility,
        in_reply_to=reply.in_reply_to,
        recipient_handle=author.handle if author else "",
        recipient_name=author.name if author else None,
        recipient_email=email,
        subject=raw["subject"] if isinstance(raw.get("subject"), str) else None,
        thread_message_id=thread if isinstance(thread, str) else None,
        references=tuple(str(r) for r in references if isinstance(r, str)),
        brand=brand.name if brand else None,
        created_at=reply.created_at,
        reply_to=raw["mailbox"] if isinstance(raw.get("mailbox"), str) else None,
    )


def _failed(
    factory: sessionmaker[Session],
    clock: Clock,
    tenant_id: int,
    reply_id: int,
    error: str,
    *,
    retry: bool,
) -> None:
    now = clock.now()
    shown = f"{error} (retrying)" if retry else error
    with session_scope(factory) as session:
        reply = _reply(session, tenant_id, reply_id)
        if reply is None or reply.status not in ("queued", "failed"):
            return
        first_failure = reply.status != "failed"
        reply.status, reply.error = "failed", shown[:2000]
        if first_failure or not retry:
            record(
                session,
                tenant_id=tenant_id,
                conversation_id=reply.conversation_id,
                at=now,
                actor_id=None,
                kind="reply_failed",
                data={"reply_id": reply_id, "error": shown[:500], "retry": retry},
            )
    log.warning("reply not published", extra={"reply": reply_id, "error": error, "retry": retry})
