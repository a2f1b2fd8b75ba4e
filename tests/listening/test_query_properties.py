"""Property tests: round-trip of format/parse, robustness, soundness of required terms."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clameur.listening.query import (
    FIELDS,
    Document,
    Field,
    Hashtag,
    Mention,
    Near,
    Node,
    Not,
    Phrase,
    QuerySyntaxError,
    Rating,
    Term,
    Wildcard,
    and_,
    evaluate,
    format_query,
    or_,
    parse,
    prepare,
    required_terms,
    tokenize,
)
from clameur.listening.query.ast import has_positive
from clameur.listening.query.compile import compile_query

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VOCAB = ["volta", "Volta", "énergie", "Energie", "panne", "réseau", "service", "client", "4g"]
TERMS = [*VOCAB, "l'énergie", "aujourd'hui", "porte-monnaie", "ÉNERGIE", "a\\b", "x~y"]
PHRASES = [
    "service client",
    "volta panne",
    'il a dit "non"',
    "a\\b c",
    "énergie\\",
    "#volta panne",
    "Volta Mobile",
]
TAGS = ["volta", "Volta", "énergie", "volta_fr", "4g"]


def _is_plain_term(text: str) -> bool:
    try:
        return parse(text) == Term(text)
    except QuerySyntaxError:
        return False


random_words = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=8).filter(
    _is_plain_term
)

terms = st.builds(Term, st.sampled_from(TERMS) | random_words, st.booleans())
phrase_texts = st.sampled_from(PHRASES) | st.text(max_size=20).filter(lambda s: bool(tokenize(s)))


@st.composite
def phrases(draw: st.DrawFn, *, windowed: bool = True) -> Phrase:
    text = draw(phrase_texts)
    window = None
    if windowed and draw(st.booleans()):
        window = len(tokenize(text)) + draw(st.integers(0, 4))
    return Phrase(text, draw(st.booleans()), window)


wildcards = st.builds(
    Wildcard,
    st.sampled_from(["energ*", "volt*", "colo?r", "r?seau", "pan?e", "vol?a*", "ÉNER*"]),
    st.booleans(),
)
hashtags = st.builds(Hashtag, st.sampled_from(TAGS))
mentions = st.builds(Mention, st.sampled_from(TAGS))
fields = st.builds(
    Field,
    st.sampled_from([f for f in FIELDS if f != "rating"]),
    st.sampled_from(["twitter", "fr", "example.com", "a b", 'x"y', "(", "AND"])
    | st.text(min_size=1),
)
ratings = st.one_of(
    st.builds(Rating, st.sampled_from(["=", "<", "<=", ">", ">="]), st.integers(0, 10)),
    st.integers(0, 5).flatmap(
        lambda lo: st.builds(Rating, st.just(".."), st.just(lo), st.integers(lo, 9))
    ),
)
positional_leaves = st.one_of(terms, phrases(windowed=False), wildcards, hashtags, mentions)
positional = positional_leaves | st.lists(positional_leaves, min_size=2, max_size=3).map(
    lambda xs: or_(*xs)
)
nears = st.builds(Near, positional, positional, st.integers(1, 6), st.booleans())
leaves = st.one_of(terms, phrases(), wildcards, hashtags, mentions, fields, ratings, nears)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: and_(*xs)),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: or_(*xs)),
    )


queries = st.recursive(leaves, _extend, max_leaves=10).filter(has_positive)

TEXT_WORDS = [
    *VOCAB,
    "#volta",
    "#Volta",
    "@volta",
    "#énergie",
    "l'énergie",
    "Colour",
    "color",
    "réseaux",
    "PANNE",
    "energetique",
    "il",
    "a",
    "dit",
    "non",
    "mobile",
    "Mobile",
    "b",
    "x",
    "y",
]
texts = st.lists(st.sampled_from(TEXT_WORDS), max_size=12).map(" ".join)
documents = st.builds(
    Document,
    texts,
    author=st.none() | st.sampled_from(["twitter", "fr"]),
    source=st.none() | st.sampled_from(["twitter", "facebook"]),
    lang=st.none() | st.sampled_from(["fr", "fr-CA", "en"]),
    url=st.none() | st.sampled_from(["https://example.com/a b", "http://forum.example.com/AND"]),
    country=st.none() | st.sampled_from(["fr", "FR"]),
    rating=st.none() | st.integers(0, 10),
)


@SETTINGS
@given(queries)
def test_parse_format_round_trip(query: Node) -> None:
    text = format_query(query)
    assert parse(text) == query, text


@SETTINGS
@given(queries)
def test_format_is_idempotent(query: Node) -> None:
    once = format_query(query)
    assert format_query(parse(once)) == once


def _check_parse(text: str) -> None:
    """Either a QuerySyntaxError with a column inside the text, or a round-tripping tree."""
    error: QuerySyntaxError | None = None
    try:
        node = parse(text)
    except QuerySyntaxError as caught:
        error = caught
    if error is not None:
        assert 1 <= error.column <= len(text) + 1
    else:
        assert parse(format_query(node)) == node


@SETTINGS
@given(st.text(max_size=40))
def test_parse_only_raises_query_syntax_error(text: str) -> None:
    _check_parse(text)


QUERY_ALPHABET = st.sampled_from(
    [
        '"',
        "(",
        ")",
        " ",
        "-",
        "*",
        "?",
        "#",
        "@",
        ":",
        "~",
        "\\",
        "AND",
        "OR",
        "NOT",
        "NEAR/2",
        "NEAR/1f",
        "raw:",
        "source:",
        "rating:",
        "<",
        "3",
        "..",
        "volta",
        "é",
        "ab",
        "x",
    ]
)


@SETTINGS
@given(st.lists(QUERY_ALPHABET, max_size=15).map("".join))
def test_parse_query_like_text(text: str) -> None:
    _check_parse(text)


@SETTINGS
@given(queries, documents)
def test_required_terms_are_sound(query: Node, doc: Document) -> None:
    prepared = prepare(doc)
    matched = evaluate(query, prepared)
    assert evaluate(parse(format_query(query)), prepared) is matched
    keys = required_terms(query)
    assume(keys is not None)
    assert keys
    if matched:
        assert not keys.isdisjoint(prepared.keys), (format_query(query), doc.text, keys)


@SETTINGS
@given(queries, documents)
def test_compiled_queries_agree_with_the_reference_evaluator(query: Node, doc: Document) -> None:
    prepared = prepare(doc)
    expected = evaluate(query, prepared)
    assert compile_query(query)(prepared) is expected, (format_query(query), doc.text)
    # Raw lookups build their index lazily: a fresh document must give the same answer.
    assert compile_query(query)(prepare(doc)) is expected
