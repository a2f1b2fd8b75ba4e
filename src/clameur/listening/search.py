"""Archive search: stored mentions that match a query, on SQLite FTS5 or PostgreSQL GIN.

Two stages, so that both backends return exactly what the reference evaluator returns:

1. **Pre-filter in the database.** At store time each mention gets ``search_text``: its index
   keys (folded words, ``#tags``, ``@handles``: :attr:`PreparedDocument.keys`), each
   written as an ASCII token ``[a-z0-9]+`` (:func:`index_token`), sorted and joined by
   spaces. A query becomes an AND/OR expression over such tokens (:func:`text_filter`, a
   superset of the query's matches: every positive leaf contributes the keys it needs,
   wildcards a prefix), run through FTS5 ``MATCH`` on SQLite and ``@@`` on PostgreSQL.
   Queries with nothing to look up (fields alone, exclusions) scan the tenant's mentions.
2. **Confirmation in Python.** Every candidate is checked against the query: from its index
   tokens and metadata when the query allows (:func:`key_decider`: words, tags, prefixes,
   fields, AND/OR/NOT — a few microseconds), else with :func:`evaluate` on its text
   (phrases, ``NEAR``, ``raw:``). Both are exactly the reference evaluator's answer.

Folding happens once, in Python, with the query language's own :func:`fold`; neither
backend tokenises or folds anything (no ``unaccent``, no text-search dictionary), which is
why their results cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import threading
import time
from collections import Counter
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from clameur.errors import InvalidInputError
from clameur.listening.query import (
    Document,
    evaluate,
)
from clameur.listening.search_deadline import Check, SearchTimeout, deadline, no_check
from clameur.listening.search_facets import (
    AUTHORS,
    FACETS,
    MENTIONS,
    Facets,
    brands_of,
    countable,
    database_filter,
    ranked,
    sql_facets,
)
from clameur.listening.search_index import (
    FTS_TABLE,
    NO_METADATA,
    OVERFLOW,
    Filter,
    Key,
    fts5_expression,
    jokers,
    metadata_only,
)
from clameur.listening.search_query import SearchQuery, compile_query, expand_wildcards, planned
from clameur.mentions.schemas import DATE_RANGE, in_date_range

__all__ = ["AUTHORS", "FACETS", "MENTIONS", "SearchHit", "SearchResult", "search"]

# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: int
    source: str
    external_id: str
    created_at: datetime
    text: str
    author: str
    url: str | None
    lang: str | None
    sentiment: str | None
    rating: int | None
    brands: tuple[str, ...] = ()

    def contract(self) -> dict[str, Any]:
        """The ``clameur search --json`` item."""
        return {
            "source": self.source,
            "external_id": self.external_id,
            "created_at": self.created_at.isoformat(),
            "text": self.text,
        }


@dataclass
class SearchResult:
    hits: list[SearchHit]
    """Newest first (``created_at``, then ``id``, descending)."""
    next_cursor: str | None
    """Opaque keyset cursor for the next page; None on the last page."""
    total: int | None = None
    """Size of the full match set (known with facets, or when every match was returned)."""
    facets: dict[str, list[tuple[str | None, int]]] | None = None
    """Counts per value over the full match set, most frequent first (brand: slugs)."""
    candidates: int = 0
    """Mentions read from the database and evaluated."""
    indexed: bool = False
    facets_stopped: bool = False
    """Facets (and ``total``) were asked for with a ``facets_timeout`` and not counted in time:
    the page is complete, ``facets`` and ``total`` are None."""


def encode_cursor(created_at: datetime, mention_id: int) -> str:
    raw = f"{created_at.isoformat()}|{mention_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_BAD_CURSOR: Final = "not a cursor returned by a previous page"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position a cursor stands for; a bad cursor is an :class:`InvalidInputError`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, number = raw.rpartition("|")
        at = datetime.fromisoformat(stamp)
        mention_id = int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInputError(_BAD_CURSOR, where="cursor") from None
    if at.tzinfo is None:
        raise InvalidInputError(_BAD_CURSOR, where="cursor")
    if not in_date_range(at):
        raise InvalidInputError(f"{_BAD_CURSOR}: its date is outside {DATE_RANGE}", where="cursor")
    return at, mention_id


# -- the search --------------------------------------------------------------------------

_CHUNK: Final = 1000
_HANDLE = (
    select(AUTHORS.c.handle)
    .where(AUTHORS.c.id == MENTIONS.c.author_id)
    .correlate(MENTIONS)
    .scalar_subquery()
    .label("handle")
)
"""The author's handle by primary key, row by row: as a join, PostgreSQL over-estimating
the candidates hashed the whole authors table (28 of 40 ms for 1,158 matches at 1M)."""
_COLUMNS = (
    MENTIONS.c.id,
    MENTIONS.c.source,
    MENTIONS.c.external_id,
    MENTIONS.c.created_at,
    MENTIONS.c.text,
    MENTIONS.c.url,
    MENTIONS.c.lang,
    MENTIONS.c.sentiment,
    MENTIONS.c.rating,
    _HANDLE,
    MENTIONS.c.search_text,
)


def _check_aware(value: datetime | None, name: str) -> None:
    if value is not None and value.tzinfo is None:
        raise InvalidInputError("a date needs a time zone (e.g. 2026-11-16T00:00:00Z)", where=name)


def _candidates(
    session: Session,
    tenant_id: int,
    plan: SearchQuery,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, int] | None,
    *,
    every: bool,
) -> Select[Any]:
    """Candidate rows, newest first. ``every``: all of them will be read (else a page)."""
    m = MENTIONS
    flt = plan.filter
    tenant_column: ColumnElement[int] = m.c.tenant_id
    if flt is not None and session.get_bind().dialect.name == "sqlite":
        if every:
            # Drive the query from FTS5: SQLite would otherwise walk the tenant's whole
            # (tenant_id, created_at) index and test each row against the match list. "+ 0"
            # keeps that index out; the candidates are then looked up by rowid and sorted.
            tenant_column = m.c.tenant_id + 0
        else:
            # A page of a broad query: walking newest first and confirming in Python stops
            # after a few rows, where FTS5 would first list every candidate.
            flt = None
    stmt = select(*_COLUMNS).select_from(m).where(tenant_column == tenant_id)
    if since is not None:
        stmt = stmt.where(m.c.created_at >= since)
    if until is not None:
        stmt = stmt.where(m.c.created_at < until)
    if after is not None:
        at, last_id = after
        stmt = stmt.where(m.c.created_at <= at, (m.c.created_at < at) | (m.c.id < last_id))
    if flt is not None:
        stmt = stmt.where(_database_filter(session, flt))
    return stmt.order_by(m.c.created_at.desc(), m.c.id.desc())


FEW_CANDIDATES: Final = 20_000
"""For a page: up to this many index candidates, read them all through the text index;
beyond, walk the tenant's mentions newest first and stop when the page is full."""


def _few_candidates(session: Session, tenant_id: int, flt: Filter) -> bool:
    """Whether the text index gives few candidates: counted (up to the bound) by FTS5 over
    all tenants; estimated by PostgreSQL's planner from the index statistics."""
    if session.get_bind().dialect.name == "postgresql":
        probe: Select[Any] = select(literal_column("1")).where(
            MENTIONS.c.tenant_id == tenant_id, _database_filter(session, flt)
        )
        compiled = probe.compile(session.get_bind())
        explained = session.connection().exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params
        )
        estimate = explained.scalar_one()[0]["Plan"]["Plan Rows"]
        return float(estimate) <= FEW_CANDIDATES
    probe_fts = sql_text(
        f"SELECT count(*) FROM (SELECT rowid FROM {FTS_TABLE} "  # noqa: S608 - constants
        f"WHERE {FTS_TABLE} MATCH :q LIMIT {FEW_CANDIDATES + 1})"
    )
    found = session.execute(probe_fts, {"q": fts5_expression(flt)}).scalar_one()
    return int(found) <= FEW_CANDIDATES


def _database_filter(session: Session, flt: Filter) -> ColumnElement[bool]:
    return cast(ColumnElement[bool], database_filter(session, flt))


def _confirmed(
    session: Session,
    plan: SearchQuery,
    stmt: Select[Any],
    counter: list[int],
    *,
    whole: bool,
    check: Check = no_check,
) -> Generator[SearchHit, None, None]:
    """Stream the candidates, newest first, and keep those the query matches.

    ``whole``: every candidate will be read. PostgreSQL plans a cursor for its first 10 %
    of rows by default and then prefers walking the date index, testing the text filter on
    each row, even for a rare word; told the truth, it takes the GIN index and sorts.
    """
    check()  # the plan (vocabulary reads included) may have used the time already
    restore = None
    if whole and session.get_bind().dialect.name == "postgresql":
        restore = session.execute(sql_text("SHOW cursor_tuple_fraction")).scalar_one()
        session.execute(sql_text("SELECT set_config('cursor_tuple_fraction', '1', true)"))
    rows = session.execute(stmt.execution_options(yield_per=_CHUNK))
    if restore is not None:
        session.execute(
            sql_text("SELECT set_config('cursor_tuple_fraction', :v, true)"), {"v": restore}
        )
    try:
        for row in rows:
            counter[0] += 1
            if not counter[0] % 256:
                check()
            if plan.node is not None:
                if plan.decider is not None and row.search_text != OVERFLOW:
                    tokens = frozenset(row.search_text.split())
                    meta = metadata_only(_document(row)) if plan.metadata else NO_METADATA
                    matched = plan.decider(tokens, meta)
                else:
                    matched = evaluate(plan.node, _document(row))
                if not matched:
                    continue
            yield SearchHit(
                row.id,
                row.source,
                row.external_id,
                row.created_at,
                row.text,
                row.handle,
                row.url,
                row.lang,
                row.sentiment,
                row.rating,
            )
    finally:
        rows.close()


def _document(row: Any) -> Document:
    return Document(
        text=row.text,
        author=row.handle,
        source=row.source,
        lang=row.lang,
        url=row.url,
        rating=row.rating,
    )


def search(
    session: Session,
    tenant_id: int,
    query: str | SearchQuery | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    facets: bool = False,
    brands: bool = False,
    timeout: float | None = None,
    facets_timeout: float | None = None,
) -> SearchResult:
    """The tenant's mentions matching ``query``, newest first.

    ``since`` is inclusive, ``until`` exclusive (timezone-aware). ``limit`` None returns
    every match. ``cursor`` (from :attr:`SearchResult.next_cursor`) continues a listing.
    ``facets`` counts the full match set per source, sentiment, language and brand (the
    whole range is then evaluated, whatever the page). ``brands`` fills each hit's brands.
    ``timeout``: seconds before the search is stopped (:func:`deadline`).
    ``facets_timeout``: facets are best effort — the page is read first, then the facets
    are counted until this long after the search began (and within ``timeout``); past it
    the result has :attr:`SearchResult.facets_stopped` instead of failing.
    Raises :class:`QuerySyntaxError` for a malformed query, :class:`InvalidInputError` for
    a bad cursor, date or limit, :class:`SearchTimeout` past the timeout.
    """
    if not (facets and facets_timeout is not None):
        with deadline(session, timeout) as check:
            return _search(
                session, tenant_id, query, since, until, limit, cursor, facets, brands, check
            )
    start = time.monotonic()
    unexpanded = query if isinstance(query, SearchQuery) else compile_query(query)
    heavy = _heavy(session, tenant_id, unexpanded)
    if heavy and not HEAVY_SEARCHES.acquire(timeout=-1 if timeout is None else timeout):
        raise SearchTimeout(timeout or 0.0)
    try:
        return _budgeted(
            session,
            tenant_id,
            unexpanded,
            since,
            until,
            limit,
            cursor,
            brands,
            timeout,
            facets_timeout,
            start,
        )
    finally:
        if heavy:
            HEAVY_SEARCHES.release()


HEAVY_SEARCHES: Final = threading.BoundedSemaphore(1)
"""The API's broad searches — no index key, more than :data:`FEW_CANDIDATES` candidates, or
``?`` wildcards to expand — run one at a time per process; the others wait their turn within
their deadline. Four hostile searches at once would otherwise take both cores of a small
server from everybody else, whose selective searches never wait."""


def _heavy(session: Session, tenant_id: int, plan: SearchQuery) -> bool:
    if plan.node is None or plan.filter is None or jokers(plan.node):
        return True
    return not _few_candidates(session, tenant_id, plan.filter)


def _budgeted(
    session: Session,
    tenant_id: int,
    query: SearchQuery,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    cursor: str | None,
    brands: bool,
    timeout: float | None,
    facets_timeout: float,
    start: float,
) -> SearchResult:
    """The page within ``timeout``, then its facets until ``facets_timeout`` after ``start``."""
    with deadline(session, timeout) as check:
        plan = _expanded(session, query)
        page = _search(session, tenant_id, plan, since, until, limit, cursor, False, brands, check)
    spent = time.monotonic() - start
    left = facets_timeout - spent  # the whole answer within facets_timeout if it can
    if timeout is not None:
        left = min(left, timeout - spent)
    if left <= 0:
        page.facets_stopped = True
        return page
    try:
        with deadline(session, left) as check:
            page.total, page.facets = _counted(session, tenant_id, plan, since, until, check)
    except SearchTimeout:
        page.total = None
        page.facets_stopped = True
    return page


def _expanded(session: Session, query: str | SearchQuery | None) -> SearchQuery:
    """The compiled query with its ``?`` wildcards expanded against the index vocabulary."""
    plan = query if isinstance(query, SearchQuery) else compile_query(query, session)
    if not plan.expanded and plan.text is not None and plan.node is not None:
        plan = planned(plan.text, plan.node, expand_wildcards(session, plan.text, plan.node))
    return plan


def _search(
    session: Session,
    tenant_id: int,
    query: str | SearchQuery | None,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    cursor: str | None,
    facets: bool,
    brands: bool,
    check: Check,
) -> SearchResult:
    plan = _expanded(session, query)
    _check_aware(since, "since")
    _check_aware(until, "until")
    if limit is not None and limit < 1:
        raise InvalidInputError(f"must be at least 1, got {limit}", where="limit")
    after = decode_cursor(cursor) if cursor else None
    counter = [0]
    result = SearchResult([], None, indexed=plan.indexed)
    every = limit is None or (
        plan.filter is not None and _few_candidates(session, tenant_id, plan.filter)
    )
    stmt = _candidates(session, tenant_id, plan, since, until, after, every=every)
    stream = _confirmed(session, plan, stmt, counter, whole=every, check=check)
    try:
        page = list(itertools.islice(stream, None if limit is None else limit + 1))
    finally:
        stream.close()
    if limit is None and after is None:
        result.total = len(page)
    if limit is not None and len(page) > limit:
        page = page[:limit]
        result.next_cursor = encode_cursor(page[-1].created_at, page[-1].id)
    if brands and page:
        slugs = brands_of(session, tenant_id, [hit.id for hit in page])
        page = [_with_brands(hit, slugs.get(hit.id, ())) for hit in page]
    result.hits = page
    result.candidates = counter[0]
    if facets:
        check()
        result.total, result.facets = _counted(session, tenant_id, plan, since, until, check)
    return result


def _counted(
    session: Session,
    tenant_id: int,
    plan: SearchQuery,
    since: datetime | None,
    until: datetime | None,
    check: Check,
) -> tuple[int, Facets]:
    """The size of the whole match set and its facets: counted by the database when the
    query is countable there (:func:`countable`), else every match confirmed in Python."""
    how = countable(plan)
    if how is not None:
        total, counts = sql_facets(session, tenant_id, how, since, until)
        if how.filter is not None:  # over-long mentions are confirmed one by one
            overflow = SearchQuery(plan.text, plan.node, Key(OVERFLOW))
            total += _tally(session, tenant_id, overflow, since, until, counts, check)
    else:
        counts = {name: Counter() for name in FACETS}
        total = _tally(session, tenant_id, plan, since, until, counts, check)
    return total, {name: ranked(counter) for name, counter in counts.items()}


def _tally(
    session: Session,
    tenant_id: int,
    plan: SearchQuery,
    since: datetime | None,
    until: datetime | None,
    counts: dict[str, Counter[str | None]],
    check: Check,
) -> int:
    """Every match of ``plan`` confirmed in Python and added to ``counts``; how many."""
    stmt = _candidates(session, tenant_id, plan, since, until, None, every=True)
    ids: list[int] = []
    for hit in _confirmed(session, plan, stmt, [0], whole=True, check=check):
        ids.append(hit.id)
        counts["source"][hit.source] += 1
        counts["sentiment"][hit.sentiment] += 1
        counts["lang"][hit.lang] += 1
    slugs = brands_of(session, tenant_id, ids)
    for mention_id in ids:
        about: list[str | None] = list(slugs.get(mention_id, ())) or [None]
        for slug in about:
            counts["brand"][slug] += 1
    return len(ids)


def _with_brands(hit: SearchHit, slugs: Sequence[str]) -> SearchHit:
    return SearchHit(
        hit.id,
        hit.source,
        hit.external_id,
        hit.created_at,
        hit.text,
        hit.author,
        hit.url,
        hit.lang,
        hit.sentiment,
        hit.rating,
        tuple(sorted(slugs)),
    )


# -- test-drive: a draft query against recent mentions ------------------------------------


@dataclass
class QueryPreview:
    """What a draft query would have matched (the API's query test-drive)."""

    query: str
    """The query in canonical form (what it was understood as)."""
    days: int
    since: datetime
    until: datetime
    mentions: int
    """Stored mentions of the tenant in the window."""
    matched: int
    sample: list[SearchHit] = field(default_factory=list)
    """The newest matches, with their brands."""
    facets: dict[str, list[tuple[str | None, int]]] = field(default_factory=dict)
    indexed: bool = False


def preview_query(
    session: Session,
    tenant_id: int,
    query: str,
    *,
    now: datetime,
    days: int,
    sample_size: int,
    timeout: float | None = None,
) -> QueryPreview:
    """How many of the tenant's mentions of the last ``days`` days (before ``now``) a draft
    query matches, with the newest ``sample_size`` of them. Nothing is saved."""
    if days < 1:
        raise InvalidInputError(f"must be at least 1, got {days}", where="days")
    if sample_size < 0:
        raise InvalidInputError(f"must be at least 0, got {sample_size}", where="sample_size")
    _check_aware(now, "now")
    plan = compile_query(query, session)
    since = now - timedelta(days=days)
    found = search(
        session,
        tenant_id,
        plan,
        since=since,
        until=now,
        limit=max(sample_size, 1),
        facets=True,
        brands=True,
        timeout=timeout,
    )
    in_window = select(func.count()).where(
        MENTIONS.c.tenant_id == tenant_id,
        MENTIONS.c.created_at >= since,
        MENTIONS.c.created_at < now,
    )
    return QueryPreview(
        query=plan.canonical or query,
        days=days,
        since=since,
        until=now,
        mentions=int(session.execute(in_window).scalar_one()),
        matched=found.total or 0,
        sample=found.hits[:sample_size],
        facets=found.facets or {},
        indexed=plan.indexed,
    )
