"""A session bound to a principal's tenant never reads another tenant's rows, even through
a query that forgot its tenant filter (``clameur.db.bind_tenant``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from clameur.clock import FrozenClock
from clameur.db import bind_tenant, session_scope
from clameur.db.repository import ALL_TENANTS
from clameur.mentions import Author, Mention
from clameur.pipeline import Pipeline
from clameur.tenancy import Brand, MentionBrand
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl


def test_a_bound_session_scopes_every_orm_read_to_its_tenant(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    a = make_tenant(db, clock, "alpha", {"a": ["alpha"]})
    b = make_tenant(db, clock, "beta", {"b": ["beta"]})
    lines = [record("1", "alpha one"), record("2", "beta two"), record("3", "alpha three")]
    pipeline.import_file(write_jsonl(tmp_path / "f.jsonl", lines))
    with session_scope(db.factory) as session:
        beta_mention = session.scalars(select(Mention).where(Mention.tenant_id == b.id)).one()
        beta_id = beta_mention.id
        assert session.scalar(select(func.count()).select_from(Mention)) == 3, "unbound: all"

    with session_scope(db.factory) as session:
        bind_tenant(session, a.id)
        # Queries that forgot the tenant: entities, columns, counts, joins, get().
        assert sorted(m.external_id for m in session.scalars(select(Mention))) == ["1", "3"]
        assert session.scalar(select(func.count(Mention.id))) == 2
        assert session.get(Mention, beta_id) is None
        joined = session.execute(
            select(Mention.external_id, Brand.slug)
            .join(MentionBrand, MentionBrand.mention_id == Mention.id)
            .join(Brand, Brand.id == MentionBrand.brand_id)
        ).all()
        assert sorted(joined) == [("1", "a"), ("3", "a")]
        assert {author.tenant_id for author in session.scalars(select(Author))} == {a.id}
        # An ORM update that forgot the tenant changes only the bound tenant's rows.
        session.execute(update(Mention).values(url="https://x.example/"))
        # A read that must span tenants says so.
        spanning = select(func.count(Mention.id)).execution_options(**{ALL_TENANTS: True})
        assert session.scalar(spanning) == 3
        with pytest.raises(RuntimeError, match="already bound"):
            bind_tenant(session, b.id)

    with session_scope(db.factory) as session:
        assert session.get(Mention, beta_id).url is None, "beta untouched by alpha's update"


def test_the_implicit_scope_never_steers_sqlites_plan(tmp_path: Path) -> None:
    """On SQLite the bound session's predicate is ``tenant_id + 0``: a read of a page's
    mentions by conversation keeps using the conversation index instead of walking the
    tenant's mentions through a tenant-leading index."""
    from sqlalchemy import event as sa_event

    from clameur.db import TenantRepository, create_engine_for, make_session_factory, upgrade

    engine = create_engine_for(f"sqlite:///{tmp_path / 'plan.db'}")
    upgrade(engine)
    emitted: list[tuple[str, object]] = []
    sa_event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _k, sql, params, *_: emitted.append((sql, params)),
    )
    with session_scope(make_session_factory(engine)) as session:
        bind_tenant(session, 1)
        page = (
            TenantRepository(session, 1, Mention)
            .select(Mention.external_id, steer=False)
            .where(Mention.conversation_id.in_([1, 2, 3]))
        )
        session.execute(page).all()
        sql, params = emitted[-1]
        assert sql.count("tenant_id + ") == 2, "explicit and implicit predicates, neither indexed"
        plan = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
    assert "ix_mentions_conversation_id" in " ".join(str(row) for row in plan)
    engine.dispose()
