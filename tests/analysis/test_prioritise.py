"""The prioritise step on a real database: influence histograms per tenant, priority stored."""

from __future__ import annotations

from sqlalchemy import select

from clameur.analysis.influence import bin_of
from clameur.analysis.models import InfluenceBin
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.mentions import Author, Mention
from clameur.pipeline import Pipeline
from tests.conftest import Database, make_tenant
from tests.factories import record


def _bins(db: Database, tenant_id: int) -> dict[int, int]:
    with session_scope(db.factory) as s:
        rows = s.execute(
            select(InfluenceBin.bin, InfluenceBin.authors).where(
                InfluenceBin.tenant_id == tenant_id
            )
        )
        return {b: n for b, n in rows if n}


def test_histogram_follows_authors_and_percentile_is_stored(
    db: Database, clock: FrozenClock, pipeline: Pipeline
) -> None:
    acme = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    other = make_tenant(db, clock, "other", {"other": ["acme"]})
    small = [
        record(f"s{i}", "acme ok", author={"handle": f"fan{i}", "followers": 10 + i})
        for i in range(9)
    ]
    star = record("star", "acme ok", author={"handle": "star", "followers": 452_000})
    pipeline.ingest([*small, star], acme.id)
    bins = _bins(db, acme.id)
    assert sum(bins.values()) == 10
    assert _bins(db, other.id) == {}  # fixed tenant: nothing leaks to the other one
    with session_scope(db.factory) as s:
        by_id = {
            m.external_id: m for m in s.scalars(select(Mention).where(Mention.tenant_id == acme.id))
        }
        assert by_id["star"].influence == 95.0  # 9 below, itself counted half: 9.5 / 10
        assert by_id["s0"].influence is not None
        assert by_id["s0"].influence < 50
        assert by_id["star"].priority_level is not None
        assert by_id["star"].priority is not None

    # The star's profile changes bin (followers drop): the histogram moves, not grows.
    pipeline.ingest(
        [
            record(
                "star2",
                "acme",
                created_at="2026-11-17T09:00:00+01:00",
                author={"handle": "star", "followers": 3},
            )
        ],
        acme.id,
    )
    bins_after = _bins(db, acme.id)
    assert sum(bins_after.values()) == 10
    with session_scope(db.factory) as s:
        score = s.scalar(select(Author.influence_score).where(Author.handle == "star"))
    assert score is not None
    assert bins_after.get(bin_of(score), 0) >= 1
    assert bins_after != bins

    # An older mention (event time) does not move the profile back.
    pipeline.ingest(
        [
            record(
                "star0",
                "acme",
                created_at="2026-11-10T09:00:00+01:00",
                author={"handle": "star", "followers": 900_000},
            )
        ],
        acme.id,
    )
    assert _bins(db, acme.id) == bins_after


def test_routing_by_query_builds_each_tenants_histogram(
    db: Database, clock: FrozenClock, pipeline: Pipeline
) -> None:
    a = make_tenant(db, clock, "a", {"a": ["alpha"]})
    b = make_tenant(db, clock, "b", {"b": ["alpha OR beta"]})
    pipeline.ingest(
        [record("1", "alpha", author={"handle": "x"}), record("2", "beta", author={"handle": "y"})],
        None,
    )
    assert sum(_bins(db, a.id).values()) == 1
    assert sum(_bins(db, b.id).values()) == 2
