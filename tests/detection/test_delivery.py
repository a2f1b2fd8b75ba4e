"""Alert e-mails and webhooks delivered to real local servers through the outbox relay."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import OutboxEvent, relay
from clameur.db import session_scope
from clameur.detection.delivery import (
    DeliveryError,
    PrivateAddressError,
    handlers,
    resolve,
    send_webhook,
)
from tests.conftest import Database
from tests.detection.test_notify import raise_alert, setup_tenant
from tests.smtp import Mailbox, free_port

# -- a real SMTP server ----------------------------------------------------------------


def settings_for(smtp_port: int = 25) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_from="alerts@clameur.example",
        smtp_timeout=10,
        allow_private_fetch=True,
        webhook_timeout=10,
    )


def test_an_alert_e_mail_arrives_over_smtp(
    db: Database, clock: FrozenClock, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    ids = setup_tenant(db, clock, emails=["ops@example.com", "cm@example.com"])
    alert_id = raise_alert(
        db, clock, ids, "high", summary="Negative spike about « refund »\r\nBcc: evil@example.com"
    )
    assert relay(db.factory, clock, handlers(settings_for(port), clock)) == 2
    assert sorted(rcpt for e in mailbox.envelopes for rcpt in e.rcpt_tos) == [
        "cm@example.com",
        "ops@example.com",
    ]
    assert {e.mail_from for e in mailbox.envelopes} == {"alerts@clameur.example"}
    events = {e.payload["to"]: e.id for e in _events(db)}
    for message in mailbox.messages():
        to = str(message["To"])
        assert message["Subject"] == "[Clameur] HIGH negative_spike on acme (acme)"
        assert message["Message-ID"] == f"<clameur.outbox.{events[to]}@clameur.example>"
        assert message["X-Clameur-Event-Id"] == str(events[to])
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["Bcc"] is None, "customer words never become headers"
        assert message.get_content_type() == "text/plain"
        body = message.get_content()
        assert "Negative spike about « refund »" in body
        assert "Bcc: evil@example.com" in body, "kept as text, on its own line"
        assert "spike:acme-0" in body
        assert "client1" in body
        assert f"Alert #{alert_id}" in body
    assert relay(db.factory, clock, handlers(settings_for(port), clock)) == 0
    assert len(mailbox.envelopes) == 2


def test_an_unreachable_smtp_server_is_retried(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, emails=["ops@example.com"])
    raise_alert(db, clock, ids, "high")
    assert relay(db.factory, clock, handlers(settings_for(free_port()), clock)) == 0
    [event] = _events(db)
    assert (event.status, event.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in (event.last_error or "")


# -- a real HTTP server ----------------------------------------------------------------


@dataclass
class Hits:
    """What the webhook receiver saw: every request, and the answers it gives in turn."""

    answers: list[int]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    accepted: list[bytes] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[tuple[Hits, str]]:
    hits = Hits(answers=[500, 500])

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hits.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = hits.answers.pop(0) if hits.answers else 204
            if status < 300:
                hits.accepted.append(body)
            self.send_response(status)
            if status in {301, 302, 307}:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hits, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_webhook_is_retried_then_delivered_exactly_once(
    db: Database, clock: FrozenClock, receiver: tuple[Hits, str]
) -> None:
    hits, url = receiver
    url = url.replace("127.0.0.1", "localhost")  # resolved once, then reached by address
    ids = setup_tenant(db, clock, webhooks=[{"url": url, "secret": "s3cret"}])
    alert_id = raise_alert(db, clock, ids, "critical")
    send = handlers(settings_for(), clock)
    assert relay(db.factory, clock, send) == 0, "500"
    assert relay(db.factory, clock, send) == 0, "not due before the backoff"
    clock.advance(timedelta(seconds=2))
    assert relay(db.factory, clock, send) == 0, "500 again"
    clock.advance(timedelta(seconds=4))
    assert relay(db.factory, clock, send) == 1
    delivered_at = clock.now()
    clock.advance(timedelta(hours=1))
    assert relay(db.factory, clock, send) == 0
    assert (len(hits.requests), len(hits.accepted)) == (3, 1)
    [event] = _events(db)
    assert (event.status, event.attempts) == ("sent", 3)
    assert event.last_error is None, "cleared once delivered"

    headers, body = hits.requests[-1]
    assert {h["x-clameur-event-id"] for h, _ in hits.requests} == {str(event.id)}
    assert {b for _, b in hits.requests} == {body}, "every retry sends the same bytes"
    assert headers["content-type"] == "application/json"
    assert headers["host"] == url.split("/")[2], "the name, not the address it resolved to"
    timestamp = headers["x-clameur-timestamp"]
    assert timestamp == str(int(delivered_at.timestamp())), "signed when sent"
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["x-clameur-signature"] == f"sha256={expected}"
    document = json.loads(body)
    assert document["type"] == "alert.raised"
    assert document["alert"]["id"] == alert_id
    assert document["alert"]["severity"] == "critical"
    assert document["alert"]["evidence"]["mentions"] == [
        "spike:acme-2",
        "spike:acme-1",
        "spike:acme-0",
    ]


def test_a_redirect_is_not_followed(receiver: tuple[Hits, str], clock: FrozenClock) -> None:
    hits, url = receiver
    hits.answers[:] = [302]
    payload = {"url": url, "secret": "s", "body": "{}", "_event_id": 7}
    with pytest.raises(DeliveryError, match="answered HTTP 302"):
        send_webhook(settings_for(), payload, clock=clock)
    assert len(hits.requests) == 1


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("10.1.2.3", "10.1.2.3"),
        ("192.168.0.10", "192.168.0.10"),
        ("169.254.169.254", "169.254.169.254"),
        ("[::1]", "::1"),
        ("[fe80::1]", "fe80::1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
    ],
)
def test_private_addresses_are_refused(host: str, address: str, clock: FrozenClock) -> None:
    settings = Settings(allow_private_fetch=False)
    payload = {"url": f"http://{host}:8080/hook", "secret": "s", "body": "{}"}
    with pytest.raises(PrivateAddressError) as refused:
        send_webhook(settings, payload, clock=clock)
    assert address in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH" in str(refused.value)


def test_a_name_is_judged_on_the_addresses_it_resolves_to(clock: FrozenClock) -> None:
    settings = Settings(allow_private_fetch=False)
    payload = {"url": "http://localhost:8080/hook", "secret": "s", "body": "{}"}
    with pytest.raises(PrivateAddressError, match=r"localhost: (127\.0\.0\.1|::1) is a loopback"):
        send_webhook(settings, payload, clock=clock)


def test_a_public_address_is_kept_for_the_connection() -> None:
    assert resolve("93.184.215.14", 443, allow_private=False) == ["93.184.215.14"]


def test_a_refused_webhook_is_recorded_on_the_event(db: Database, clock: FrozenClock) -> None:
    ids = setup_tenant(db, clock, webhooks=[{"url": "http://127.0.0.1:9/hook", "secret": "s"}])
    raise_alert(db, clock, ids, "critical")
    assert relay(db.factory, clock, handlers(Settings(allow_private_fetch=False), clock)) == 0
    [event] = _events(db)
    assert "127.0.0.1" in (event.last_error or "")
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH" in (event.last_error or "")


def _events(db: Database) -> list[OutboxEvent]:
    with session_scope(db.factory) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))
