"""An import tunes the garbage collector for itself only: the process's thresholds and its
frozen objects are as they were once the import ends — the web server that `clameur demo`
starts in the same process collects as usual — even when the import fails midway, and
while two imports overlap the first to end does not undo the other's."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clameur.errors import InvalidInputError
from clameur.pipeline import Pipeline
from clameur.pipeline.service import calm_gc
from tests.conftest import Database
from tests.factories import record, write_jsonl


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    """A recognisable setting of the process, put back after the test whatever happens."""
    before = gc.get_threshold()
    gc.set_threshold(700, 11, 12)
    try:
        yield (700, 11, 12)
    finally:
        gc.set_threshold(*before)


def test_the_import_restores_the_collector(
    db: Database, pipeline: Pipeline, tmp_path: Path, thresholds: tuple[int, int, int]
) -> None:
    seen: list[tuple[int, int, int]] = []
    path = write_jsonl(tmp_path / "a.jsonl", [record(str(n), f"acme {n}") for n in range(5)])
    pipeline.import_file(path, progress=lambda _: seen.append(gc.get_threshold()))
    assert seen, "the import reported its progress"
    assert all(during[0] == 50_000 for during in seen), "tuned while it ran"
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0, "what the import froze is collectable again"


def test_a_failed_import_restores_it_too(thresholds: tuple[int, int, int]) -> None:
    during: list[tuple[int, int, int]] = []

    def failing_import() -> None:
        with calm_gc():
            during.append(gc.get_threshold())
            raise InvalidInputError("broken file", where="a.jsonl:3")

    with pytest.raises(InvalidInputError, match="broken file"):
        failing_import()
    assert during[0][0] == 50_000
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_overlapping_imports_restore_when_the_last_ends(thresholds: tuple[int, int, int]) -> None:
    inside, release = threading.Event(), threading.Event()

    def other_import() -> None:
        with calm_gc():
            inside.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=other_import)
    with calm_gc():
        thread.start()
        assert inside.wait(timeout=30)
    assert gc.get_threshold()[0] == 50_000, "the other import still runs"
    release.set()
    thread.join(timeout=30)
    assert gc.get_threshold() == thresholds
