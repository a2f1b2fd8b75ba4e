"""Webhook ingest (kind ``webhook``): a push source — the remote POSTs signed batches in the
import format to ``/api/v1/ingest/{source_id}`` (``clameur.web.api_v1.ingest``).

The connector is never polled. It owns the source's signing secret (``secret``, generated at
``source add`` when none is given, shown once) and the rules a request must meet, shared
with the web route so they have one home:

- headers ``X-Clameur-Timestamp`` (Unix seconds) and ``X-Clameur-Signature``
  (``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>.<body>"`` with the secret), as Clameur's
  own outbound webhooks (``clameur.detection.delivery.sign``);
- the timestamp within :data:`TOLERANCE_SECONDS` of now, either way (a replayed capture is
  refused once it is older; a replay inside the window is harmless: idempotence);
- a body of at most :data:`MAX_BODY_BYTES`.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any, ClassVar, Final

from pydantic import BaseModel

from clameur.detection.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from clameur.errors import UnauthenticatedError
from clameur.sources.base import BaseConnector, NoOptions, PollContext, Polled, SourceConfig

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookConnector", "check_signature", "sign"]

TOLERANCE_SECONDS: Final = 300
MAX_BODY_BYTES: Final = 10 * 2**20
ENDPOINT: Final = "/api/v1/ingest/{source_id}"


class WebhookConnector(BaseConnector):
    """Signed pushes into the pipeline; nothing to poll."""

    kind: ClassVar[str] = "webhook"
    default_source: ClassVar[str] = "other"
    needs_url: ClassVar[bool] = False
    polls: ClassVar[bool] = False
    options_schema: ClassVar[type[BaseModel]] = NoOptions
    secret_fields: ClassVar[tuple[str, ...]] = ("secret",)

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        return Polled(cursor=cursor)  # pushed, never pulled

    @staticmethod
    def generate_secrets(given: dict[str, str] | None = None) -> dict[str, str]:
        """The secrets to store at ``source add``: ``secret`` as given, else a new random
        one (256 bits) — the CLI shows it once."""
        out = dict(given or {})
        if not out.get("secret", "").strip():
            out["secret"] = "whsec_" + secrets.token_urlsafe(32)
        return out

    @staticmethod
    def endpoint(base_url: str, source_id: int) -> str:
        """Where the remote POSTs (``CLAMEUR_PUBLIC_BASE_URL`` + the route)."""
        return base_url.rstrip("/") + ENDPOINT.format(source_id=source_id)


def check_signature(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> None:
    """Raise :class:`UnauthenticatedError` saying why, unless the request is signed with
    ``secret`` at a timestamp within :data:`TOLERANCE_SECONDS` of ``now``."""
    if not signature or not timestamp:
        missing = SIGNATURE_HEADER if not signature else TIMESTAMP_HEADER
        raise UnauthenticatedError(f"the request has no {missing} header")
    try:
        sent = int(timestamp.strip())
    except ValueError:
        raise UnauthenticatedError(
            f"{TIMESTAMP_HEADER} must be Unix seconds, not {timestamp[:40]!r}"
        ) from None
    drift = sent - now.timestamp()
    if drift < -TOLERANCE_SECONDS:
        raise UnauthenticatedError(
            f"{TIMESTAMP_HEADER} is {int(-drift)} s old (more than {TOLERANCE_SECONDS} s): "
            "sign each request when it is sent"
        )
    if drift > TOLERANCE_SECONDS:
        raise UnauthenticatedError(
            f"{TIMESTAMP_HEADER} is {int(drift)} s in the future (more than "
            f"{TOLERANCE_SECONDS} s): check the sender's clock"
        )
    if not secret or not hmac.compare_digest(
        sign(secret, timestamp.strip(), body).encode(), signature.strip().encode()
    ):
        raise UnauthenticatedError(
            f"the {SIGNATURE_HEADER} does not match the body and timestamp (HMAC-SHA256 of "
            '"<timestamp>.<body>" with the source\'s secret)'
        )
