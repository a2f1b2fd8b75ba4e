"""Typed errors that carry what went wrong and where."""

from __future__ import annotations

from typing import Any


class ClameurError(Exception):
    """Base of every error Clameur reports to a user (CLI: one line, no traceback)."""


class NotFoundError(ClameurError):
    """A named object (tenant, brand, mention…) does not exist, or is not visible."""


class AlreadyExistsError(ClameurError):
    """An object with the same natural key exists already."""


class ConflictError(ClameurError):
    """The action collides with what someone else did meanwhile (HTTP 409): ``detail``
    says with what (the reply sent first, the colleague holding the conversation…)."""

    def __init__(self, reason: str, *, detail: dict[str, Any] | None = None) -> None:
        self.reason = reason
        self.detail: dict[str, Any] = dict(detail or {})
        super().__init__(reason)


class InvalidInputError(ClameurError):
    """Input that cannot be used, with its location (file, line, field)."""

    def __init__(self, reason: str, *, where: str | None = None) -> None:
        self.reason = reason
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)


class UnauthenticatedError(ClameurError):
    """No valid credentials: sign in (pages) or send a token (API)."""


class ForbiddenError(ClameurError):
    """The principal is known but its role may not do this."""

    def __init__(self, reason: str, *, action: str | None = None) -> None:
        self.reason = reason
        self.action = action
        super().__init__(reason)


class TooManyAttemptsError(ClameurError):
    """Sign-in refused for a while after too many failures (per account or per address)."""

    def __init__(self, reason: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(reason)


class DeliverySkipped(ClameurError):
    """A side effect deliberately not attempted because its channel is off (e-mail with no
    SMTP server configured): the outbox records it as ``skipped`` and does not retry."""
