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
