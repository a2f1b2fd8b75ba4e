"""Delivering alert notifications: e-mail over SMTP and signed webhooks.

These are the outbox handlers of ``alert.email`` and ``alert.webhook`` events (see
:func:`handlers`). Any failure raises, so the outbox retries with backoff. A retry is
recognisable by the receiver: the e-mail keeps its ``Message-ID`` and the webhook its
``X-Clameur-Event-Id``, both derived from the outbox event id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formatdate, make_msgid
from functools import partial
from typing import Any

import httpx

from clameur import fetch
from clameur.clock import Clock, SystemClock
from clameur.config import Settings
from clameur.core.outbox import Handler
from clameur.detection.notify import EMAIL, WEBHOOK
from clameur.errors import ClameurError, DeliverySkipped
from clameur.fetch import check_host

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Clameur-Signature"
TIMESTAMP_HEADER = "X-Clameur-Timestamp"
EVENT_ID_HEADER = "X-Clameur-Event-Id"


class DeliveryError(ClameurError):
    """A notification could not be delivered (the outbox retries it)."""


class PrivateAddressError(DeliveryError, fetch.PrivateAddressError):
    """A webhook points at a loopback, private or link-local address (also a
    :class:`clameur.fetch.PrivateAddressError`)."""


def handlers(settings: Settings, clock: Clock | None = None) -> dict[str, Handler]:
    """The outbox handlers of alert notifications, for :func:`clameur.pipeline.relay`."""
    return {
        EMAIL: partial(send_email, settings),
        WEBHOOK: partial(send_webhook, settings, clock=clock or SystemClock()),
    }


# -- e-mail ----------------------------------------------------------------------------


def send_email(settings: Settings, payload: dict[str, Any]) -> None:
    """Hand one alert e-mail (``to``, ``subject``, ``text``) to the SMTP server."""
    if not settings.smtp_host:
        raise DeliverySkipped("e-mail is off (CLAMEUR_SMTP_HOST is empty)")
    message = build_email(settings, payload)
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message, from_addr=settings.smtp_from, to_addrs=[payload["to"]])
    log.info("alert e-mail sent", extra={"event": payload.get("_event_id"), "to": payload["to"]})


def build_email(settings: Settings, payload: dict[str, Any]) -> EmailMessage:
    """A plain-text message; its Message-ID and Date stay the same on every retry."""
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    event_id = payload.get("_event_id")
    message = EmailMessage()  # the default policy refuses CR/LF in header values
    message["From"] = settings.smtp_from
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    created = payload.get("_created_at")
    message["Date"] = format_datetime(datetime.fromisoformat(created)) if created else formatdate()
    message["Message-ID"] = (
        f"<clameur.outbox.{event_id}@{domain}>"
        if event_id is not None
        else make_msgid(domain=domain)
    )
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    if event_id is not None:
        message[EVENT_ID_HEADER] = str(event_id)
    message.set_content(payload["text"])
    return message


# -- webhooks --------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>.<body>"`` with the webhook's secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver checks (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def send_webhook(
    settings: Settings, payload: dict[str, Any], *, clock: Clock | None = None
) -> None:
    """POST one signed JSON body (``url``, ``secret``, ``body``); any non-2xx answer raises.

    The host is resolved and checked once, and the connection made to those very addresses
    (TLS still verifies the host name), so a DNS answer cannot change between the check
    and the request. Redirects are not followed; proxies from the environment are not used.
    """
    url = httpx.URL(payload["url"])
    if url.scheme not in {"http", "https"} or not url.host:
        raise DeliveryError(f"webhook URL must be http(s)://host/…: {_shown(url)}")
    if not str(payload.get("secret") or "").strip():
        raise DeliveryError(
            f"webhook {_shown(url)} has no secret: not sent unsigned (set one in its alert rule)"
        )
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = resolve(url.host, port, allow_private=settings.allow_private_fetch)
    body = str(payload["body"]).encode()
    timestamp = str(int((clock or SystemClock()).now().timestamp()))
    headers = {
        "Host": url.netloc.decode("ascii"),
        "Content-Type": "application/json",
        "User-Agent": "Clameur-Webhook/1",
        SIGNATURE_HEADER: sign(str(payload.get("secret", "")), timestamp, body),
        TIMESTAMP_HEADER: timestamp,
    }
    if payload.get("_event_id") is not None:
        headers[EVENT_ID_HEADER] = str(payload["_event_id"])
    with httpx.Client(
        timeout=settings.webhook_timeout, follow_redirects=False, trust_env=False
    ) as client:
        status = _post(client, url, addresses, body, headers)
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook {_shown(url)} answered HTTP {status}")
    log.info("alert webhook sent", extra={"event": payload.get("_event_id"), "url": _shown(url)})


def _post(
    client: httpx.Client, url: httpx.URL, addresses: list[str], body: bytes, headers: Any
) -> int:
    """POST to each address in turn until one accepts the connection; the status code."""
    for index, address in enumerate(addresses):
        try:
            with client.stream(
                "POST",
                url.copy_with(host=address),
                content=body,
                headers=headers,
                extensions={"sni_hostname": url.host},
            ) as response:
                return response.status_code  # the body is never read: it could be anything
        except httpx.ConnectError:
            if index == len(addresses) - 1:
                raise
    raise DeliveryError(f"webhook host {url.host} resolves to no address")


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses to connect to; refused unless every one of them is public.

    The check is :func:`clameur.fetch.check_host` (loopback, private, link-local, shared,
    reserved and multicast ranges, also inside IPv6 translation forms), refused unless
    ``allow_private`` (the setting ``CLAMEUR_ALLOW_PRIVATE_FETCH=1``, for tests and intranets);
    its errors come back as :class:`DeliveryError`, which the outbox records and retries.
    """
    try:
        return check_host(host, port, allow_private=allow_private)
    except fetch.PrivateAddressError as exc:
        raise PrivateAddressError(
            f"refusing to send a webhook to {host}: {exc.address} is a loopback, private or "
            "link-local address (set CLAMEUR_ALLOW_PRIVATE_FETCH=1 to allow it)",
            url=exc.url,
            host=exc.host,
            address=exc.address,
        ) from None
    except fetch.FetchError as exc:
        raise DeliveryError(f"webhook host: {exc.reason}") from None


def _shown(url: httpx.URL) -> str:
    """The URL without its query and credentials, which may hold tokens."""
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"
