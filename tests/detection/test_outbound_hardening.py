"""Outbound webhooks (issue #14): no loopback hidden in an IPv6 translation form, no
webhook without a secret."""

from __future__ import annotations

import pytest

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.detection.delivery import (
    DeliveryError,
    PrivateAddressError,
    resolve,
    send_webhook,
)
from clameur.detection.rules import load_rules, set_rule
from clameur.errors import InvalidInputError
from tests.conftest import Database, make_tenant


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:1::1",  # 6to4 of 192.168.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1 (obfuscated)
        "::ffff:10.0.0.1",
    ],
)
def test_loopback_and_private_ipv4_inside_ipv6_forms_are_refused(address: str) -> None:
    with pytest.raises(PrivateAddressError, match="CLAMEUR_ALLOW_PRIVATE_FETCH"):
        resolve(address, 443, allow_private=False)
    assert resolve(address, 443, allow_private=True) == [address]


@pytest.mark.parametrize("address", ["64:ff9b::5db8:d70e", "2002:5db8:d70e::1"])
def test_translation_forms_of_a_public_ipv4_address_are_kept(address: str) -> None:
    assert resolve(address, 443, allow_private=False) == [address]


@pytest.mark.parametrize("secret", ["", "   ", None])
def test_a_webhook_without_a_secret_is_refused_when_saved(
    db: Database, clock: FrozenClock, secret: str | None
) -> None:
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    hook: dict[str, object] = {"url": "https://hooks.example.com/x"}
    if secret is not None:
        hook["secret"] = secret
    with session_scope(db.factory) as session:
        with pytest.raises(InvalidInputError, match="has no secret"):
            set_rule(session, tenant.id, None, {"webhooks": [hook]}, clock.now())
        set_rule(
            session,
            tenant.id,
            None,
            {"webhooks": [{"url": "https://hooks.example.com/x", "secret": "k"}]},
            clock.now(),
        )
        assert load_rules(session, tenant.id).tenant.webhooks == (
            {"url": "https://hooks.example.com/x", "secret": "k"},
        )


def test_a_webhook_without_a_secret_is_never_sent_unsigned(clock: FrozenClock) -> None:
    payload = {"url": "http://93.184.215.14/hook", "secret": "", "body": "{}"}
    with pytest.raises(DeliveryError, match="has no secret"):
        send_webhook(Settings(allow_private_fetch=False), payload, clock=clock)
