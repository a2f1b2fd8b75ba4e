"""A channel that is off (e-mail without an SMTP server) is recorded once as ``skipped``:
not retried, not logged as a failure, and nothing is sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import OutboxEvent, enqueue, relay
from clameur.db import session_scope
from clameur.detection.delivery import send_email
from clameur.errors import DeliverySkipped
from tests.conftest import Database


def test_a_skipped_delivery_is_recorded_and_never_retried(db: Database, clock: FrozenClock) -> None:
    with session_scope(db.factory) as session:
        enqueue(session, clock, "email", {"to": "sup@acme.example"}, None)
        enqueue(session, clock, "webhook", {"n": 1}, None)
    calls: list[dict[str, Any]] = []

    def off(payload: dict[str, Any]) -> None:
        calls.append(payload)
        raise DeliverySkipped("e-mail is off (CLAMEUR_SMTP_HOST is empty)")

    delivered = relay(db.factory, clock, {"email": off, "webhook": lambda _p: None})
    assert delivered == 1, "only the webhook counts as delivered"
    clock.advance(timedelta(hours=1))
    assert relay(db.factory, clock, {"email": off, "webhook": lambda _p: None}) == 0
    assert len(calls) == 1, "tried once"
    with session_scope(db.factory) as session:
        events = {e.kind: e for e in session.scalars(select(OutboxEvent))}
        assert events["email"].status == "skipped"
        assert events["email"].last_error == "e-mail is off (CLAMEUR_SMTP_HOST is empty)"
        assert events["webhook"].status == "sent"


def test_alert_e_mail_is_skipped_when_no_smtp_server_is_set() -> None:
    settings = Settings(smtp_host="")
    payload = {"to": "sup@acme.example", "subject": "s", "text": "t"}
    with pytest.raises(DeliverySkipped, match="CLAMEUR_SMTP_HOST"):
        send_email(settings, payload)
