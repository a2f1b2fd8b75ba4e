"""``?`` wildcards are expanded against the index vocabulary and looked up like words: the
candidates read from the database are the matches (never every mention), and the results are
still exactly the reference evaluator's, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.listening import compile_query, search
from clameur.listening.query import QuerySyntaxError, Wildcard, parse
from clameur.listening.search_index import (
    MAX_EXPANSION,
    MAX_TOKEN,
    decode_token,
    expand,
    index_token,
    jokers,
    vocabulary_range,
)
from clameur.pipeline import Pipeline
from clameur.tenancy import Tenant
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl
from tests.listening.test_search import _hits, _naive

TEXTS = [
    "Volta en panne ce matin",
    "la vente flash de Volta",
    "votre colis est arrivé",
    "#Vente privée chez volta",
    "Vélo électrique: la VOLTA roule",
    "une panne du réseau, encore",
    "le raseau et la pagne",
    "rien du tout",
    "volte-face de la direction",
    "ŒUVRE et œuvre",
    "x" * 300 + " long mot",
]
QUERIES = [
    "v??t?",
    "vo?ta",
    "?olta",
    "??nne",
    "pan?e",
    "r?seau",
    "v?lo",
    "ve?te",
    "vol?e OR vé?o",
    "v??t? -panne",
    "raw:V?lta",
    "raw:v?lta",
    "raw:Vé?o",
    "vo?t* panne",
    "v??t? NEAR/3 panne",
    "?uvre",
    "œuv?e",
    "x?xx*",
    "zz?z",
]


@pytest.fixture
def corpus(db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path) -> Tenant:
    tenant = make_tenant(db, clock, "volta", {"volta": ["volta"]})
    make_tenant(db, clock, "other", {"o": ["volta"]})
    lines = [record(str(i), body) for i, body in enumerate(TEXTS)]
    pipeline.import_file(write_jsonl(tmp_path / "v.jsonl", lines), tenant="volta")
    others = [record(f"o{i}", f"volte vante {i}") for i in range(3)]
    pipeline.import_file(write_jsonl(tmp_path / "o.jsonl", others), tenant="other")
    return tenant


@pytest.mark.parametrize("query", QUERIES)
def test_question_mark_wildcards_find_what_the_evaluator_finds_from_the_index(
    db: Database, corpus: Tenant, query: str
) -> None:
    expected = _naive(db, corpus.id, query)
    with session_scope(db.factory) as session:
        plan = compile_query(query, session)
        assert plan.indexed, "the vocabulary turned the ? wildcards into index lookups"
        found = search(session, corpus.id, plan)
        assert _hits(found) == expected
        # the database returned only matches (raw: those of the folded pattern; maybe the
        # mention whose 300-letter word has a cut token), never every mention
        folded = _naive(db, corpus.id, query.replace("raw:", ""))
        assert found.candidates <= len(folded) + 1 < len(TEXTS), (found.candidates, folded)
        # a plan compiled without a session is expanded by search itself
        assert _hits(search(session, corpus.id, query)) == expected


def test_examples(db: Database, corpus: Tenant) -> None:
    with session_scope(db.factory) as session:
        # volte, VOLTA, #Vente, Volta, Volta (not votre: its 4th letter is r)
        assert _hits(search(session, corpus.id, "v??t?")) == ["8", "4", "3", "1", "0"]
        assert _hits(search(session, corpus.id, "raw:V?lta")) == ["1", "0"]
        assert _hits(search(session, corpus.id, "zz?z")) == []
        found = search(session, corpus.id, "?olta", facets=True)
        assert found.total == 4


def test_an_exact_expansion_decides_from_the_index_tokens(db: Database, corpus: Tenant) -> None:
    with session_scope(db.factory) as session:
        assert compile_query("v??t? OR pan?e", session).decider is not None
        assert compile_query("raw:V?lta", session).decider is None  # confirmed on the text


def test_a_wildcard_matching_too_many_words_is_refused_with_its_column(
    db: Database, corpus: Tenant, pipeline: Pipeline, tmp_path: Path
) -> None:
    many = [record(f"m{i}", f"mot{i:05d}") for i in range(MAX_EXPANSION + 1)]
    pipeline.import_file(write_jsonl(tmp_path / "m.jsonl", many), tenant="volta")
    with session_scope(db.factory) as session:
        assert search(session, corpus.id, "mot0000?").total == 10
        with pytest.raises(QuerySyntaxError) as info:
            search(session, corpus.id, "volta mot?????")
        assert info.value.column == 7
        assert f"more than {MAX_EXPANSION} different words" in info.value.message


def test_vocabulary_helpers() -> None:
    for key in ("volta", "énergie", "#volta", "quoi", "œuvre", "x" * 200):
        token = index_token(key)
        decoded, whole = decode_token(token)
        if len(token) < MAX_TOKEN:
            assert (decoded, whole) == (key, True)
        else:
            assert not whole
            assert key.startswith(decoded)
    assert vocabulary_range(Wildcard("Vo?ta")) == ("vo", "vo{")
    assert vocabulary_range(Wildcard("?olta")) == ("", "{")
    assert vocabulary_range(Wildcard("Ré?eau")) == ("re", "re{")
    (joker,) = jokers(parse("volta* (pan?e OR pan?e) -v?lo"))[:1]
    assert joker == Wildcard("pan?e")
    assert len(jokers(parse("volta* (pan?e OR pan?e) -v?lo"))) == 2
    tokens = [index_token(k) for k in ("panne", "pagne", "panneau", "#panne", "pane")]
    expansion = expand(Wildcard("pan?e"), tokens)
    assert expansion is not None
    assert expansion.exact
    assert expansion.tokens == {"panne"}
    raw = expand(Wildcard("Pa?ne", raw=True), tokens)
    assert raw is not None
    assert not raw.exact
    assert raw.tokens == {"panne", "pagne", "pane"}  # raw: a ? may fold to no letter
    assert expand(Wildcard("p????"), [f"p{i:04d}" for i in range(MAX_EXPANSION + 1)]) is None


def test_words_of_edited_and_new_mentions_join_the_vocabulary(
    db: Database, corpus: Tenant, pipeline: Pipeline, tmp_path: Path
) -> None:
    with session_scope(db.factory) as session:
        assert _hits(search(session, corpus.id, "zy?yx")) == []
    edited = [record("7", "rien du tout sauf zyzyx"), record("new", "un zyxyx tout neuf")]
    pipeline.import_file(write_jsonl(tmp_path / "e.jsonl", edited), tenant="volta")
    with session_scope(db.factory) as session:
        assert _hits(search(session, corpus.id, "zy?yx")) == ["new", "7"]
        assert _hits(search(session, corpus.id, "?yzyx")) == ["7"]
