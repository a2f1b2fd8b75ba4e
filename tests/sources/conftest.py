"""The sources tests use the ``fake`` connector: enabled here (CLAMEUR_FAKE_SOURCES=1), for
this process and the ``clameur`` processes the tests start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clameur.sources import registry


@pytest.fixture(autouse=True)
def _fake_sources(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(registry.FAKE_ENV, "1")
    registry.reload()
    yield
    monkeypatch.undo()
    registry.reload()
