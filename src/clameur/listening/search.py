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
import time
from collections import Counter
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    Table,
    any_,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from clameur.errors import InvalidInputError
from clameur.listening.query import (
    Document,
    evaluate,
)
from clameur.listening.search_deadline import Check, SearchTimeout, deadline, no_check
from clameur.listening.search_index import (
    FTS_TABLE,
    NO_METADATA,
    OVERFLOW,
    PG_VECTOR,
    Filter,
    Key,
    fts5_expression,
    metadata_only,
    tsquery_expression,
)
from clameur.listening.search_query import SearchQuery, compile_query, expand_wildcards, planned
from clameur.mentions.models import Author
from clameur.mentions.models import Mention as MentionRow
from clameur.mentions.schemas import DATE_RANGE, in_date_range
from clameur.tenancy.models import Brand, MentionBrand

MENTIONS = cast(Table, MentionRow.__table__)
AUTHORS = cast(Table, Author.__table__)
MENTION_BRANDS = cast(Table, MentionBrand.__table__)
BRANDS = cast(Table, Brand.__table__)

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


FACETS: Final = ("source", "sentiment", "lang", "brand")


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
    if session.get_bind().dialect.name == "postgresql":
        query = bindparam("search_tsquery", tsquery_expression(flt), type_=TSQUERY)
        return literal_column(PG_VECTOR.replace("search_text", "mentions.search_text")).op("@@")(
            query
        )
    matching = sql_text(
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :search_fts"  # noqa: S608
    ).bindparams(search_fts=fts5_expression(flt))
    return MENTIONS.c.id.in_(matching.columns(column("rowid", Integer)))


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
    if facets and facets_timeout is not None:
        start = time.monotonic()
        plan = query if isinstance(query, SearchQuery) else compile_query(query, session)
        page = search(
            session,
            tenant_id,
            plan,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
            brands=brands,
            timeout=timeout,
        )
        spent = time.monotonic() - start
        left = facets_timeout - spent  # the whole answer within facets_timeout if it can
        if timeout is not None:
            left = min(left, timeout - spent)
        if left <= 0:
            page.facets_stopped = True
            return page
        try:
            return search(
                session,
                tenant_id,
                plan,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
                facets=True,
                brands=brands,
                timeout=left,
            )
        except SearchTimeout:
            page.total = None
            page.facets_stopped = True
            return page
    with deadline(session, timeout) as check:
        return _search(
            session, tenant_id, query, since, until, limit, cursor, facets, brands, check
        )


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
    plan = query if isinstance(query, SearchQuery) else compile_query(query, session)
    if not plan.expanded and plan.text is not None and plan.node is not None:
        plan = planned(plan.text, plan.node, expand_wildcards(session, plan.text, plan.node))
    _check_aware(since, "since")
    _check_aware(until, "until")
    if limit is not None and limit < 1:
        raise InvalidInputError(f"must be at least 1, got {limit}", where="limit")
    after = decode_cursor(cursor) if cursor else None
    counter = [0]
    result = SearchResult([], None, indexed=plan.indexed)
    slugs: dict[int, list[str]] | None = None
    if facets and plan.exact:
        # The database counts the matches; only the page is read.
        result = _search(
            session, tenant_id, plan, since, until, limit, cursor, False, brands, check
        )
        check()
        result.total, result.facets = _sql_facets(session, tenant_id, plan, since, until)
        return result
    if facets:
        # Every match is counted; only the page's hits are kept whole.
        stmt = _candidates(session, tenant_id, plan, since, until, None, every=True)
        counts: dict[str, Counter[str | None]] = {name: Counter() for name in FACETS}
        ids: list[int] = []
        page: list[SearchHit] = []
        for hit in _confirmed(session, plan, stmt, counter, whole=True, check=check):
            ids.append(hit.id)
            counts["source"][hit.source] += 1
            counts["sentiment"][hit.sentiment] += 1
            counts["lang"][hit.lang] += 1
            wanted = limit is None or len(page) <= limit
            if wanted and (after is None or (hit.created_at, hit.id) < after):
                page.append(hit)
        result.total = len(ids)
        slugs = _brands_of(session, tenant_id, ids)
        for mention_id in ids:
            about: list[str | None] = list(slugs.get(mention_id, ())) or [None]
            for slug in about:
                counts["brand"][slug] += 1
        result.facets = {name: _ranked(counter) for name, counter in counts.items()}
    else:
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
        if slugs is None:
            slugs = _brands_of(session, tenant_id, [hit.id for hit in page])
        page = [_with_brands(hit, slugs.get(hit.id, ())) for hit in page]
    result.hits = page
    result.candidates = counter[0]
    return result


def _sql_facets(
    session: Session,
    tenant_id: int,
    plan: SearchQuery,
    since: datetime | None,
    until: datetime | None,
) -> tuple[int, dict[str, list[tuple[str | None, int]]]]:
    """The match count and facets of an :attr:`SearchQuery.exact` plan, counted by the
    database: grouped counts over the matching ids (over-long mentions, whose index holds
    only :data:`OVERFLOW`, are confirmed in Python and added)."""
    m = MENTIONS
    sqlite = session.get_bind().dialect.name == "sqlite"
    tenant_column: ColumnElement[int] = m.c.tenant_id
    where: list[ColumnElement[bool]] = []
    if plan.filter is not None:
        if sqlite:
            tenant_column = m.c.tenant_id + 0  # drive from FTS5, as in _candidates
        where += [_database_filter(session, plan.filter), m.c.search_text != OVERFLOW]
    where.append(tenant_column == tenant_id)
    if since is not None:
        where.append(m.c.created_at >= since)
    if until is not None:
        where.append(m.c.created_at < until)
    counts: dict[str, Counter[str | None]] = {name: Counter() for name in FACETS}
    # One statement, one pass of the index: the matches are listed once (a materialised
    # CTE), then grouped by their fields, by brand, and the mentions with a brand counted.
    matching = (
        select(m.c.id, m.c.source, m.c.sentiment, m.c.lang)
        .where(*where)
        .cte("matching")
        .prefix_with("MATERIALIZED")
    )
    linked = matching.join(
        MENTION_BRANDS,
        (MENTION_BRANDS.c.mention_id == matching.c.id) & (MENTION_BRANDS.c.tenant_id == tenant_id),
    )
    fields = select(
        literal("f"), matching.c.source, matching.c.sentiment, matching.c.lang, func.count()
    ).group_by(matching.c.source, matching.c.sentiment, matching.c.lang)
    by_brand = (
        select(literal("b"), BRANDS.c.slug, null(), null(), func.count())
        .select_from(linked.join(BRANDS, BRANDS.c.id == MENTION_BRANDS.c.brand_id))
        .group_by(BRANDS.c.slug)
    )
    with_brand = select(
        literal("w"), null(), null(), null(), func.count(func.distinct(matching.c.id))
    ).select_from(linked)
    total = 0
    about_one = 0
    for part, first, sentiment, lang, count in session.execute(
        union_all(fields, by_brand, with_brand)
    ):
        if part == "f":
            counts["source"][first] += count
            counts["sentiment"][sentiment] += count
            counts["lang"][lang] += count
            total += count
        elif part == "b":
            counts["brand"][first] += count
        else:
            about_one = int(count)
    if total > about_one:
        counts["brand"][None] += total - about_one
    if plan.filter is not None:
        total += _overflow_facets(session, tenant_id, plan, since, until, counts)
    return total, {name: _ranked(counter) for name, counter in counts.items()}


def _overflow_facets(
    session: Session,
    tenant_id: int,
    plan: SearchQuery,
    since: datetime | None,
    until: datetime | None,
    counts: dict[str, Counter[str | None]],
) -> int:
    """Over-long mentions that match, evaluated one by one and added to ``counts``."""
    overflow = SearchQuery(plan.text, plan.node, Key(OVERFLOW))
    stmt = _candidates(session, tenant_id, overflow, since, until, None, every=True)
    ids: list[int] = []
    for hit in _confirmed(session, overflow, stmt, [0], whole=True):
        ids.append(hit.id)
        counts["source"][hit.source] += 1
        counts["sentiment"][hit.sentiment] += 1
        counts["lang"][hit.lang] += 1
    slugs = _brands_of(session, tenant_id, ids)
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


_BRANDS_OF_PG = (
    select(MENTION_BRANDS.c.mention_id, BRANDS.c.slug)
    .join(BRANDS, BRANDS.c.id == MENTION_BRANDS.c.brand_id)
    .where(
        MENTION_BRANDS.c.tenant_id == bindparam("tenant_id"),
        MENTION_BRANDS.c.mention_id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
    )
)
"""PostgreSQL: every id in one array parameter (one statement, one bind, whatever the
count; 500-literal ``IN`` lists cost ~5 ms each to build and convert)."""


def _brands_of(session: Session, tenant_id: int, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    if session.get_bind().dialect.name == "postgresql":
        found = session.connection().execute(_BRANDS_OF_PG, {"tenant_id": tenant_id, "ids": ids})
        for mention_id, slug in found:
            out.setdefault(mention_id, []).append(slug)
        return out
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = (
            select(MentionBrand.mention_id, Brand.slug)
            .join(Brand, Brand.id == MentionBrand.brand_id)
            .where(MentionBrand.tenant_id == tenant_id, MentionBrand.mention_id.in_(chunk))
        )
        for mention_id, slug in session.execute(stmt):
            out.setdefault(mention_id, []).append(slug)
    return out


def _ranked(counter: Counter[str | None]) -> list[tuple[str | None, int]]:
    """Most frequent first, then by value; the missing value (None) last among equals."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))


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
