"""The match step with the query language, on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import InvalidInputError
from clameur.listening.matcher import BrandCatalog, BrandEntry
from clameur.listening.query import Document, evaluate, parse, prepare
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.tenancy import Brand, MentionBrand, add_brand, get_tenant
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl


def test_brand_queries_route_mentions(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(
        db,
        clock,
        "volta",
        {
            "mobile": ['"Volta Mobile" -concours', "#voltamobile"],
            "energie": ["volta NEAR/3 (facture OR compteur)", "raw:VE"],
        },
    )
    lines = [
        record("1", "Réseau volta mobile en panne"),  # phrase, case-insensitive
        record("2", "Grand concours Volta Mobile !"),  # excluded
        record("3", "vive #VoltaMobile"),  # hashtag
        record("4", "ma facture chez Volta est fausse"),  # NEAR/3
        record("5", "Volta a encore changé ma facture"),  # NEAR too far? volta…facture = 4
        record("6", "ve ne matche pas, VE oui"),  # raw
    ]
    pipeline.import_file(write_jsonl(tmp_path / "f.jsonl", lines), tenant="volta")
    with session_scope(db.factory) as session:
        rows = session.execute(
            select(MentionBrand.mention_id, Brand.slug).join(
                Brand, Brand.id == MentionBrand.brand_id
            )
        ).all()
        ids = dict(session.execute(select(Mention.id, Mention.external_id)).all())
    matched = sorted((ids[m], slug) for m, slug in rows)
    assert matched == [("1", "mobile"), ("3", "mobile"), ("4", "energie"), ("6", "energie")]


def test_a_malformed_query_is_refused_with_its_column_and_nothing_saved(
    db: Database, clock: FrozenClock
) -> None:
    make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session:
        tenant = get_tenant(session, "acme")
        with pytest.raises(InvalidInputError, match="column 15"):
            add_brand(session, clock, tenant, "b", "B", ["ok", "acme AND (x OR)"])
    with session_scope(db.factory) as session:
        assert session.scalars(select(Brand)).all() == []


WORDS = ["volta", "panne", "énergie", "facture", "#promo", "@volta", "lune", "mobile"]
QUERIES = [
    "volta",
    '"volta mobile"',
    "panne -promo",
    "#promo",
    "@volta",
    "energie OR lune",
    "volta NEAR/2 panne",
    "fact*",
    "lune lang:fr",
    "source:review",
    "mobile -volta",
]


@settings(max_examples=150, deadline=None)
@given(
    brands=st.lists(
        st.lists(st.sampled_from(QUERIES), min_size=1, max_size=3), min_size=1, max_size=6
    ),
    words=st.lists(st.sampled_from(WORDS), max_size=12),
    lang=st.sampled_from(["fr", "en", None]),
    source=st.sampled_from(["twitter", "review"]),
)
def test_the_index_finds_exactly_what_naive_evaluation_finds(
    brands: list[list[str]], words: list[str], lang: str | None, source: str
) -> None:
    entries = [
        BrandEntry(1, "t", n, f"b{n}", tuple(parse(q) for q in queries))
        for n, queries in enumerate(brands)
    ]
    catalog = BrandCatalog(entries)
    doc = Document(text=" ".join(words), lang=lang, source=source)
    prepared = prepare(doc)
    naive = [e for e in entries if any(evaluate(q, prepared) for q in e.queries)]
    assert catalog.matches(doc) == naive
