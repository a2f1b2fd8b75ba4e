"""A search past its deadline stops with :class:`SearchTimeout` — in the database (PostgreSQL
``statement_timeout``, SQLite progress handler) or in the confirmation loop — and leaves the
session usable, its timeout as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.listening import SearchTimeout, deadline, search
from clameur.pipeline import Pipeline
from clameur.tenancy import Tenant
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl

SLOW = {
    # a statement that runs for seconds unless stopped
    "postgresql": "SELECT pg_sleep(5)",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000)"
    " SELECT count(*) FROM n",
}


@pytest.fixture
def tenant(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> Tenant:
    tenant = make_tenant(db, clock, "volta", {"volta": ["volta"]})
    lines = [record(str(i), f"volta panne numéro {i}") for i in range(600)]
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", lines), tenant="volta")
    return tenant


def _timeout_setting(session: Session, dialect: str) -> str | None:
    if dialect != "postgresql":
        return None
    return str(session.execute(text("SHOW statement_timeout")).scalar_one())


def test_a_slow_statement_is_stopped_by_the_database_and_the_session_stays_usable(
    db: Database, tenant: Tenant
) -> None:
    with session_scope(db.factory) as session:
        dialect = session.get_bind().dialect.name
        before = _timeout_setting(session, dialect)
        with pytest.raises(SearchTimeout) as info, deadline(session, 0.05):
            session.execute(text(SLOW[dialect])).all()
        assert "took longer than 0.05 s" in str(info.value)
        assert "narrow it" in str(info.value)
        # the same session (and transaction) goes on, with its old timeout
        assert session.execute(text("SELECT 1")).scalar_one() == 1
        assert _timeout_setting(session, dialect) == before
        assert len(search(session, tenant.id, "volta", limit=5).hits) == 5
        # a statement under the deadline is untouched, and the timeout is reset after it
        with deadline(session, 5.0):
            assert session.execute(text("SELECT 2")).scalar_one() == 2
        assert _timeout_setting(session, dialect) == before


def test_a_search_past_its_deadline_raises_and_one_within_it_answers(
    db: Database, tenant: Tenant
) -> None:
    with session_scope(db.factory) as session:
        with pytest.raises(SearchTimeout):
            search(session, tenant.id, '"volta panne"', timeout=1e-9)
        with pytest.raises(SearchTimeout):
            search(session, tenant.id, "volta", facets=True, timeout=1e-9)
        found = search(session, tenant.id, '"volta panne"', timeout=30.0)
        assert found.total == 600
        assert search(session, tenant.id, "volta", limit=3, timeout=None).next_cursor


def test_facets_past_their_deadline_are_left_out_and_the_page_is_kept(
    db: Database, tenant: Tenant
) -> None:
    with session_scope(db.factory) as session:
        for query in ('"volta panne"', "volta"):  # confirmed in Python; counted in SQL
            full = search(session, tenant.id, query, limit=10, facets=True)
            quick = search(session, tenant.id, query, limit=10, facets=True, facets_timeout=1e-9)
            assert quick.facets_stopped
            assert quick.facets is None
            assert quick.total is None
            assert [hit.id for hit in quick.hits] == [hit.id for hit in full.hits]
            assert quick.next_cursor == full.next_cursor
            counted = search(session, tenant.id, query, limit=10, facets=True, facets_timeout=30.0)
            assert not counted.facets_stopped
            assert counted.total == full.total == 600
            assert counted.facets == full.facets


def test_broad_searches_take_turns_and_selective_ones_never_wait(
    db: Database, tenant: Tenant
) -> None:
    """While a broad search holds the slot, another broad one waits its turn up to its
    deadline; a selective one (few index candidates) goes ahead at once."""
    from clameur.listening.search import HEAVY_SEARCHES

    budget = {"limit": 10, "facets": True, "facets_timeout": 2.0}
    assert HEAVY_SEARCHES.acquire(timeout=5)
    try:
        with session_scope(db.factory) as session:
            quick = search(session, tenant.id, "numéro", timeout=5.0, **budget)
            assert quick.total == 600
            for broad in ("source:twitter", "v?lta"):  # nothing to look up; a ? to expand
                with pytest.raises(SearchTimeout):
                    search(session, tenant.id, broad, timeout=0.2, **budget)
    finally:
        HEAVY_SEARCHES.release()
    with session_scope(db.factory) as session:
        found = search(session, tenant.id, "source:twitter", timeout=5.0, **budget)
    assert found.total == 600, "its turn come, it runs"
