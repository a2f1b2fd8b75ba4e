"""The demo generator's window placed by its end (the living demo): the week ending now,
the scenarios in its last hours, the newest mention minutes old; deterministic given the
seed and the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clameur.demo import generate_mentions

END = datetime(2026, 12, 2, 7, 40, 12, 345678, tzinfo=UTC)


def _at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["created_at"]).astimezone(UTC)


@pytest.mark.parametrize("count", [300, 3000])
def test_the_week_ends_minutes_before_end(count: int) -> None:
    records = list(generate_mentions(count=count, seed=7, end=END))
    assert len(records) == count
    moments = [_at(r) for r in records]
    assert moments == sorted(moments)
    assert END - timedelta(minutes=10) <= moments[-1] < END, "the newest is minutes old"
    assert sum(END - m <= timedelta(minutes=10) for m in moments) >= 3
    assert END - timedelta(days=7) - timedelta(seconds=1) <= moments[0]
    assert moments[0] < END - timedelta(days=6), "the window keeps its length"


@pytest.mark.parametrize("count", [300, 3000])
def test_the_scenarios_happen_in_the_last_hours(count: int) -> None:
    records = list(generate_mentions(count=count, seed=7, end=END))
    post = next(
        r
        for r in records
        if r["author"].get("followers", 0) > 400_000 and "panne" in r["text"].lower()
    )
    posted = _at(post)
    assert timedelta(hours=4) <= END - posted <= timedelta(hours=8)
    wave = [r for r in records if r.get("in_reply_to") == post["external_id"]]
    assert len(wave) >= count * 3 // 100
    assert max(_at(r) for r in wave) > END - timedelta(hours=2), "the wave goes on"
    burst = [
        _at(r)
        for r in records
        if r["source"] == "review"
        and r["rating"] == 1
        and _at(r) - datetime.fromisoformat(r["author"]["created_at"]) < timedelta(days=30)
        and "ne livre jamais" in r["text"]
    ]
    assert len(burst) >= 12, "enough fresh accounts for the campaign detector"
    assert max(burst) - min(burst) <= timedelta(hours=1)
    assert timedelta(hours=1) <= END - max(burst) <= timedelta(hours=4)


def test_deterministic_given_seed_and_end() -> None:
    first = list(generate_mentions(count=400, seed=11, end=END))
    assert first == list(generate_mentions(count=400, seed=11, end=END))
    week = timedelta(days=7)  # whole weeks: the same daily rhythm (no DST change here)
    later = list(generate_mentions(count=400, seed=11, end=END + week))
    assert [r["external_id"] for r in later] == [r["external_id"] for r in first]
    assert [_at(r) + week for r in first] == [_at(r) for r in later]
    other = list(generate_mentions(count=400, seed=11, end=END + timedelta(hours=5)))
    assert [_at(r) for r in other] != [_at(r) + timedelta(hours=5) for r in first]


def test_the_fixed_week_is_unchanged_by_default() -> None:
    default = list(generate_mentions(count=200, seed=3))
    fixed = datetime(2026, 11, 16, tzinfo=UTC)
    assert default == list(generate_mentions(count=200, seed=3, start=fixed))
    assert all(fixed <= _at(r) < fixed + timedelta(days=7) for r in default)


def test_start_and_end_are_checked() -> None:
    with pytest.raises(ValueError, match="not both"):
        generate_mentions(start=END - timedelta(days=7), end=END)
    with pytest.raises(ValueError, match="end must be a timezone-aware"):
        generate_mentions(end=datetime(2026, 12, 2))  # noqa: DTZ001
