"""Bounded numbers and nesting: huge inputs are a QuerySyntaxError, never a crash or an
FTS5 overflow; a query at the limits runs on the real index (SQLite FTS5 and PostgreSQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.listening import compile_query, search, text_filter
from clameur.listening.query import QuerySyntaxError, parse
from clameur.listening.query.ast import And, Near, Phrase, Rating, Term
from clameur.listening.query.lexer import MAX_DISTANCE
from clameur.listening.query.limits import MAX_LENGTH, MAX_NEAR, MAX_NEAR_SIDE, MAX_TERMS
from clameur.listening.query.parser import MAX_GROUPS, MAX_RATING
from clameur.listening.search_index import (
    MAX_FILTER_DEPTH,
    AllOf,
    AnyOf,
    Filter,
    Key,
    bounded,
    filter_depth,
    filter_holds,
    fts5_expression,
)
from clameur.pipeline import Pipeline
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl

HUGE = "9" * 5000


def _error(query: str, *, limits: bool = True) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as info:
        parse(query, limits=limits)
    return info.value


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        (f"volta NEAR/{HUGE} panne", 7, f"distance must be at most {MAX_DISTANCE}"),
        (f"volta NEAR/{HUGE}f panne", 7, f"distance must be at most {MAX_DISTANCE}"),
        (f"volta NEAR/{MAX_DISTANCE + 1} panne", 7, f"at most {MAX_DISTANCE}"),
        (f'"volta panne"~{HUGE}', 14, f"the window must be at most {MAX_DISTANCE} words"),
        (f'x "volta panne"~{"0" * 5000}{MAX_DISTANCE + 1}', 16, f"at most {MAX_DISTANCE}"),
        (f"volta rating:{HUGE}", 14, f"between 0 and {MAX_RATING}"),
        (f"volta rating:<{HUGE}", 14, f"between 0 and {MAX_RATING}"),
        (f"volta rating:>={HUGE}", 14, f"between 0 and {MAX_RATING}"),
        (f"volta rating:1..{HUGE}", 14, f"between 0 and {MAX_RATING}"),
        (f"volta rating:{HUGE}..1", 14, f"between 0 and {MAX_RATING}"),
        (f"volta rating:{MAX_RATING + 1}", 14, f"between 0 and {MAX_RATING}"),
        (f"volta rating:({HUGE})", 15, f"between 0 and {MAX_RATING}"),
    ],
)
def test_huge_numbers_are_a_syntax_error_naming_the_limit(
    query: str, column: int, message: str
) -> None:
    # Without the length limit (saved brand queries are read so): the lexer bounds them.
    error = _error(query, limits=False)
    assert error.column == column
    assert message in error.message
    assert f"column {column}" in error.message
    assert len(error.message) < 200, "the huge number is not echoed back"
    # With it (every new query), an over-long one is refused by its length first.
    error = _error(query)
    if len(query) > MAX_LENGTH:
        assert error.column == MAX_LENGTH + 1
        assert f"at most {MAX_LENGTH}" in error.message
    else:
        assert error.column == column


def test_numbers_at_the_limits_and_leading_zeros_are_accepted() -> None:
    zeros = "0" * 3900
    assert parse(f"a NEAR/{MAX_DISTANCE} b") == parse(f"a NEAR/{zeros}{MAX_DISTANCE} b")
    near = parse(f"a NEAR/{MAX_DISTANCE}f b")
    assert near == Near(Term("a"), Term("b"), MAX_DISTANCE, ordered=True)
    assert parse(f'"a b"~{zeros}7') == Phrase("a b", raw=False, window=7)
    assert parse(f"a rating:{zeros}5") == And((Term("a"), Rating("=", 5)))
    assert parse(f"a rating:0..{MAX_RATING}") == And((Term("a"), Rating("..", 0, MAX_RATING)))


def alternating(depth: int, leaf: str = '"volta panne"') -> str:
    """``depth`` nested groups, OR and AND alternating, with phrase and wildcard leaves."""
    query = leaf
    for level in range(depth):
        op = " OR " if level % 2 else " "
        query = f"w{level}{op}({query})" if level % 3 else f"volt*{op}({query})"
    return query


def test_nesting_is_bounded_at_the_position_where_the_limit_is_passed() -> None:
    parse(alternating(MAX_GROUPS))
    query = "(" * MAX_GROUPS + "a" + ")" * MAX_GROUPS
    parse(query)
    deeper = "a (" + query + ")"
    error = _error(deeper)
    assert error.column == 3 + MAX_GROUPS
    assert f"more than {MAX_GROUPS} levels of parentheses" in error.message
    assert f"column {3 + MAX_GROUPS}" in error.message
    error = _error(alternating(MAX_GROUPS + 1))
    assert "nested too deeply" in error.message
    # field groups count too
    error = _error("a " + "(" * MAX_GROUPS + "source:(twitter)" + ")" * MAX_GROUPS)
    assert error.column == 3 + MAX_GROUPS + len("source:")


def test_nesting_at_the_limit_fits_sqlite_fts5() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    connection.execute("INSERT INTO t VALUES ('volta panne')")
    near = '(a OR "b c" OR volt*) NEAR/3 (e OR "f g")'
    for query in (alternating(MAX_GROUPS), alternating(MAX_GROUPS - 1, near)):
        flt = text_filter(parse(query))
        assert flt is not None
        expression = fts5_expression(flt)
        assert expression.count("(") > MAX_GROUPS
        connection.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchall()


def test_a_query_at_the_nesting_limit_searches_the_archive(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    tenant = make_tenant(db, clock, "volta", {"volta": ["volta"]})
    lines = [record("1", "volta panne w1"), record("2", "rien du tout")]
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", lines), tenant="volta")
    with session_scope(db.factory) as session:
        found = search(session, tenant.id, alternating(MAX_GROUPS))
        assert [hit.external_id for hit in found.hits] == ["1"]
        with pytest.raises(QuerySyntaxError, match="nested too deeply"):
            search(session, tenant.id, alternating(MAX_GROUPS + 1))


def _deep_filter(depth: int) -> Filter:
    flt: Filter = Key("volta")
    for level in range(depth):
        if level % 2:
            flt = AnyOf((Key(f"w{level}"), flt))
        else:
            flt = AllOf((Key(f"a{level}", prefix=level % 3 == 0), flt))
    return flt


def test_any_filter_is_cut_to_what_sqlite_fts5_can_parse_and_stays_a_superset() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    deep = _deep_filter(60)
    with pytest.raises(sqlite3.OperationalError):
        connection.execute("SELECT count(*) FROM t WHERE t MATCH ?", (fts5_expression(deep),))
    cut = bounded(deep)
    assert cut is not None
    assert filter_depth(cut) <= MAX_FILTER_DEPTH < filter_depth(deep)
    connection.execute("SELECT count(*) FROM t WHERE t MATCH ?", (fts5_expression(cut),))
    # every token set the deep filter accepts, the cut one accepts too
    universe = sorted({"volta", *(f"w{i}" for i in range(60)), *(f"a{i}x" for i in range(60))})
    for start in range(0, len(universe), 3):
        tokens = frozenset(universe[start : start + 40])
        if filter_holds(deep, tokens):
            assert filter_holds(cut, tokens)
    assert filter_holds(deep, frozenset(universe))
    for depth in range(4):
        small = bounded(deep, depth)
        assert small is None or filter_depth(small) <= depth


def test_the_widest_and_deepest_accepted_queries_run_on_sqlite_fts5() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    connection.execute("INSERT INTO t VALUES ('volta panne')")
    side = " OR ".join(f"s{i}" for i in range(MAX_NEAR_SIDE))
    widest = " OR ".join(f"w{i}" for i in range(MAX_TERMS))
    nears = " ".join(f"(x{i} OR y{i}) NEAR/3 z{i}" for i in range(MAX_NEAR))
    queries = [
        widest,
        f"({side}) NEAR/3 volta",
        nears,
        alternating(MAX_GROUPS - 1, f"({side}) NEAR/3 volta"),
        " OR ".join(f"({' '.join(f'v{i}x{j}' for j in range(15))})" for i in range(17)),
    ]
    for query in queries:
        flt = compile_query(query).filter
        assert flt is not None
        connection.execute("SELECT count(*) FROM t WHERE t MATCH ?", (fts5_expression(flt),))
