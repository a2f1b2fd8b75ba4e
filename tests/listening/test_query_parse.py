"""Parsing, canonical formatting and syntax errors of the listening query language."""

from __future__ import annotations

import pytest

from clameur.errors import InvalidInputError
from clameur.listening.query import (
    And,
    Field,
    Hashtag,
    Mention,
    Near,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Rating,
    Term,
    Wildcard,
    format_query,
    parse,
)

T = Term


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("panne", T("panne")),
        ("Énergie", T("Énergie")),
        ('"service client"', Phrase("service client")),
        ("volta panne", And((T("volta"), T("panne")))),
        ("volta AND panne", And((T("volta"), T("panne")))),
        ("volta OR panne", Or((T("volta"), T("panne")))),
        ("volta NOT panne", And((T("volta"), Not(T("panne"))))),
        ("volta AND NOT panne", And((T("volta"), Not(T("panne"))))),
        ("volta -panne", And((T("volta"), Not(T("panne"))))),
        ('volta -"hors service"', And((T("volta"), Not(Phrase("hors service"))))),
        ("volta -(a OR b)", And((T("volta"), Not(Or((T("a"), T("b"))))))),
        # precedence: NOT > AND > OR
        ("a OR b AND c", Or((T("a"), And((T("b"), T("c")))))),
        ("a b OR c", Or((And((T("a"), T("b"))), T("c")))),
        ("(a OR b) c", And((Or((T("a"), T("b"))), T("c")))),
        ("NOT a b", And((Not(T("a")), T("b")))),
        ("NOT (a b) c", And((Not(And((T("a"), T("b")))), T("c")))),
        # flattening
        ("a (b c) d", And((T("a"), T("b"), T("c"), T("d")))),
        ("a OR (b OR c)", Or((T("a"), T("b"), T("c")))),
        ("((a))", T("a")),
        # lower-case keywords are plain words
        ("rock and roll", And((T("rock"), T("and"), T("roll")))),
        ("a or b", And((T("a"), T("or"), T("b")))),
        ("l'énergie", T("l'énergie")),
        ("porte-monnaie", T("porte-monnaie")),
    ],
)
def test_boolean_structure(query: str, expected: object) -> None:
    assert parse(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("volta NEAR/3 panne", Near(T("volta"), T("panne"), 3)),
        ("volta NEAR/3f panne", Near(T("volta"), T("panne"), 3, ordered=True)),
        ('"volta mobile" NEAR/5 panne', Near(Phrase("volta mobile"), T("panne"), 5)),
        (
            "(volta OR #volta) NEAR/2 (panne OR bug*)",
            Near(Or((T("volta"), Hashtag("volta"))), Or((T("panne"), Wildcard("bug*"))), 2),
        ),
        # NEAR binds tighter than NOT and AND
        ("x a NEAR/2 b", And((T("x"), Near(T("a"), T("b"), 2)))),
        ("NOT a NEAR/2 b x", And((Not(Near(T("a"), T("b"), 2)), T("x")))),
        ('"service client"~4', Phrase("service client", window=4)),
        ("colo?r", Wildcard("colo?r")),
        ("energ*", Wildcard("energ*")),
        ("#VoltaMobile", Hashtag("VoltaMobile")),
        ("@voltamobile", Mention("voltamobile")),
        ("raw:Volta", Term("Volta", raw=True)),
        ('raw:"Volta Mobile"', Phrase("Volta Mobile", raw=True)),
        ("raw:Volt*", Wildcard("Volt*", raw=True)),
    ],
)
def test_proximity_wildcards_tags_raw(query: str, expected: object) -> None:
    assert parse(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("author:jdupont", Field("author", "jdupont")),
        ("Author:@jdupont", Field("author", "@jdupont")),
        ("source:twitter", Field("source", "twitter")),
        ("lang:fr", Field("lang", "fr")),
        ("site:example.com", Field("site", "example.com")),
        ('url:"/forum/volta"', Field("url", "/forum/volta")),
        ("country:FR", Field("country", "FR")),
        ("rating:5", Rating("=", 5)),
        ("rating:<3", Rating("<", 3)),
        ("rating:<=3", Rating("<=", 3)),
        ("rating:>4", Rating(">", 4)),
        ("rating:>=4", Rating(">=", 4)),
        ("rating:1..2", Rating("..", 1, 2)),
        (
            "source:(twitter OR facebook)",
            Or((Field("source", "twitter"), Field("source", "facebook"))),
        ),
        (
            "volta source:(twitter -facebook)",
            And((T("volta"), Field("source", "twitter"), Not(Field("source", "facebook")))),
        ),
        ("volta rating:(1 OR 5)", And((T("volta"), Or((Rating("=", 1), Rating("=", 5)))))),
        (
            "site:(example.com OR blog.fr)",
            Or((Field("site", "example.com"), Field("site", "blog.fr"))),
        ),
    ],
)
def test_fields(query: str, expected: object) -> None:
    assert parse(query) == expected


def test_phrase_escapes() -> None:
    assert parse(r'"il a dit \"non\""') == Phrase('il a dit "non"')
    assert parse(r'"a\\b"') == Phrase("a\\b")
    assert format_query(Phrase('il a dit "non"')) == r'"il a dit \"non\""'


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("volta panne", "volta AND panne"),
        ("a OR b c", "a OR b AND c"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("-spam volta", "NOT spam AND volta"),
        ("-(a b) x", "NOT (a AND b) AND x"),
        ("source:(twitter OR facebook) volta", "(source:twitter OR source:facebook) AND volta"),
        ('url:"a b"', 'url:"a b"'),
        ("(a OR b) NEAR/3f c", "(a OR b) NEAR/3f c"),
        ("x NOT a NEAR/2 b", "x AND NOT a NEAR/2 b"),
        ("rating:1..2 x", "rating:1..2 AND x"),
        ("NEAR/5F x", None),
    ],
)
def test_canonical_format(query: str, canonical: str | None) -> None:
    if canonical is None:
        with pytest.raises(QuerySyntaxError):
            parse(query)
        return
    node = parse(query)
    assert format_query(node) == canonical
    assert parse(canonical) == node


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("(volta AND panne AND )", 22, "unexpected ')' at column 22; expected a term"),
        ("volta AND", 10, "unexpected end of query at column 10; expected a term"),
        ("volta OR OR b", 10, "unexpected 'OR' at column 10; expected a term"),
        ("volta)", 6, "unexpected ')' at column 6; no matching '('"),
        ("a (b OR (c d)", 3, "unclosed '(' opened at column 3"),
        ("volta () x", 7, "empty parentheses at column 7"),
        ('volta "service client', 7, "unterminated phrase starting at column 7"),
        ('volta "!!"', 7, "empty phrase at column 7"),
        ('"a b"~ x', 6, "expected a number after '~' at column 6"),
        ('"a b c"~2', 1, "the window must be at least the phrase's 3 words"),
        ("volta NEAR/0 x", 7, "NEAR/0 at column 7: distance must be at least 1"),
        ("volta NEAR x", 7, "'NEAR' at column 7: expected a distance"),
        ("volta NEAR/x y", 7, "'NEAR/x' at column 7: expected a distance"),
        ("a NEAR/2 b NEAR/2 c", 12, "NEAR cannot be chained"),
        ("-a NEAR/2 b", 1, "its left side (column 1) must be a word"),
        ("a NEAR/2 source:x", 10, "its right side (column 10) must be a word"),
        ('a NEAR/2 "b c"~3', 10, "its right side"),
        ("vo* x", 3, "wildcard needs at least 3 letters before '*' at column 3"),
        ("x co?*", 6, "wildcard needs at least 3 letters before '*' at column 6"),
        ("ener*gie", 5, "'*' at column 5 is only allowed at the end of a word"),
        ("vol.ta*", 4, "'.' at column 4 is not allowed"),
        ("x ???", 3, "needs at least one letter"),
        ("autor:jdupont", 1, "unknown field 'autor' at column 1 (did you mean 'author'?)"),
        ("x sorce:twitter", 3, "unknown field 'sorce' at column 3 (did you mean 'source'?)"),
        ("x source: twitter", 3, "'source:' at column 3 needs a value"),
        ("rating:abc", 8, "rating value 'abc' at column 8: expected a number"),
        ("rating:5..2", 8, "rating range '5..2' at column 8"),
        ('source:""', 8, "empty value for 'source:' at column 8"),
        ("source:(twitter OR lang:fr)", 20, "field 'lang:' at column 20 cannot be used inside"),
        ("raw:#Volta", 1, "raw: at column 1 applies to a word or a phrase"),
        ("raw: x", 1, "'raw:' at column 1 needs a value"),
        ("#volta!", 1, "invalid hashtag '#volta!' at column 1"),
        ("@ x", 1, "invalid mention '@' at column 1"),
        ("x & y", 3, "'&' at column 3 is not a searchable term"),
        ("volta - spam", 7, "'-' at column 7 must be glued"),
        ("-spam", 1, "only excludes"),
        ("NOT spam -pub", 1, "only excludes"),
        ("-source:twitter", 1, "only excludes"),
        ("NOT NEAR/3 x", 5, "unexpected 'NEAR/3' at column 5; expected a term"),
    ],
)
def test_errors(query: str, column: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(query)
    assert info.value.column == column
    assert message in str(info.value)
    assert isinstance(info.value, InvalidInputError)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse("(" * 500 + "a" + ")" * 500)
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse("NOT " * 500 + "a")


def test_mixed_positive_and_negative_or_is_accepted() -> None:
    assert parse("volta OR -spam") == Or((T("volta"), Not(T("spam"))))


def test_ast_is_hashable_and_structural() -> None:
    assert {parse("a b"), parse("a AND b"), parse("(a) (b)")} == {And((T("a"), T("b")))}


def test_documentation_examples_parse() -> None:
    import re
    from pathlib import Path

    doc = Path(__file__).parents[2] / "docs" / "queries.md"
    blocks = re.findall(r"```text\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    lines = [line for block in blocks for line in block.strip().splitlines()]
    assert len(lines) >= 6
    for line in lines:
        node = parse(line)
        assert parse(format_query(node)) == node
