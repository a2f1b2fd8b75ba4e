"""The connector interface, the registry and the fake connector (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.errors import InvalidInputError
from clameur.sources import (
    Connector,
    PollContext,
    RateLimitedError,
    SourceConfig,
    SourceError,
    connector,
    kinds,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _config(**options: object) -> SourceConfig:
    return SourceConfig(
        id=1,
        tenant_id=1,
        kind="fake",
        name="trial",
        url=None,
        source="blog",
        options=options,
        secrets={"token": "s3cr3t-value"},
    )


def _context() -> PollContext:
    return PollContext(settings=Settings(), clock=FrozenClock(NOW))


def test_the_fake_connector_is_found_through_its_entry_point() -> None:
    assert "fake" in kinds()
    fake = connector("fake")
    assert isinstance(fake, Connector)
    assert fake.kind == "fake"


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as caught:
        connector("gopher")
    assert "'gopher'" in str(caught.value)
    assert "fake" in str(caught.value)


def test_secrets_never_show_in_repr() -> None:
    shown = repr(_config())
    assert "s3cr3t-value" not in shown
    assert "'token': 'set'" in shown
    assert "s3cr3t-value" not in str(_config())


def test_fake_records_get_defaults_and_bad_items_are_problems(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"external_id": "a1", "text": "hello"})
        + "\n{broken\n"
        + json.dumps({"text": "no id"})
        + "\n"
    )
    polled = connector("fake").poll(_config(file=str(feed)), None, _context())
    assert [r["external_id"] for r in polled.records] == ["a1"]
    assert polled.records[0]["source"] == "blog"
    assert polled.records[0]["created_at"] == NOW.isoformat()
    assert [p.where for p in polled.problems] == ["feed.jsonl:2", "feed.jsonl:3"]
    assert polled.cursor == {"polls": 1, "last": "a1"}


def test_fake_failures_are_typed(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"_raise": "rate_limited", "retry_after": 30}) + "\n")
    with pytest.raises(RateLimitedError) as caught:
        connector("fake").poll(_config(file=str(feed)), None, _context())
    assert caught.value.retry_after == 30.0
    feed.write_text(json.dumps({"_raise": "permanent", "message": "gone"}) + "\n")
    with pytest.raises(SourceError, match="gone"):
        connector("fake").poll(_config(file=str(feed)), None, _context())


def test_fake_options_are_validated() -> None:
    schema = connector("fake").options_schema
    with pytest.raises(ValueError, match="colour"):
        schema.model_validate({"colour": "red"})


def test_the_fake_connector_is_off_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    from clameur.sources import registry

    monkeypatch.delenv(registry.FAKE_ENV)
    registry.reload()
    assert "fake" not in kinds()
    with pytest.raises(InvalidInputError, match="unknown connector kind 'fake'"):
        connector("fake")
