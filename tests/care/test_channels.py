"""Channels: e-mail replies to a real SMTP server on loopback, the recording channel, the
registry."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from clameur.care.channels import (
    EmailChannel,
    OutgoingReply,
    PermanentChannelError,
    RecordingChannel,
    default_channels,
    reply_handlers,
)
from clameur.care.models import Contact
from clameur.care.replies import draft_reply, send_reply
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import relay
from clameur.db import session_scope
from tests.care.test_replies import World, make_conversation, make_world, outbox, reply_of
from tests.conftest import Database
from tests.factories import acting
from tests.smtp import Mailbox, free_port, start_smtp


def mail_settings(port: int) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="alerts@clameur.example",
        care_email_from="care@volta.example",
        smtp_timeout=10,
    )


def queue_email_reply(
    db: Database, clock: FrozenClock, world: World, handle: str, text: str, **values: object
) -> int:
    with session_scope(db.factory) as session:
        conversation = make_conversation(
            session, world.tenant_id, handle, source="email", brand_id=world.brand_id, **values
        )
        reply = draft_reply(
            session, clock, acting(session, world.agent, world.tenant_id), conversation.id, text
        )
        send_reply(session, clock, acting(session, world.agent, world.tenant_id), reply.id)
        return reply.id


def test_an_e_mail_reply_threads_under_the_customer_message(
    db: Database, clock: FrozenClock, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    world = make_world(db, clock)
    raw = {
        "from": "Zoé Martin <zoe@example.com>",
        "subject": "Facture\r\n  de mars\r\nBcc: evil@example.com",
        "message_id": "<abc.123@mail.example.com>",
        "references": "<root.1@mail.example.com>",
    }
    reply_id = queue_email_reply(
        db,
        clock,
        world,
        "zoe",
        "Bonjour Zoé,\nnous corrigeons votre facture.\n\nVolta",
        raw=raw,
        external_id="abc.123@mail.example.com",
    )
    settings = mail_settings(port)
    assert relay(db.factory, clock, reply_handlers(db.factory, settings, clock=clock)) == 1
    [envelope] = mailbox.envelopes
    assert envelope.mail_from == "care@volta.example"
    assert envelope.rcpt_tos == ["zoe@example.com"]
    [message] = mailbox.messages()
    assert message["To"] == "zoe@example.com"
    assert message["Subject"] == "Re: Facture de mars Bcc: evil@example.com"
    assert message["Bcc"] is None, "customer words never become headers"
    assert message["In-Reply-To"] == "<abc.123@mail.example.com>"
    assert message["References"] == "<root.1@mail.example.com> <abc.123@mail.example.com>"
    assert message["Message-ID"] == f"<clameur.reply.{reply_id}@volta.example>"
    assert (
        message.get_content().replace("\r\n", "\n")
        == "Bonjour Zoé,\nnous corrigeons votre facture.\n\nVolta\n"
    )
    sent = reply_of(db, reply_id)
    assert (sent.status, sent.external_id) == ("sent", f"<clameur.reply.{reply_id}@volta.example>")


def test_the_address_comes_from_the_handle_or_the_contact(
    db: Database, clock: FrozenClock, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    world = make_world(db, clock)
    queue_email_reply(db, clock, world, "max@example.org", "Hello Max")  # the handle is the address
    with session_scope(db.factory) as session:
        contact = Contact(
            tenant_id=world.tenant_id,
            name="Léa",
            emails=["lea@example.net"],
            created_at=clock.now(),
        )
        session.add(contact)
        session.flush()
        contact_id = contact.id
    queue_email_reply(
        db, clock, world, "lea", "Hello Léa", contact_id=contact_id, external_id="opaque-id-7"
    )
    assert (
        relay(db.factory, clock, reply_handlers(db.factory, mail_settings(port), clock=clock)) == 2
    )
    by_to = {m["To"]: m for m in mailbox.messages()}
    assert sorted(by_to) == ["lea@example.net", "max@example.org"]
    assert by_to["lea@example.net"]["Subject"] == "Re: Your message to Volta"
    assert by_to["lea@example.net"]["In-Reply-To"] is None  # no Message-ID known: no threading


def test_an_unreachable_smtp_server_is_retried_until_it_answers(
    db: Database, clock: FrozenClock
) -> None:
    port = free_port()
    world = make_world(db, clock)
    reply_id = queue_email_reply(db, clock, world, "zoe@example.com", "Hello")
    handlers = reply_handlers(db.factory, mail_settings(port), clock=clock)
    assert relay(db.factory, clock, handlers) == 0
    failed = reply_of(db, reply_id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert f"SMTP 127.0.0.1:{port}" in failed.error
    assert failed.error.endswith("(retrying)")
    [event] = outbox(db)
    assert (event.status, event.attempts) == ("pending", 1)
    mailbox, controller = start_smtp(port)
    try:
        clock.advance(timedelta(seconds=3))
        assert relay(db.factory, clock, handlers) == 1
    finally:
        controller.stop()
    assert reply_of(db, reply_id).status == "sent"
    assert len(mailbox.envelopes) == 1


def test_with_e_mail_off_a_reply_fails_once_and_says_why(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    reply_id = queue_email_reply(db, clock, world, "zoe@example.com", "Hello")
    off = mail_settings(free_port()).model_copy(update={"smtp_host": ""})
    relay(db.factory, clock, reply_handlers(db.factory, off, clock=clock))
    failed = reply_of(db, reply_id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert "CLAMEUR_SMTP_HOST" in failed.error
    assert not failed.error.endswith("(retrying)")
    [event] = outbox(db)
    assert event.status != "pending", "not retried: the channel is off"


def _outgoing(**values: object) -> OutgoingReply:
    base: dict[str, object] = {
        "reply_id": 7,
        "tenant_id": 1,
        "conversation_id": 3,
        "source": "email",
        "text": "Hi",
        "visibility": "private",
        "in_reply_to": None,
        "recipient_handle": "zoe",
        "recipient_email": "zoe@example.com",
    }
    base.update(values)
    return OutgoingReply(**base)  # type: ignore[arg-type]


def test_e_mail_refuses_what_it_cannot_send() -> None:
    channel = EmailChannel(Settings())
    with pytest.raises(PermanentChannelError, match="private"):
        channel.build(_outgoing(visibility="public"))
    with pytest.raises(PermanentChannelError, match="no e-mail address"):
        channel.build(_outgoing(recipient_email="not an address"))
    with pytest.raises(PermanentChannelError, match="no e-mail address"):
        channel.build(_outgoing(recipient_email="zoe@example.com\r\nBcc: x@y.z"))
    message = channel.build(_outgoing(thread_message_id="<a b@c>", references=("<x@y>",)))
    assert message["In-Reply-To"] is None  # an invalid Message-ID is dropped, not copied
    assert message["From"] == "clameur@localhost"


def test_the_recording_channel_keeps_a_json_lines_file(tmp_path: Path) -> None:
    path = tmp_path / "published.jsonl"
    channel = RecordingChannel(path)
    reply = _outgoing(source="twitter", visibility="public", text="Hello « Zoé »")
    assert channel.publish(reply) == "recorded:twitter:7"
    assert channel.publish(reply) == "recorded:twitter:7"  # a redelivery is not recorded again
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1
    assert lines[0]["text"] == "Hello « Zoé »"
    assert lines[0]["kind"] == "reply"
    assert channel.replies() == channel.records == [{**lines[0]}]


def test_the_registry_sends_e_mail_over_smtp_and_records_the_rest(tmp_path: Path) -> None:
    registry = default_channels(Settings(care_recording_path=str(tmp_path / "r.jsonl")))
    assert isinstance(registry.for_source("email"), EmailChannel)
    for source in ("twitter", "facebook", "review", "other"):
        channel = registry.for_source(source)
        assert isinstance(channel, RecordingChannel)
        assert channel.path == tmp_path / "r.jsonl"
    assert registry.for_source("twitter") is registry.for_source("reddit")
