"""Archive search: index tokens, the pre-filter's soundness, and search on a real database."""

from __future__ import annotations

import importlib
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, insert, select, text, update

from clameur.clock import FrozenClock
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.errors import InvalidInputError
from clameur.listening import (
    QueryPreview,
    SearchHit,
    compile_query,
    document_keys,
    filter_holds,
    index_token,
    key_decider,
    metadata_only,
    preview_query,
    search,
    search_text,
    text_filter,
)
from clameur.listening.query import (
    Document,
    Hashtag,
    Node,
    Not,
    QuerySyntaxError,
    Term,
    Wildcard,
    and_,
    evaluate,
    or_,
    parse,
    prepare,
)
from clameur.listening.query import Mention as MentionOf
from clameur.listening.search_index import MAX_TOKEN, OVERFLOW
from clameur.mentions import Author, Mention
from clameur.pipeline import Pipeline
from clameur.tenancy import Tenant, get_tenant
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl
from tests.listening.test_query_properties import (
    TAGS,
    documents,
    fields,
    queries,
    random_words,
    ratings,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- index tokens -------------------------------------------------------------------------


def test_index_tokens_are_plain_ascii_and_keep_plain_words() -> None:
    assert index_token("volta") == "volta"
    assert index_token("4g") == "4g"
    assert index_token("#volta") == "q000zvolta"
    assert index_token("quoi") == "q0035uoi"  # q is escaped too: one token, one key
    assert index_token("@volta") == "q001svolta"
    assert index_token("straße") != index_token("strasse")  # fold() happens before, not here
    assert len(index_token("a" * 500)) == MAX_TOKEN


@SETTINGS
@given(st.text(min_size=1, max_size=30), st.text(max_size=30), st.text(min_size=1, max_size=30))
def test_index_tokens_are_one_backend_word_one_to_one_and_keep_prefixes(
    key: str, rest: str, other: str
) -> None:
    token = index_token(key)
    assert token
    assert all(c.isascii() and (c.isdigit() or c.islower()) for c in token)
    assert index_token(key + rest).startswith(token)
    if len(token) < MAX_TOKEN:
        assert (index_token(other) == token) == (other == key)
        assert index_token(other).startswith(token) == other.startswith(key)


def test_search_text_is_sorted_unique_tokens_and_overflows_to_a_marker() -> None:
    keys = document_keys("Volta volta #Volta énergie")
    assert keys == {"volta", "#volta", "energie"}
    assert search_text(keys) == "energie q000zvolta volta"
    huge = {f"w{i}" for i in range(60_000)}
    assert search_text(huge) == OVERFLOW
    assert search_text(set()) == ""


# -- the pre-filter -----------------------------------------------------------------------

unicode_texts = st.text(max_size=40)


def _tokens(doc: Document) -> frozenset[str]:
    return frozenset(search_text(prepare(doc).keys).split())


@SETTINGS
@given(queries, documents)
def test_the_pre_filter_never_loses_a_match(query: Node, doc: Document) -> None:
    flt = text_filter(query)
    if flt is not None and evaluate(query, doc):
        assert filter_holds(flt, _tokens(doc)), (query, doc.text, flt)


@SETTINGS
@given(queries, unicode_texts)
def test_the_pre_filter_never_loses_a_match_on_any_text(query: Node, body: str) -> None:
    doc = Document(body)
    flt = text_filter(query)
    if flt is not None and evaluate(query, doc):
        assert filter_holds(flt, _tokens(doc))


decidable_leaves = st.one_of(
    st.builds(Term, st.sampled_from(["volta", "Énergie", "4g", "mobile", "quoi"]) | random_words),
    st.builds(Hashtag, st.sampled_from(TAGS)),
    st.builds(MentionOf, st.sampled_from(TAGS)),
    st.builds(Wildcard, st.sampled_from(["energ*", "volt*", "ÉNER*", "mob*", "ré*"])),
    fields,
    ratings,
)
decidable_queries = st.recursive(
    decidable_leaves,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: and_(*xs)),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: or_(*xs)),
    ),
    max_leaves=6,
)


def _decides_like_evaluate(query: Node, doc: Document) -> None:
    decide = key_decider(query)
    assert decide is not None
    assert decide(_tokens(doc), metadata_only(doc)) == evaluate(query, doc), (query, doc)


@SETTINGS
@given(decidable_queries, st.one_of(documents, unicode_texts.map(Document)))
def test_index_tokens_and_metadata_decide_like_the_evaluator(query: Node, doc: Document) -> None:
    _decides_like_evaluate(query, doc)


@SETTINGS
@given(queries, documents)
def test_every_decidable_query_decides_like_the_evaluator(query: Node, doc: Document) -> None:
    if key_decider(query) is not None:
        _decides_like_evaluate(query, doc)


@pytest.mark.parametrize(
    ("query", "decidable"),
    [
        ("volta (mobile OR #volta OR energ*) -@promo source:twitter rating:>3", True),
        ("raw:Volta", False),
        ('"volta mobile"', False),
        ('"volta"~3', True),
        ("r?seau", False),
        ("volta NEAR/2 mobile", False),
        ('volta -"code promo"', False),
    ],
)
def test_which_queries_need_the_text(query: str, decidable: bool) -> None:
    assert (compile_query(query).decider is not None) is decidable


@pytest.mark.parametrize(
    ("query", "indexed"),
    [
        ("volta panne", True),
        ('"service client"~4 -promo', True),
        ("energ* OR #volta", True),
        ("volta OR -spam", False),
        ("source:trustpilot rating:<2", False),
        ("??ta", False),
    ],
)
def test_which_queries_the_index_can_narrow(query: str, indexed: bool) -> None:
    assert compile_query(query).indexed is indexed


def test_the_pre_filter_ands_what_every_part_needs() -> None:
    flt = text_filter(parse("volta (panne OR coupure*) -promo source:twitter"))
    assert flt is not None
    assert filter_holds(flt, frozenset({"volta", "panne"}))
    assert filter_holds(flt, frozenset({"volta", "coupures"}))
    assert not filter_holds(flt, frozenset({"volta"}))
    assert not filter_holds(flt, frozenset({"panne", "coupure"}))


# -- on a database ------------------------------------------------------------------------


def _hits(result: Any) -> list[str]:
    return [hit.external_id for hit in result.hits]


def _naive(db: Database, tenant_id: int, query: str) -> list[str]:
    """The reference: every mention of the tenant, evaluated one by one, newest first."""
    node = parse(query)
    with session_scope(db.factory) as session:
        rows = session.execute(
            select(Mention, Author.handle)
            .join(Author, Author.id == Mention.author_id)
            .where(Mention.tenant_id == tenant_id)
            .order_by(Mention.created_at.desc(), Mention.id.desc())
        ).all()
        return [
            m.external_id
            for m, handle in rows
            if evaluate(
                node,
                Document(
                    m.text, author=handle, source=m.source, lang=m.lang, url=m.url, rating=m.rating
                ),
            )
        ]


CORPUS = [
    record("1", "Volta en panne depuis ce matin", created_at="2026-11-16T08:00:00Z"),
    record("2", "Le réseau VOLTA est revenu, merci", created_at="2026-11-16T09:00:00Z"),
    record(
        "3",
        "#Volta concours : gagnez un forfait",
        created_at="2026-11-16T10:00:00Z",
        source="facebook",
    ),
    record(
        "4",
        "Service client Volta injoignable, panne de compteur",
        lang="fr",
        created_at="2026-11-16T11:00:00Z",
        author={"handle": "jdupont"},
    ),
    record(
        "5",
        "Facture énergétique trop élevée chez volta",
        created_at="2026-11-17T08:00:00Z",
        source="review",
        rating=1,
    ),
    record(
        "6",
        "Une énergie verte, bravo Volta !",
        created_at="2026-11-17T09:00:00Z",
        source="review",
        rating=5,
        url="https://avis.example.com/volta",
    ),
    record("7", "@volta mon colis est en retard", created_at="2026-11-17T10:00:00Z"),
    record("8", "rien à voir : la lune", created_at="2026-11-17T11:00:00Z"),
]
QUERIES = [
    "volta",
    "panne",
    "volta panne",
    '"service client"',
    "energ*",
    "#volta",
    "@volta",
    "volta -concours",
    "volta NEAR/3 panne",
    "source:review",
    "rating:<3 volta",
    "volta OR lune",
    "raw:VOLTA",
    "author:jdupont",
    "site:example.com",
    "lang:fr volta",
    "-panne volta",
    "facture OR compteur",
]


@pytest.fixture
def corpus(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> Tenant:
    tenant = make_tenant(db, clock, "volta", {"volta": ["volta"], "lune": ["lune"]})
    make_tenant(db, clock, "other", {"o": ["volta"]})
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", CORPUS), tenant="volta")
    others = [record(f"o{i}", f"volta panne chez l'autre {i}") for i in range(3)]
    pipeline.import_file(write_jsonl(tmp_path / "o.jsonl", others), tenant="other")
    return tenant


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_what_naive_evaluation_finds(db: Database, corpus: Tenant, query: str) -> None:
    with session_scope(db.factory) as session:
        found = search(session, corpus.id, query)
    assert _hits(found) == _naive(db, corpus.id, query)
    assert found.total == len(found.hits)


def test_search_examples(db: Database, corpus: Tenant) -> None:
    with session_scope(db.factory) as session:

        def ids(query: str) -> list[str]:
            return _hits(search(session, corpus.id, query))

        assert ids("volta panne") == ["4", "1"]  # newest first
        assert ids("energie") == ["6"]  # accents folded, word boundaries kept
        assert ids("energ*") == ["6", "5"]
        assert ids("#volta") == ["3"]
        assert ids("@volta") == ["7"]
        assert ids("volta") == ["7", "6", "5", "4", "3", "2", "1"]  # words find #tags/@handles
        assert ids("raw:VOLTA") == ["2"]
        assert ids("rating:<3 volta") == ["5"]
        assert ids("zzz") == []


def test_another_tenants_mentions_are_never_returned(db: Database, corpus: Tenant) -> None:
    with session_scope(db.factory) as session:
        other = get_tenant(session, "other")
        mine = search(session, corpus.id, "volta panne", facets=True)
        theirs = search(session, other.id, "volta panne")
        assert _hits(theirs) == ["o2", "o1", "o0"] or sorted(_hits(theirs)) == ["o0", "o1", "o2"]
        assert not {h.external_id for h in mine.hits} & {"o0", "o1", "o2"}
        assert mine.total == 2


def test_pages_walk_the_full_list_with_a_cursor(db: Database, corpus: Tenant) -> None:
    with session_scope(db.factory) as session:
        full = _hits(search(session, corpus.id, "volta"))
        for facets in (False, True):
            seen: list[str] = []
            cursor = None
            for _ in range(10):
                page = search(session, corpus.id, "volta", limit=3, cursor=cursor, facets=facets)
                seen += _hits(page)
                assert len(page.hits) <= 3
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert seen == full
        with pytest.raises(InvalidInputError, match="cursor"):
            search(session, corpus.id, "volta", cursor="nonsense")


@pytest.mark.parametrize("query", ["volta", "volta -concours", '"service client"', "energ*"])
def test_pages_are_the_same_when_the_index_gives_many_candidates(
    db: Database, corpus: Tenant, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past FEW_CANDIDATES, a page walks the tenant's mentions by date instead."""
    with session_scope(db.factory) as session:
        full = _hits(search(session, corpus.id, query))
        module = importlib.import_module("clameur.listening.search")  # not the function
        monkeypatch.setattr(module, "FEW_CANDIDATES", 0)
        pages: list[str] = []
        cursor = None
        for _ in range(10):
            page = search(session, corpus.id, query, limit=2, cursor=cursor)
            pages += _hits(page)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert pages == full


def test_date_range_and_listing_without_query(db: Database, corpus: Tenant) -> None:
    since = datetime(2026, 11, 17, tzinfo=UTC)
    until = datetime(2026, 11, 17, 10, tzinfo=UTC)
    with session_scope(db.factory) as session:
        assert _hits(search(session, corpus.id, "volta", since=since, until=until)) == ["6", "5"]
        assert _hits(search(session, corpus.id, None, since=since)) == ["8", "7", "6", "5"]
        with pytest.raises(InvalidInputError, match="since"):
            search(session, corpus.id, "volta", since=datetime(2026, 11, 17))  # noqa: DTZ001


def test_facets_count_the_full_match_set(db: Database, corpus: Tenant) -> None:
    with session_scope(db.factory) as session:
        found = search(session, corpus.id, "volta OR lune", limit=2, facets=True, brands=True)
    assert found.total == 8
    assert len(found.hits) == 2
    assert found.next_cursor is not None
    assert found.facets is not None
    assert found.facets["source"] == [("twitter", 5), ("review", 2), ("facebook", 1)]
    assert dict(found.facets["brand"]) == {"volta": 7, "lune": 1}
    assert dict(found.facets["lang"]) == dict(Counter(h.lang for h in _all_hits(db, corpus)))
    assert found.hits[0].brands == ("lune",)


def _all_hits(db: Database, corpus: Tenant) -> list[SearchHit]:
    with session_scope(db.factory) as session:
        return search(session, corpus.id, None).hits


def test_a_malformed_query_names_its_column(db: Database, corpus: Tenant) -> None:
    with session_scope(db.factory) as session, pytest.raises(QuerySyntaxError) as caught:
        search(session, corpus.id, "volta (panne OR bug")
    assert caught.value.column == 7


def test_edits_and_deletes_keep_the_index_in_step(
    db: Database, corpus: Tenant, pipeline: Pipeline, tmp_path: Path
) -> None:
    edited = [record("1", "Volta fonctionne de nouveau", created_at="2026-11-16T08:00:00Z")]
    pipeline.import_file(write_jsonl(tmp_path / "e.jsonl", edited), tenant="volta")
    with session_scope(db.factory) as session:
        assert "1" not in _hits(search(session, corpus.id, "panne"))
        assert _hits(search(session, corpus.id, "fonctionne")) == ["1"]
        session.execute(text("DELETE FROM mentions WHERE external_id = '4'"))
    with session_scope(db.factory) as session:
        assert _hits(search(session, corpus.id, "panne")) == []


def test_the_migration_fills_search_text_of_mentions_stored_before_it(
    database_url: str,
) -> None:
    """Mentions written at revision 0001 are found once the database is at head."""
    engine = create_engine_for(database_url)
    upgrade(engine, "0001")
    sqlite = engine.dialect.name == "sqlite"

    def at(hour: int) -> datetime:
        value = datetime(2026, 11, 16, hour, tzinfo=UTC)
        return value.replace(tzinfo=None) if sqlite else value

    with engine.begin() as connection:
        tables = MetaData()
        tables.reflect(connection, only=["tenants", "authors", "mentions"])
        tenant_id = connection.execute(
            insert(tables.tables["tenants"]).returning(tables.tables["tenants"].c.id),
            {"slug": "old", "name": "Old", "created_at": at(0), "settings": {}},
        ).scalar_one()
        author_id = connection.execute(
            insert(tables.tables["authors"]).returning(tables.tables["authors"].c.id),
            {
                "tenant_id": tenant_id,
                "source": "twitter",
                "handle": "h",
                "verified": False,
                "first_seen_at": at(0),
                "last_seen_at": at(0),
            },
        ).scalar_one()
        texts = ["Volta en panne", "#Volta revient", "énergie verte", "panne de Volta ?"]
        connection.execute(
            insert(tables.tables["mentions"]),
            [
                {
                    "tenant_id": tenant_id,
                    "source": "twitter",
                    "external_id": str(i),
                    "author_id": author_id,
                    "text": body,
                    "created_at": at(i + 1),
                    "metrics": {},
                    "raw": {},
                    "content_hash": "x",
                    "edit_history": [],
                    "ingested_at": at(0),
                    "priority_reasons": [],
                }
                for i, body in enumerate(texts)
            ],
        )
    upgrade(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        assert _hits(search(session, tenant_id, "volta panne")) == ["3", "0"]
        assert _hits(search(session, tenant_id, "#volta")) == ["1"]
        assert _hits(search(session, tenant_id, "energ*")) == ["2"]
        assert _hits(search(session, tenant_id, "vo?ta pan?e")) == ["3", "0"]  # vocabulary
        assert _hits(search(session, tenant_id, "?olta")) == ["3", "1", "0"]
        stored = dict(session.execute(select(Mention.external_id, Mention.search_text)).all())
    assert stored["2"] == search_text(document_keys("énergie verte")) == "energie verte"
    engine.dispose()


def test_an_over_long_mention_is_still_found(db: Database, corpus: Tenant) -> None:
    with session_scope(db.factory) as session:
        session.execute(
            update(Mention).where(Mention.external_id == "8").values(search_text=OVERFLOW)
        )
    with session_scope(db.factory) as session:
        assert _hits(search(session, corpus.id, "lune")) == ["8"]
        assert "8" not in _hits(search(session, corpus.id, "volta"))


def test_preview_counts_recent_matches_with_a_sample(db: Database, corpus: Tenant) -> None:
    now = datetime(2026, 11, 17, 12, tzinfo=UTC)
    with session_scope(db.factory) as session:
        preview = preview_query(
            session, corpus.id, "volta  -concours", now=now, days=1, sample_size=2
        )
    assert isinstance(preview, QueryPreview)
    assert (preview.mentions, preview.matched) == (4, 3)
    assert [h.external_id for h in preview.sample] == ["7", "6"]
    assert preview.query == "volta AND NOT concours"  # the canonical form
    assert preview.since == now - timedelta(days=1)


# -- the same results on both backends, on random data ------------------------------------

SOURCES_ = ["twitter", "facebook", "review"]
records = st.builds(
    lambda text, handle, source, lang, url, rating: {
        "text": text,
        "author": {"handle": handle},
        "source": source,
        "lang": lang,
        "url": url,
        "rating": rating,
    },
    st.one_of(documents.map(lambda d: d.text), unicode_texts).filter(
        lambda t: bool(t.replace("\x00", "").strip())
    ),
    st.sampled_from(["twitter", "fr", "jdupont"]),
    st.sampled_from(SOURCES_),
    st.none() | st.sampled_from(["fr", "fr-CA", "en"]),
    st.none() | st.sampled_from(["https://example.com/a", "http://forum.example.com/AND"]),
    st.none() | st.integers(1, 5),
)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A SQLite and a PostgreSQL database at head, shared by the examples of one test."""
    import uuid

    from sqlalchemy import create_engine

    from clameur.config import Settings
    from clameur.db import make_session_factory
    from tests.conftest import PG_URL, postgres_or_skip

    postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    urls = [
        f"sqlite:///{tmp_path_factory.mktemp('both') / 'c.db'}",
        f"{PG_URL}{separator}options=-csearch_path%3D{schema}",
    ]
    out = []
    for url in urls:
        engine = create_engine_for(url)
        upgrade(engine)
        database = Database(url, engine, make_session_factory(engine))
        clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
        out.append((database, Pipeline(database.factory, Settings(batch_size=50), clock)))
    yield out
    for database, _ in out:
        database.engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


_tenants = itertools.count()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(records, min_size=1, max_size=12), st.lists(queries, min_size=1, max_size=4))
def test_sqlite_and_postgresql_return_the_same_as_naive_evaluation(
    both: Any,
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[dict[str, Any]],
    query_nodes: list[Node],
) -> None:
    from clameur.listening.query import format_query

    slug = f"p{next(_tenants)}"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = [
        {**row, "external_id": str(i), "created_at": (start + timedelta(hours=i)).isoformat()}
        for i, row in enumerate(rows)
    ]
    path = write_jsonl(tmp_path_factory.mktemp("rows") / "r.jsonl", lines)
    results = []
    for database, pipeline in both:
        tenant = make_tenant(database, pipeline.clock, slug, {})
        report = pipeline.import_file(path, tenant=slug)
        assert report.rejected == 0, report.errors
        per_query = []
        for node in query_nodes:
            query = format_query(node)
            with session_scope(database.factory) as session:
                found = _hits(search(session, tenant.id, query))
            assert found == _naive(database, tenant.id, query), query
            per_query.append(found)
        results.append(per_query)
    assert results[0] == results[1]
