"""The one error a query can raise."""

from __future__ import annotations

from clameur.errors import InvalidInputError


class QuerySyntaxError(InvalidInputError):
    """A query that cannot be read; ``column`` is 1-based, the message says where and why."""

    def __init__(self, message: str, column: int, *, query: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.query = query
