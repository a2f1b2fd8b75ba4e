"""The cost model: each limit of docs/queries.md "Limits" accepts a query at the limit and
refuses one past it, naming the limit, the value and the column of what passed it — in the
parser, in archive search and when a brand query is saved."""

from __future__ import annotations

from pathlib import Path

import pytest

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.listening import search
from clameur.listening.query import QuerySyntaxError, parse
from clameur.listening.query.limits import (
    COST_NEAR_PAIR,
    COST_TERM,
    MAX_COST,
    MAX_LEADING_JOKERS,
    MAX_LENGTH,
    MAX_NEAR,
    MAX_NEAR_SIDE,
    MAX_TERMS,
    MAX_WILDCARDS,
)
from clameur.pipeline import Pipeline
from clameur.tenancy.service import QueryError, check_queries
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl


def words(count: int, stem: str = "w") -> str:
    return " ".join(f"{stem}{i}" for i in range(count))


def column_of(query: str, needle: str) -> int:
    """1-based column of the last occurrence of ``needle``."""
    return query.rindex(needle) + 1


def at_limit_and_over() -> list[tuple[str, str, str, int, str]]:
    """(name, query at the limit, query over it, column of the error, text of the error)."""
    cases: list[tuple[str, str, str, int, str]] = []
    cases.append(
        (
            "length",
            "a" * MAX_LENGTH,
            "a" * (MAX_LENGTH + 1),
            MAX_LENGTH + 1,
            f"{MAX_LENGTH + 1} characters, at most {MAX_LENGTH}",
        )
    )
    over = words(MAX_TERMS + 1)
    cases.append(
        (
            "terms",
            words(MAX_TERMS),
            over,
            column_of(over, f"w{MAX_TERMS}"),
            f"number {MAX_TERMS + 1}, at most {MAX_TERMS}",
        )
    )
    over = " ".join(f"abc{i}*" for i in range(MAX_WILDCARDS + 1))
    cases.append(
        (
            "wildcards",
            " ".join(f"abc{i}*" for i in range(MAX_WILDCARDS)),
            over,
            column_of(over, f"abc{MAX_WILDCARDS}*"),
            f"number {MAX_WILDCARDS + 1}, at most {MAX_WILDCARDS}",
        )
    )
    over = " ".join(f"?olt{i}" for i in range(MAX_LEADING_JOKERS + 1))
    cases.append(
        (
            "leading ?",
            " ".join(f"?olt{i}" for i in range(MAX_LEADING_JOKERS)),
            over,
            column_of(over, f"?olt{MAX_LEADING_JOKERS}"),
            f"at most {MAX_LEADING_JOKERS}",
        )
    )
    over = " ".join(f"a{i} NEAR/2 b{i}" for i in range(MAX_NEAR + 1))
    cases.append(
        (
            "NEAR operators",
            " ".join(f"a{i} NEAR/2 b{i}" for i in range(MAX_NEAR)),
            over,
            column_of(over, "NEAR/2"),
            f"number {MAX_NEAR + 1}, at most {MAX_NEAR}",
        )
    )
    side = " OR ".join(f"a{i}" for i in range(MAX_NEAR_SIDE))
    over = f"({side} OR a{MAX_NEAR_SIDE}) NEAR/3 volta"
    cases.append(
        (
            "NEAR side",
            f"({side}) NEAR/3 volta",
            over,
            column_of(over, "NEAR/3"),
            f"{MAX_NEAR_SIDE + 1} alternatives, at most {MAX_NEAR_SIDE}",
        )
    )
    # 20 x 20 alternatives: 40 terms + 800 for the pairs; then single words up to MAX_COST.
    left = " OR ".join(f"l{i}" for i in range(20))
    right = " OR ".join(f"r{i}" for i in range(20))
    near = f"({left}) NEAR/5 ({right})"
    spent = 40 * COST_TERM + COST_NEAR_PAIR * 400
    fill = (MAX_COST - spent) // COST_TERM
    over = f"{near} {words(fill + 1, 'x')}"
    cases.append(
        (
            "cost",
            f"{near} {words(fill, 'x')}",
            over,
            column_of(over, f"x{fill}"),
            f"estimated cost {MAX_COST + 1} is over {MAX_COST}",
        )
    )
    return cases


CASES = at_limit_and_over()
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("name", "at_limit", "over", "column", "message"), CASES, ids=IDS)
def test_each_limit_accepts_the_limit_and_refuses_past_it_with_the_column(
    name: str, at_limit: str, over: str, column: int, message: str
) -> None:
    parse(at_limit)
    with pytest.raises(QuerySyntaxError) as info:
        parse(over)
    error = info.value
    assert error.column == column, (name, error.message)
    assert message in error.message
    assert f"column {column}" in error.message
    # Saved brand queries read by the matcher are not refused afterwards.
    parse(over, limits=False)


@pytest.mark.parametrize(("name", "at_limit", "over", "column", "message"), CASES, ids=IDS)
def test_a_brand_query_past_a_limit_is_refused_when_saved(
    name: str, at_limit: str, over: str, column: int, message: str
) -> None:
    assert check_queries([at_limit]) == [at_limit]
    with pytest.raises(QueryError) as info:
        check_queries(["volta", over])
    assert info.value.index == 1
    assert info.value.column == column
    assert message in str(info.value)


def test_archive_search_runs_queries_at_the_limits_and_refuses_past_them(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    tenant = make_tenant(db, clock, "volta", {"volta": ["volta"]})
    texts = {
        "length": "a" * MAX_LENGTH,
        "terms": words(MAX_TERMS),
        "wildcards": " ".join(f"abc{i}xyz" for i in range(MAX_WILDCARDS)),
        "leading ?": " ".join(f"volt{i}" for i in range(MAX_LEADING_JOKERS)),
        "NEAR operators": " ".join(f"a{i} b{i}" for i in range(MAX_NEAR)),
        "NEAR side": "a7 et volta",
        "cost": "l3 puis r19 " + words(MAX_COST, "x"),
    }
    lines = [record(name, text) for name, text in texts.items()]
    lines.append(record("none", "rien du tout"))
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", lines), tenant="volta")
    with session_scope(db.factory) as session:
        for name, at_limit, over, column, _message in CASES:
            found = search(session, tenant.id, at_limit)
            assert [hit.external_id for hit in found.hits] == [name]
            with pytest.raises(QuerySyntaxError) as info:
                search(session, tenant.id, over)
            assert info.value.column == column
