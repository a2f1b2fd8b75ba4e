from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from clameur.mentions import RecordError, normalise
from tests.factories import record


def test_a_valid_record_is_normalised() -> None:
    raw = record(
        "42",
        "  Bonjour  ",
        rating="4",
        lang="FR",
        metrics={"likes": "3"},
        campaign="x",
        author={
            "handle": "@Marie",
            "followers": "1200",
            "verified": "true",
            "created_at": "2020-01-01T00:00:00Z",
        },
    )
    m = normalise(raw)
    assert m.text == "Bonjour"
    assert m.created_at == datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    assert m.author.handle == "Marie"
    assert m.author.followers == 1200
    assert m.author.verified is True
    assert m.rating == 4
    assert m.lang == "fr"
    assert m.metrics == {"likes": 3}
    assert m.extra == {"campaign": "x"}, "unknown fields are kept"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"text": None}, "missing required field 'text'"),
        ({"text": "   "}, "field 'text' is empty"),
        ({"external_id": None}, "missing required field 'external_id'"),
        ({"source": "myspace"}, "unknown source 'myspace'"),
        ({"created_at": "yesterday"}, "unparseable date 'yesterday'"),
        ({"created_at": "2026-11-16T09:00:00"}, "has no time zone"),
        ({"created_at": 1700000000}, "must be an ISO 8601 string"),
        ({"author": None}, "missing required field 'author.handle'"),
        ({"author": {"handle": "a", "followers": "many"}}, "'author.followers' must be an integer"),
        ({"rating": 6}, "'rating' must be between 1 and 5"),
        ({"metrics": [1, 2]}, "'metrics' must be an object"),
        ({"text": ["a list"]}, "'text' must be a string"),
        ({"text": "x" * 100_001}, "longer than 100000 characters"),
    ],
)
def test_bad_records_name_the_field(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        normalise(record("1", "hello") | change)


def test_content_hash_changes_with_the_text_only_when_something_changed() -> None:
    a = normalise(record("1", "hello"))
    assert a.content_hash() == normalise(record("1", "hello")).content_hash()
    assert a.content_hash() != normalise(record("1", "hello!")).content_hash()
    followers = record("1", "hello", author={"handle": "client1", "followers": 121})
    assert a.content_hash() != normalise(followers).content_hash()


def test_nul_characters_are_removed_for_postgresql() -> None:
    m = normalise(record("1", "a\x00b", note="c\x00d"))
    assert m.text == "ab"
    assert m.extra == {"note": "cd"}


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [33, 300, 1000, 5000])
def test_an_unknown_field_nested_too_deeply_is_refused_naming_the_field(depth: int) -> None:
    with pytest.raises(RecordError, match=r"unknown field 'payload' nests deeper than 32 levels"):
        normalise(record("1", "hello", payload=_nested(depth)))


def test_an_unknown_field_at_the_depth_limit_is_kept_and_hashed() -> None:
    deep = {"a": _nested(31)}  # the object is level 1, then 31 arrays
    m = normalise(record("1", "hello", payload=deep))
    assert m.extra["payload"] == deep
    assert len(m.content_hash()) == 32


def test_an_unknown_field_over_64_kb_is_refused_naming_the_field() -> None:
    with pytest.raises(RecordError, match=r"unknown field 'blob' is larger than 65536 bytes"):
        normalise(record("1", "hello", blob="x" * 70_000))
    assert normalise(record("1", "hello", blob="x" * 60_000)).extra["blob"] == "x" * 60_000


def test_nul_is_stripped_from_unknown_fields_and_their_keys() -> None:
    m = normalise(record("1", "hello", **{"k\x00": {"a\x00": ["b\x00"]}}))
    assert m.extra == {"k": {"a": ["b"]}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created_at", "0001-01-02T00:00:00Z"),
        ("created_at", "9999-12-31T23:59:59Z"),
        ("created_at", "1969-12-31T23:59:59Z"),
        ("created_at", "2100-01-01T00:00:01Z"),
        ("created_at", "0001-01-01T00:00:00+05:00"),
        ("author.created_at", "0001-01-02T00:00:00Z"),
        ("author.created_at", "9999-12-31T00:00:00Z"),
    ],
)
def test_dates_outside_1970_to_2100_are_refused_naming_the_field(field: str, value: str) -> None:
    if field == "author.created_at":
        raw = record("1", "hello", author={"handle": "a", "created_at": value})
    else:
        raw = record("1", "hello", created_at=value)
    with pytest.raises(RecordError, match=rf"field '{field}': .* is outside 1970-01-01"):
        normalise(raw)


def test_the_ends_of_the_date_range_are_accepted() -> None:
    low = normalise(record("1", "a", created_at="1970-01-01T00:00:00Z"))
    high = normalise(record("2", "b", created_at="2100-01-01T00:00:00Z", author={"handle": "a"}))
    assert low.created_at == datetime(1970, 1, 1, tzinfo=UTC)
    assert high.created_at == datetime(2100, 1, 1, tzinfo=UTC)
