"""Archive search, compiled: a query parsed once, its pre-filter planned, its ``?``
wildcards expanded against the index vocabulary (:mod:`clameur.listening.search` runs it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from clameur.listening.query import (
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Rating,
    Wildcard,
    format_query,
    parse,
)
from clameur.listening.search_index import (
    MAX_EXPANSION,
    VOCABULARY,
    Decider,
    Expansion,
    Filter,
    Vocabulary,
    bounded,
    expand,
    jokers,
    key_decider,
    sql_exact,
    text_filter,
    vocabulary_range,
)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query with its pre-filter; ``node`` None lists every mention."""

    text: str | None
    node: Node | None
    filter: Filter | None
    decider: Decider | None = None
    """Confirms a candidate from its index tokens and metadata (see :func:`key_decider`)."""
    metadata: bool = False
    """Whether the query tests fields or ratings."""
    expanded: bool = False
    """Whether its ``?`` wildcards were expanded against the index vocabulary (or it has none)."""
    exact: bool = False
    """Whether ``filter`` is exactly the query (but for over-long mentions): the database can
    count the matches (facets) without confirming them in Python."""

    @property
    def indexed(self) -> bool:
        """Whether the database pre-filters (otherwise every mention in range is evaluated)."""
        return self.filter is not None

    @property
    def canonical(self) -> str | None:
        return None if self.node is None else format_query(self.node)


def compile_query(query: str | None, session: Session | None = None) -> SearchQuery:
    """Parse ``query`` (raises :class:`QuerySyntaxError` with its column); None: no filter.

    With a ``session``, ``?`` wildcards are expanded against the index vocabulary (else
    :func:`search` does it): they become the words they stand for, looked up in the index.
    """
    if query is None:
        return SearchQuery(None, None, None, expanded=True, exact=True)
    node = parse(query)
    if session is not None:
        return planned(query, node, expand_wildcards(session, query, node))
    return planned(query, node, None)


def planned(text: str, node: Node, expansions: dict[Wildcard, Expansion] | None) -> SearchQuery:
    whole = text_filter(node, expansions)
    flt = bounded(whole)
    decider = key_decider(node, expansions)
    expanded = expansions is not None or not jokers(node)
    exact = expanded and flt is not None and flt == whole and sql_exact(node, expansions)
    return SearchQuery(text, node, flt, decider, _has_fields(node), expanded, exact)


def expand_wildcards(session: Session, text: str, node: Node) -> dict[Wildcard, Expansion]:
    """Each ``?`` wildcard of ``node``: the index tokens it may match (one vocabulary read per
    distinct literal prefix)."""
    out: dict[Wildcard, Expansion] = {}
    read: dict[tuple[str, str], Vocabulary] = {}
    wildcards = jokers(node)
    everything = ("", "{")
    if any(vocabulary_range(wildcard) == everything for wildcard in wildcards):
        read[everything] = Vocabulary(_vocabulary(session, *everything))
    for wildcard in wildcards:
        span = vocabulary_range(wildcard)
        if everything in read:
            span = everything  # read once already: the patterns keep their own prefixes
        if span not in read:
            read[span] = Vocabulary(_vocabulary(session, *span))
        expansion = expand(wildcard, read[span])
        if expansion is None:
            column = text.find(wildcard.pattern) + 1
            raise QuerySyntaxError(
                f"wildcard '{wildcard.pattern}' at column {column} matches more than "
                f"{MAX_EXPANSION} different words in the archive; make it more precise",
                column,
                query=text,
            )
        out[wildcard] = expansion
    return out


def _vocabulary(session: Session, lo: str, hi: str) -> list[str]:
    """The index tokens ``lo <= token < hi`` (``hi`` is ``lo`` + "{"), from the vocabulary
    table (duplicates possible on PostgreSQL, where concurrent imports never wait on it)."""
    if session.get_bind().dialect.name == "postgresql":
        query = f"SELECT DISTINCT token FROM {VOCABULARY} WHERE token LIKE %(prefix)s"  # noqa: S608
        found = session.connection().exec_driver_sql(query, {"prefix": lo + "%"})
    else:
        query = f"SELECT token FROM {VOCABULARY} WHERE token >= ? AND token < ?"  # noqa: S608
        found = session.connection().exec_driver_sql(query, (lo, hi))
    return [row[0] for row in found.fetchall()]


def _has_fields(node: Node) -> bool:
    match node:
        case Field() | Rating():
            return True
        case Not(child):
            return _has_fields(child)
        case And(children) | Or(children):
            return any(_has_fields(child) for child in children)
        case Near(left, right):
            return _has_fields(left) or _has_fields(right)
    return False


def describe_query_error(exc: QuerySyntaxError) -> str:
    """One line that always names the column."""
    message = exc.message
    if "column" not in message:
        message = f"{message} (column {exc.column})"
    return message
