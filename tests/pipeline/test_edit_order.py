"""Edits of one mention within a file: the same result at any batch size (issue #14)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.tenancy import add_tenant, get_tenant
from tests.factories import record, write_jsonl

BATCH_SIZES = (1, 2, 3, 1000)
_slugs = itertools.count()


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Pipeline]]:
    path = tmp_path_factory.mktemp("edits") / "clameur.db"
    engine = create_engine_for(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)
    clock = FrozenClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    first = Pipeline(factory=factory, settings=Settings(batch_size=1), clock=clock)
    out = {1: first}
    for size in BATCH_SIZES[1:]:
        out[size] = Pipeline(
            factory=factory,
            settings=Settings(batch_size=size),
            clock=clock,
            analyzer=first.analyzer,
            detector=first.detector,
        )
    yield out
    engine.dispose()


def _import(pipeline: Pipeline, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Import ``path`` into a new tenant; the summary, and each mention's text and history."""
    slug = f"t{next(_slugs)}"
    with session_scope(pipeline.factory) as session:
        add_tenant(session, pipeline.clock, slug, slug)
    result = pipeline.import_file(path, tenant=slug).as_dict()
    with session_scope(pipeline.factory) as session:
        tenant_id = get_tenant(session, slug).id
        rows = session.execute(
            select(Mention.external_id, Mention.text, Mention.edit_history).where(
                Mention.tenant_id == tenant_id
            )
        )
        stored = {eid: (text, [v["text"] for v in history]) for eid, text, history in rows}
    return result, stored


def _model(versions: list[tuple[str, str]]) -> dict[str, tuple[str, list[str]]]:
    """The rule, written plainly: lines in file order; a text already replaced is a replay."""
    out: dict[str, tuple[str, list[str]]] = {}
    for eid, text in versions:
        if eid not in out:
            out[eid] = (text, [])
            continue
        current, history = out[eid]
        if text != current and text not in history:
            out[eid] = (text, [*history, current])
    return out


edits = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["v1", "v2", "v3", "v4"])),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(versions=edits)
@example(versions=[("a", "v1"), ("a", "v2"), ("a", "v1")])
@example(versions=[("a", "v1"), ("a", "v2"), ("a", "v3"), ("a", "v2"), ("a", "v4")])
def test_edits_end_the_same_at_any_batch_size(
    pipelines: dict[int, Pipeline], tmp_path: Path, versions: list[tuple[str, str]]
) -> None:
    path = write_jsonl(
        tmp_path / f"edits{next(_slugs)}.jsonl",
        [record(eid, f"text {text}", author={"handle": f"author-{eid}"}) for eid, text in versions],
    )
    outcomes = {size: _import(p, path) for size, p in pipelines.items()}
    summary, stored = outcomes[1]
    for size, (other_summary, other_stored) in outcomes.items():
        assert other_stored == stored, f"batch size {size} stored something else"
        assert other_summary == summary, f"batch size {size} counted otherwise"
    expected = {
        eid: (f"text {t}", [f"text {h}" for h in hist])
        for eid, (t, hist) in _model(versions).items()
    }
    assert stored == expected
    counted = summary["imported"] + summary["updated"] + summary["unchanged"]
    assert counted == len(versions), "every line counted once"
    assert summary["imported"] == len(expected)
