"""Archive search, counted: the size and the facets of a whole match set, by the database.

A query is *countable* when the database alone decides its matches: its text part is
exactly an AND/OR of index keys (:attr:`SearchQuery.exact`), ANDed with tests of columns the
database holds as the query language reads them (``source:``, ``rating:``, under NOT, AND,
OR). Its facets are then one grouped statement over the matching rows — no row reaches
Python. Everything a facet needs sits on the mention's row: ``source``, ``sentiment``,
``lang`` and ``brand_set`` (the mention's brand ids, kept by the store step beside
``mention_brands``), so the statement joins nothing; it groups by ``facet_code``, one
integer standing for the four values, which sorts much faster than four text columns. On
SQLite it reads only the narrow ``ix_mentions_facets`` index (tenant, id and those columns),
one seek per match the text index lists; on PostgreSQL one bitmap heap scan.

Over-long mentions (whose index holds only :data:`OVERFLOW`) are left out here; the caller
confirms and adds them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    column,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.orm import Session

from clameur.listening.query import And, Field, Node, Not, Or, Rating
from clameur.listening.search_index import (
    FTS_TABLE,
    PG_VECTOR,
    Filter,
    fts5_expression,
    sql_exact,
    text_filter,
    tsquery_expression,
)
from clameur.listening.search_query import SearchQuery
from clameur.mentions.models import Author
from clameur.mentions.models import Mention as MentionRow
from clameur.tenancy.models import Brand, MentionBrand

MENTIONS = cast(Table, MentionRow.__table__)
AUTHORS = cast(Table, Author.__table__)
MENTION_BRANDS = cast(Table, MentionBrand.__table__)
BRANDS = cast(Table, Brand.__table__)

FACETS: Final = ("source", "sentiment", "lang", "brand")
FACETS_INDEX: Final = "ix_mentions_facets"
"""SQLite: (tenant_id, id, created_at, source, sentiment, lang, rating, brand_set,
facet_code), made by migration 0012: the facets of a match set are read from it alone."""
PG_WORK_MEM: Final = "64MB"
"""PostgreSQL: memory for the facets statement's bitmap. At the default 4 MB the bitmap of
a broad word over a large archive turns lossy, and every row of a lossy page is tested again
(94,000 extra rows for 145,000 matches over 1M mentions)."""

Facets = dict[str, list[tuple[str | None, int]]]


@dataclass(frozen=True, slots=True)
class Countable:
    """How the database decides a query's matches: the text filter, and column tests."""

    filter: Filter | None
    conditions: tuple[ColumnElement[bool], ...]


def countable(plan: SearchQuery) -> Countable | None:
    """The database's own form of ``plan``, or None when only Python can decide it."""
    if plan.node is None:
        return Countable(None, ())
    if plan.exact:
        return Countable(plan.filter, ())
    condition = column_test(plan.node)
    if condition is not None:
        return Countable(None, (condition,))
    if not isinstance(plan.node, And):
        return None
    texts: list[Node] = []
    conditions: list[ColumnElement[bool]] = []
    for child in plan.node.children:
        test = column_test(child)
        if test is not None:
            conditions.append(test)
        elif sql_exact(child):
            texts.append(child)
        else:
            return None
    whole = text_filter(plan.node)
    if not texts or whole is None or whole != plan.filter:
        return None  # the text part was cut to a superset (too deep) or needs expansions
    return Countable(plan.filter, tuple(conditions))


def column_test(node: Node) -> ColumnElement[bool] | None:
    """``node`` as a test of the mention's columns, with the query language's semantics (a
    missing rating fails every comparison, also under NOT); None if it tests anything else."""
    m = MENTIONS
    match node:
        case Field("source", value):
            wanted = value.strip().casefold()  # stored sources are the contract's, lower case
            return m.c.source == wanted if wanted else false()
        case Rating(op, value, upper):
            rating = m.c.rating
            tests: dict[str, ColumnElement[bool]] = {
                "=": rating == value,
                "<": rating < value,
                "<=": rating <= value,
                ">": rating > value,
                ">=": rating >= value,
            }
            if op == "..":
                return rating.between(value, upper) if upper is not None else false()
            return tests[op]
        case Not(child):
            inner = column_test(child)
            if inner is None:
                return None
            return not_(func.coalesce(inner, false()))
        case And(children) | Or(children):
            parts = [column_test(child) for child in children]
            if any(part is None for part in parts):
                return None
            joined = cast(list[ColumnElement[bool]], parts)
            return and_(*joined) if isinstance(node, And) else or_(*joined)
    return None


def database_filter(session: Session, flt: Filter, *, overflow: bool = True) -> Any:
    """The text filter as the database runs it; ``overflow``: over-long mentions too."""
    if session.get_bind().dialect.name == "postgresql":
        expression = tsquery_expression(flt, overflow=overflow)
        query = bindparam("search_tsquery", expression, type_=TSQUERY)
        vector: Any = literal_column(PG_VECTOR.replace("search_text", "mentions.search_text"))
        return vector.op("@@")(query)
    matching = sql_text(
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :search_fts"  # noqa: S608
    ).bindparams(search_fts=fts5_expression(flt, overflow=overflow))
    return MENTIONS.c.id.in_(matching.columns(column("rowid", Integer)))


def sql_facets(
    session: Session,
    tenant_id: int,
    how: Countable,
    since: datetime | None,
    until: datetime | None,
) -> tuple[int, dict[str, Counter[str | None]]]:
    """The number of matches (over-long mentions aside) and their counts per facet value:
    one statement, grouped by the four facet columns."""
    m = MENTIONS
    sqlite = session.get_bind().dialect.name == "sqlite"
    where: list[ColumnElement[bool]] = [m.c.tenant_id == tenant_id, *how.conditions]
    if how.filter is not None:
        where.append(database_filter(session, how.filter, overflow=False))
    if since is not None:
        where.append(m.c.created_at >= since)
    if until is not None:
        where.append(m.c.created_at < until)
    values = (m.c.source, m.c.sentiment, m.c.lang, m.c.brand_set)
    # Grouped by the one integer that stands for the four values: SQLite returns each
    # group's values as they are (its "bare columns", equal within a group), PostgreSQL
    # their min(). Rows stored without a code (written around the store step) form the
    # NULL group, counted again by the four columns.
    shown = values if sqlite else tuple(func.min(v) for v in values)
    stmt = select(m.c.facet_code, *shown, func.count()).where(*where).group_by(m.c.facet_code)
    if sqlite:
        stmt = stmt.with_hint(m, f"INDEXED BY {FACETS_INDEX}", "sqlite")
    restore = None
    if not sqlite:
        restore = session.execute(
            sql_text("SELECT current_setting('work_mem'), set_config('work_mem', :v, true)"),
            {"v": PG_WORK_MEM},
        ).scalar_one()
    grouped = session.execute(stmt).all()
    rows = [tuple(row[1:]) for row in grouped if row[0] is not None]
    if len(rows) < len(grouped):
        uncoded = select(*values, func.count()).where(*where, m.c.facet_code.is_(None))
        rows += [tuple(row) for row in session.execute(uncoded.group_by(*values))]
    if restore is not None:
        session.execute(sql_text("SELECT set_config('work_mem', :v, true)"), {"v": restore})
    slugs = brand_slugs(session, tenant_id)
    counts: dict[str, Counter[str | None]] = {name: Counter() for name in FACETS}
    total = 0
    for source, sentiment, lang, brand_set, count in rows:
        counts["source"][source] += count
        counts["sentiment"][sentiment] += count
        counts["lang"][lang] += count
        about: list[str | None] = [slugs[b] for b in parse_brand_set(brand_set) if b in slugs]
        for slug in about or [None]:
            counts["brand"][slug] += count
        total += count
    return total, counts


def facet_code(
    source: str | None, sentiment: str | None, lang: str | None, brands: str | None
) -> int:
    """``mentions.facet_code``: the four facet values as one signed 64-bit integer (BLAKE2b).
    Stored codes depend on it: never change it without recomputing them (migration 0012)."""
    parts = ("\x00" if value is None else value for value in (source, sentiment, lang, brands))
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def brand_set(brand_ids: Sequence[int]) -> str | None:
    """``mentions.brand_set``: the brand ids, ascending, comma-separated; None for none."""
    return ",".join(str(b) for b in sorted(set(brand_ids))) or None


def parse_brand_set(value: str | None) -> list[int]:
    return [int(part) for part in value.split(",")] if value else []


def brand_slugs(session: Session, tenant_id: int) -> dict[int, str]:
    stmt = select(BRANDS.c.id, BRANDS.c.slug).where(BRANDS.c.tenant_id == tenant_id)
    return {brand_id: slug for brand_id, slug in session.execute(stmt)}


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


def brands_of(session: Session, tenant_id: int, ids: list[int]) -> dict[int, list[str]]:
    """The brand slugs of each of these mentions (of the tenant)."""
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
        # "+ 0": SQLite (no ANALYZE) would otherwise walk the (tenant, brand) index over the
        # tenant's every link instead of seeking each mention (320 ms for 50 ids at 1M).
        stmt = (
            select(MENTION_BRANDS.c.mention_id, BRANDS.c.slug)
            .join(BRANDS, BRANDS.c.id == MENTION_BRANDS.c.brand_id)
            .where(
                MENTION_BRANDS.c.tenant_id + 0 == tenant_id,
                MENTION_BRANDS.c.mention_id.in_(chunk),
            )
        )
        for mention_id, slug in session.execute(stmt):
            out.setdefault(mention_id, []).append(slug)
    return out


def ranked(counter: Counter[str | None]) -> list[tuple[str | None, int]]:
    """Most frequent first, then by value; the missing value (None) last among equals."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
