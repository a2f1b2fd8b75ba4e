"""Facets counted by the database (queries whose index filter is exact, ANDed with tests of
``source:`` and ``rating:``, and no query at all) equal the counts over every match, as the
Python confirmation computed them; ``brand_set`` follows the brand links through edits."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.listening import SearchResult, compile_query, search
from clameur.listening.search_facets import countable
from clameur.listening.search_index import OVERFLOW
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.tenancy import Tenant
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl

WORDS = ["volta", "panne", "réseau", "facture", "lune", "compteur", "énergie", "#volta"]
SOURCES = ["twitter", "facebook", "review", "forum"]


@pytest.fixture
def corpus(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> Tenant:
    tenant = make_tenant(
        db, clock, "volta", {"volta": ["volta"], "lune": ["lune"], "facture": ["facture"]}
    )
    make_tenant(db, clock, "other", {"o": ["volta"]})
    lines = []
    for i in range(120):
        words = [WORDS[(i * k) % len(WORDS)] for k in (1, 3, 5)]
        lines.append(
            record(
                str(i),
                " ".join(words) + f" n{i % 7}",
                created_at=f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                source=SOURCES[i % len(SOURCES)],
                lang=["fr", "en", None][i % 3],
                **({"rating": 1 + i % 5} if i % 4 == 2 else {}),
            )
        )
    lines.append(record("long1", "volta panne et le reste"))
    lines.append(record("long2", "lune et le reste", source="forum"))
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", lines), tenant="volta")
    # over-long mentions: their index holds one marker token; they are confirmed in Python
    with session_scope(db.factory) as session:
        session.execute(
            update(Mention).where(Mention.external_id.like("long%")).values(search_text=OVERFLOW)
        )
    others = [record(f"o{i}", "volta panne ailleurs") for i in range(5)]
    pipeline.import_file(write_jsonl(tmp_path / "o.jsonl", others), tenant="other")
    return tenant


def _python_facets(found: SearchResult) -> dict[str, Counter[str | None]]:
    counts: dict[str, Counter[str | None]] = {
        "source": Counter(hit.source for hit in found.hits),
        "sentiment": Counter(hit.sentiment for hit in found.hits),
        "lang": Counter(hit.lang for hit in found.hits),
        "brand": Counter(),
    }
    for hit in found.hits:
        for slug in hit.brands or (None,):
            counts["brand"][slug] += 1
    return counts


EXACT = [None, "volta", "panne OR lune", "volta panne", "#volta", "ener*", "r?seau OR fact?re"]
COLUMNS = [
    "volta source:twitter",
    "source:review rating:1",
    "source:review -rating:1",
    "lune (source:twitter OR source:forum)",
    "rating:>=4 OR source:forum",
    "réseau rating:2..4",
    "source:review -rating:<3 -(source:twitter rating:5)",
]
"""Counted by the database too: exact text ANDed with column tests (a missing rating fails
every comparison, also under NOT)."""
CONFIRMED = ['"volta panne"', "volta -lune", "volta OR source:twitter", "lune author:client1"]


@pytest.mark.parametrize("query", EXACT + COLUMNS + CONFIRMED)
@pytest.mark.parametrize(
    "window",
    [(None, None), (datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC))],
)
def test_facets_equal_the_counts_over_every_match(
    db: Database, corpus: Tenant, query: str | None, window: tuple[datetime, datetime]
) -> None:
    since, until = window
    with session_scope(db.factory) as session:
        plan = compile_query(query, session)
        assert plan.exact is (query in EXACT)
        assert (countable(plan) is not None) is (query not in CONFIRMED)
        every = search(session, corpus.id, query, since=since, until=until, brands=True)
        paged = search(
            session, corpus.id, query, since=since, until=until, limit=5, facets=True, brands=True
        )
    assert every.hits, "the dataset has matches"
    assert paged.total == len(every.hits)
    assert paged.facets is not None
    expected = _python_facets(every)
    for name, counter in expected.items():
        assert dict(paged.facets[name]) == dict(counter), name
        ranked = [count for _value, count in paged.facets[name]]
        assert ranked == sorted(ranked, reverse=True)
    assert [hit.external_id for hit in paged.hits] == [hit.external_id for hit in every.hits[:5]]
    assert (paged.next_cursor is not None) is (len(every.hits) > 5)


def test_exact_facets_count_over_long_mentions(db: Database, corpus: Tenant) -> None:
    with session_scope(db.factory) as session:
        found = search(session, corpus.id, "lune", limit=1, facets=True)
        naive = search(session, corpus.id, "lune")
    assert "long2" in [hit.external_id for hit in naive.hits]
    assert found.total == len(naive.hits)
    assert found.facets is not None
    assert dict(found.facets["source"])["forum"] == sum(
        1 for hit in naive.hits if hit.source == "forum"
    )


def test_brand_set_follows_the_links_through_an_edit(
    db: Database, corpus: Tenant, pipeline: Pipeline, tmp_path: Path
) -> None:
    """An edit that changes what a mention is about rewrites both the links and the set."""
    with session_scope(db.factory) as session:
        before = search(session, corpus.id, "compteur", facets=True, brands=True)
    edited = record("edit1", "volta lune compteur", created_at="2026-11-30T10:00:00Z")
    pipeline.import_file(write_jsonl(tmp_path / "e1.jsonl", [edited]), tenant="volta")
    edited = record("edit1", "lune compteur", created_at="2026-11-30T10:00:00Z")
    pipeline.import_file(write_jsonl(tmp_path / "e2.jsonl", [edited]), tenant="volta")
    with session_scope(db.factory) as session:
        after = search(session, corpus.id, "compteur", facets=True, brands=True)
        every = search(session, corpus.id, "compteur", brands=True)
    hit = next(h for h in after.hits if h.external_id == "edit1")
    assert hit.brands == ("lune",)
    assert after.facets is not None
    assert before.facets is not None
    assert dict(after.facets["brand"]) == dict(_python_facets(every)["brand"])
    assert (
        dict(after.facets["brand"]).get("lune", 0)
        == dict(before.facets["brand"]).get("lune", 0) + 1
    )


def test_rows_without_a_facet_code_are_counted_by_their_columns(
    db: Database, corpus: Tenant
) -> None:
    """Rows written around the store step (no code) still count, by their four columns."""
    with session_scope(db.factory) as session:
        session.execute(
            update(Mention)
            .where(Mention.external_id.in_(["0", "8", "16", "24"]))
            .values(facet_code=None)
        )
    with session_scope(db.factory) as session:
        every = search(session, corpus.id, "volta", brands=True)
        paged = search(session, corpus.id, "volta", limit=5, facets=True, brands=True)
    uncoded = {"0", "8", "16", "24"} & {hit.external_id for hit in every.hits}
    assert len(uncoded) == 4, "the uncoded rows are among the matches"
    assert paged.total == len(every.hits)
    assert paged.facets is not None
    for name, counter in _python_facets(every).items():
        assert dict(paged.facets[name]) == dict(counter), name
