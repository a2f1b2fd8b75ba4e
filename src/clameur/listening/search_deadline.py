"""Archive search, bounded in time: a deadline over the database's statements and the
Python loop, and the error a stopped search raises."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import text as sql_text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from clameur.errors import InvalidInputError


class SearchTimeout(InvalidInputError):
    """A search stopped at its deadline (``seconds``): the query is too broad for the archive."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the search took longer than {seconds:g} s and was stopped; narrow it: a date "
            "range (since, until), fewer or more precise terms"
        )
        self.seconds = seconds


Check = Callable[[], None]
"""Raises :class:`SearchTimeout` once the search's deadline has passed."""
_PROGRESS_STEPS: Final = 1000
"""SQLite: virtual-machine instructions between two looks at the deadline."""
_QUERY_CANCELED: Final = "57014"


@contextmanager
def deadline(session: Session, seconds: float | None) -> Iterator[Check]:
    """Stop what runs inside after ``seconds``: the database's statements (PostgreSQL
    ``statement_timeout`` for each, in a savepoint; SQLite a progress handler) and, through
    the yielded check, the Python loop over candidates. Raises :class:`SearchTimeout`; the
    session stays usable (the savepoint is rolled back, the timeout and handler are reset).
    """
    if seconds is None:
        yield no_check
        return
    end = time.monotonic() + seconds

    def check() -> None:
        if time.monotonic() > end:
            raise SearchTimeout(seconds)

    if session.get_bind().dialect.name == "postgresql":
        savepoint = session.begin_nested()
        millis = str(max(1, int(seconds * 1000)))
        before = session.execute(
            sql_text(
                "SELECT current_setting('statement_timeout'), "
                "set_config('statement_timeout', :ms, true)"
            ),
            {"ms": millis},
        ).scalar_one()
        try:
            yield check
        except OperationalError as exc:
            savepoint.rollback()  # also restores statement_timeout
            if getattr(exc.orig, "sqlstate", None) == _QUERY_CANCELED:
                raise SearchTimeout(seconds) from None
            raise
        except BaseException:
            savepoint.rollback()
            raise
        session.execute(sql_text("SELECT set_config('statement_timeout', :v, true)"), {"v": before})
        savepoint.commit()
        return
    raw: Any = session.connection().connection.driver_connection
    raw.set_progress_handler(lambda: 1 if time.monotonic() > end else 0, _PROGRESS_STEPS)
    try:
        yield check
    except OperationalError as exc:
        if "interrupted" in str(exc.orig):
            raise SearchTimeout(seconds) from None
        raise
    finally:
        raw.set_progress_handler(None, 0)


def no_check() -> None:
    return None
