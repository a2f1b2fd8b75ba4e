"""What a query may cost: every limit of the query language, in one place.

A query is refused while it is read (:class:`QuerySyntaxError` naming the limit, the value and
the column), before anything runs — archive search, the query test-drive and brand queries
when they are saved. The parser charges a :class:`Budget` as it builds each leaf and each
``NEAR``; the first charge past a limit is the error, at the column of what passed it.

The estimate counts what the slow parts of a search grow with: the terms the database
pre-filter looks up, the wildcards expanded against the index vocabulary (``?`` costs more than
a final ``*``, a leading ``?`` more still: it reads the whole vocabulary), and the positions a
``NEAR`` compares (its left alternatives times its right ones). See docs/queries.md, "Limits".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from clameur.listening.query.errors import QuerySyntaxError

MAX_LENGTH: Final = 4_000
"""Characters in a query."""
MAX_TERMS: Final = 256
"""Searchable words (each word of a phrase counts), hashtags, mentions, wildcards and field
tests together."""
MAX_WILDCARDS: Final = 16
"""Words with ``?`` or ``*``."""
MAX_LEADING_JOKERS: Final = 2
"""Wildcards that start with ``?`` (nothing to narrow the vocabulary with)."""
MAX_NEAR: Final = 16
"""``NEAR`` operators."""
MAX_NEAR_SIDE: Final = 32
"""Alternatives on one side of a ``NEAR`` (``(a OR b OR …) NEAR/3 c``)."""
MAX_GROUPS: Final = 16
"""Levels of parentheses (groups and ``field:( … )``): each may be a level of SQLite FTS5's
parser stack, which overflows near 34 alternating AND/OR levels."""
MAX_DEPTH: Final = 64
"""Levels of parentheses, ``NOT`` and ``-`` together (they recurse in the parser)."""
MAX_DISTANCE: Final = 1000
"""``NEAR/n`` distance and ``"…"~n`` window."""
MAX_RATING: Final = 10
"""Numbers after ``rating:``."""
MAX_COST: Final = 1_000
"""The estimated cost of a whole query (see :class:`Budget`)."""

COST_TERM: Final = 1
COST_PREFIX: Final = 4
"""A wildcard with only a final ``*``: one prefix lookup."""
COST_JOKER: Final = 16
"""A wildcard with ``?``: expanded against the vocabulary under its literal prefix."""
COST_LEADING_JOKER: Final = 100
"""A wildcard starting with ``?``: the whole vocabulary is read to expand it."""
COST_NEAR_PAIR: Final = 2
"""Per pair of alternatives a ``NEAR`` compares."""


def too_long(text: str) -> QuerySyntaxError | None:
    """The error for a query over :data:`MAX_LENGTH` characters (at the first one past it)."""
    if len(text) <= MAX_LENGTH:
        return None
    column = MAX_LENGTH + 1
    return QuerySyntaxError(
        f"query too long: {len(text)} characters, at most {MAX_LENGTH} "
        f"(column {column} is past the limit)",
        column,
        query=text[:100],
    )


@dataclass(slots=True)
class Budget:
    """What a query has used so far; each ``charge`` raises at the first limit passed."""

    text: str
    terms: int = 0
    wildcards: int = 0
    leading_jokers: int = 0
    nears: int = 0
    cost: int = 0

    def _refuse(self, message: str, column: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, column, query=self.text)

    def _spend(self, amount: int, column: int) -> None:
        self.cost += amount
        if self.cost > MAX_COST:
            raise self._refuse(
                f"query too costly at column {column}: estimated cost {self.cost} is over "
                f"{MAX_COST} (terms {COST_TERM}, wildcards {COST_PREFIX}–"
                f"{COST_LEADING_JOKER}, NEAR {COST_NEAR_PAIR} per pair of alternatives); "
                "split it or make it more precise",
                column,
            )

    def term(self, column: int, words: int = 1) -> None:
        """A word, phrase (``words`` words), hashtag, mention or field test at ``column``."""
        self.terms += words
        if self.terms > MAX_TERMS:
            raise self._refuse(
                f"too many terms: the term at column {column} is number {self.terms}, "
                f"at most {MAX_TERMS}",
                column,
            )
        self._spend(COST_TERM * words, column)

    def wildcard(self, column: int, pattern: str) -> None:
        self.term(column)
        self.wildcards += 1
        if self.wildcards > MAX_WILDCARDS:
            raise self._refuse(
                f"too many wildcards: '{_short(pattern)}' at column {column} is number "
                f"{self.wildcards}, at most {MAX_WILDCARDS}",
                column,
            )
        if pattern.startswith("?"):
            self.leading_jokers += 1
            if self.leading_jokers > MAX_LEADING_JOKERS:
                raise self._refuse(
                    f"too many wildcards starting with '?': '{_short(pattern)}' at column "
                    f"{column} is number {self.leading_jokers}, at most {MAX_LEADING_JOKERS}; "
                    "put a letter first",
                    column,
                )
            self._spend(COST_LEADING_JOKER, column)
        elif "?" in pattern:
            self._spend(COST_JOKER, column)
        else:
            self._spend(COST_PREFIX, column)

    def near(self, column: int, left: int, right: int) -> None:
        """A ``NEAR`` at ``column`` between ``left`` and ``right`` alternatives."""
        self.nears += 1
        if self.nears > MAX_NEAR:
            raise self._refuse(
                f"too many NEAR operators: the one at column {column} is number {self.nears}, "
                f"at most {MAX_NEAR}",
                column,
            )
        widest = max(left, right)
        if widest > MAX_NEAR_SIDE:
            raise self._refuse(
                f"NEAR at column {column}: one side has {widest} alternatives, at most "
                f"{MAX_NEAR_SIDE}",
                column,
            )
        self._spend(COST_NEAR_PAIR * left * right, column)


def _short(text: str) -> str:
    return text if len(text) <= 20 else text[:16] + "…"
