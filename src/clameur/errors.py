"""Typed errors that carry what went wrong and where."""

from __future__ import annotations


class ClameurError(Exception):
    """Base of every error Clameur reports to a user (CLI: one line, no traceback)."""


class NotFoundError(ClameurError):
    """A named object (tenant, brand, mention…) does not exist, or is not visible."""


class AlreadyExistsError(ClameurError):
    """An object with the same natural key exists already."""


class InvalidInputError(ClameurError):
    """Input that cannot be used, with its location (file, line, field)."""

    def __init__(self, reason: str, *, where: str | None = None) -> None:
        self.reason = reason
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)
