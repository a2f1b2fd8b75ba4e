"""Bulk writes (``clameur.db.bulk``): the same rows and ids on SQLite (executemany) and
PostgreSQL (COPY, ids from the sequence, unnest arrays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.db.bulk import (
    copy_rows,
    insert_missing_returning_ids,
    insert_returning_ids,
    insert_rows,
    keys_in,
)
from clameur.detection import campaign_store as store
from clameur.detection.campaign_models import CampaignBand, CampaignVocabulary
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import Brand, MentionBrand
from tests.conftest import Database, make_tenant

AUTHORS = cast(Table, Author.__table__)
MENTIONS = cast(Table, Mention.__table__)
AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _author(tenant_id: int, handle: str, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "source": "x",
        "handle": handle,
        "first_seen_at": AT,
        "last_seen_at": AT,
        **extra,
    }


def _mention(tenant_id: int, author_id: int, external_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "source": "x",
        "external_id": external_id,
        "author_id": author_id,
        "text": f"text of {external_id}",
        "created_at": AT,
        "ingested_at": AT,
        "content_hash": external_id,
        **extra,
    }


def test_insert_returning_ids_in_row_order_with_values_and_defaults(
    db: Database, clock: FrozenClock
) -> None:
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    with session_scope(db.factory) as session:
        [author_id] = insert_returning_ids(
            session, AUTHORS, [_author(tenant.id, "alice")], ("tenant_id", "source", "handle")
        )
        rows = [
            _mention(tenant.id, author_id, "b", metrics={"likes": 3}, raw={"k": [1, None]}),
            _mention(tenant.id, author_id, "a", metrics={}, raw={}),
            _mention(tenant.id, author_id, "c", metrics={}, raw={"t": "é\t\\ \n"}),
        ]
        rows[1]["created_at"] = AT + timedelta(microseconds=7)
        rows[2]["text"] = "tab\tback\\slash\nline"
        ids = insert_returning_ids(session, MENTIONS, rows, ("tenant_id", "source", "external_id"))
    assert len(set(ids)) == 3
    with db.session() as session:
        stored = {m.id: m for m in session.scalars(select(Mention))}
        author = session.get(Author, author_id)
    assert [stored[i].external_id for i in ids] == ["b", "a", "c"]
    b, a, c = (stored[i] for i in ids)
    assert b.metrics == {"likes": 3}
    assert b.raw == {"k": [1, None]}
    assert a.metrics == {}
    assert (a.toxicity_labels, a.edit_history, a.priority_reasons) == ([], [], [])  # defaults
    assert a.created_at == AT + timedelta(microseconds=7)
    assert a.created_at.tzinfo is not None
    assert c.raw == {"t": "é\t\\ \n"}
    assert c.text == "tab\tback\\slash\nline"
    assert a.search_text == ""  # the column default
    assert author is not None
    assert author.verified is False  # scalar default


def test_a_key_stored_twice_is_an_integrity_error(db: Database, clock: FrozenClock) -> None:
    """The pipeline retries a batch on a unique key stored meanwhile: COPY must report it as
    an INSERT does."""
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    key = ("tenant_id", "source", "handle")
    with session_scope(db.factory) as session:
        insert_returning_ids(session, AUTHORS, [_author(tenant.id, "alice")], key)
    with db.session() as session, pytest.raises(IntegrityError) as raised:
        insert_returning_ids(session, AUTHORS, [_author(tenant.id, "alice")], key)
    code = getattr(raised.value.orig, "sqlstate", None)
    assert code == "23505" or "unique constraint failed" in str(raised.value.orig).lower()


def test_insert_missing_skips_stored_keys(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    key = ("tenant_id", "source", "handle")
    with session_scope(db.factory) as session:
        [bob] = insert_returning_ids(session, AUTHORS, [_author(tenant.id, "bob")], key)
    rows = [
        _author(tenant.id, "alice", followers=None, name="Alice", influence_score=0.25),
        _author(tenant.id, "bob", followers=5, name=None, influence_score=None),
        _author(tenant.id, "carol", followers=7, name="C", influence_score=None),
    ]
    with session_scope(db.factory) as session:
        ids = insert_missing_returning_ids(session, AUTHORS, rows, key)
    assert ids[1] is None
    assert ids[0] is not None
    assert ids[2] is not None
    assert bob not in ids
    with db.session() as session:
        alice = session.get(Author, ids[0])
        carol = session.get(Author, ids[2])
        stored_bob = session.get(Author, bob)
    assert alice is not None
    assert carol is not None
    assert stored_bob is not None
    assert (alice.name, alice.followers, alice.influence_score) == ("Alice", None, 0.25)
    assert (carol.followers, carol.verified) == (7, False)
    assert stored_bob.followers is None  # untouched


def test_copy_rows_and_insert_rows(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    with session_scope(db.factory) as session:
        [author_id] = insert_returning_ids(
            session, AUTHORS, [_author(tenant.id, "alice")], ("tenant_id", "source", "handle")
        )
        [mention_id] = insert_returning_ids(
            session,
            MENTIONS,
            [_mention(tenant.id, author_id, "m")],
            ("tenant_id", "source", "external_id"),
        )
        brand_id = session.scalars(select(Brand.id)).one()
        copy_rows(
            session,
            cast(Table, MentionBrand.__table__),
            ("tenant_id", "mention_id", "brand_id"),
            [(tenant.id, mention_id, brand_id)],
        )
        big = 2**62 + 3
        copy_rows(
            session,
            store.BANDS,
            store.BAND_COLUMNS,
            [(tenant.id, big, -big, 1), (tenant.id, 1, 2, 3)],
        )
        insert_rows(
            session,
            cast(Table, CampaignVocabulary.__table__),
            [{"tenant_id": tenant.id, "shingle": -1, "day": 10, "docs": 4}],
        )
        store.add_vocabulary(session, tenant.id, [(-1, 10, 2), (5, 10, 1)])
        copy_rows(session, store.BANDS, store.BAND_COLUMNS, [])
    with db.session() as session:
        links = session.execute(select(MentionBrand.mention_id, MentionBrand.brand_id)).all()
        bands = session.execute(
            select(CampaignBand.band_hash, CampaignBand.signature_key, CampaignBand.at).order_by(
                CampaignBand.at
            )
        ).all()
        vocabulary = session.execute(
            select(CampaignVocabulary.shingle, CampaignVocabulary.docs).order_by(
                CampaignVocabulary.shingle
            )
        ).all()
    assert [tuple(r) for r in links] == [(mention_id, brand_id)]
    assert [tuple(r) for r in bands] == [(big, -big, 1), (1, 2, 3)]
    assert [tuple(r) for r in vocabulary] == [(-1, 6), (5, 1)]  # summed on conflict


def test_keys_in_finds_exactly_the_given_keys(db: Database, clock: FrozenClock) -> None:
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    key = ("tenant_id", "source", "handle")
    handles = [f"h{i}" for i in range(1_200)]  # more than one SQLite chunk
    with session_scope(db.factory) as session:
        insert_returning_ids(session, AUTHORS, [_author(tenant.id, h) for h in handles], key)
    wanted = [(tenant.id, "x", h) for h in handles[::3]] + [(tenant.id, "x", "nobody")]
    wanted += [(tenant.id, "y", "h0")]  # same handle, another source
    columns = (Author.tenant_id, Author.source, Author.handle)
    with db.session() as session:
        found = [
            row
            for among in keys_in(session, columns, wanted)
            for row in session.execute(select(*columns).where(among))
        ]
        assert keys_in(session, columns, []) == []
    assert sorted(tuple(r) for r in found) == sorted(wanted[:-2])
