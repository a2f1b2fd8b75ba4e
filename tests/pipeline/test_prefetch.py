"""A long import analyses its next batches in a forked child while it writes the current one
(`clameur.pipeline.prefetch`): what it stores is what an import analysing in line stores,
the writer then analyses nothing itself, and a child that dies costs only its head start."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clameur.analysis import Analysis, AnalysisInput
from clameur.analysis.engine import ModelAnalyzer
from clameur.config import Settings
from clameur.mentions.models import Mention
from clameur.pipeline import Pipeline
from tests.conftest import Database, FrozenClock, make_tenant
from tests.factories import record, write_jsonl


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Analyse ahead whatever this machine's cores (it is off on one core: not worth it)."""
    monkeypatch.setattr("clameur.pipeline.service.can_prefetch", lambda: True)


PARENT = os.getpid()
TEXTS = (
    "acme, colis perdu depuis dix jours, personne ne répond",
    "merci acme, livraison rapide et soignée",
    "acme: where is my refund? third email this week",
    "Génial, encore une coupure acme ce soir 🙄",
    "acme je résilie demain si rien ne bouge",
    "acme, vous êtes une bande d'escrocs",
)
COLUMNS = (
    "lang",
    "sentiment",
    "sentiment_score",
    "intent",
    "intent_score",
    "toxicity",
    "toxicity_labels",
    "actionability",
    "reach",
    "priority",
    "priority_level",
    "priority_reasons",
)


class Watching:
    """Analyses with ``inner`` and counts, in the process it runs in, what it was given."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.items = 0

    def analyse(self, items: Sequence[AnalysisInput]) -> list[Analysis]:
        self.items += len(items)
        result: list[Analysis] = self.inner.analyse(items)
        return result


class DiesInTheChild(Watching):
    def analyse(self, items: Sequence[AnalysisInput]) -> list[Analysis]:
        if os.getpid() != PARENT:
            os._exit(3)  # a child killed mid-batch
        return super().analyse(items)


def lines(n: int) -> list[dict[str, Any] | str]:
    out: list[dict[str, Any] | str] = []
    for i in range(n):
        text = f"{TEXTS[i % len(TEXTS)]} #{i}"
        out.append(record(f"t{i}", text, author={"handle": f"c{i % 37}", "followers": i * 7}))
    out[10] = "{not json"  # reported, never analysed
    out[20] = record("t5", "acme, colis perdu: édité, toujours rien")  # an edit of line 6
    out[30] = record("t7", "", author={"handle": "c7"})  # an empty text: refused
    return out


def stored(db: Database, tenant_id: int) -> dict[str, tuple[Any, ...]]:
    with db.session() as session:
        rows = session.scalars(select(Mention).where(Mention.tenant_id == tenant_id))
        return {m.external_id: tuple(getattr(m, c) for c in COLUMNS) for m in rows}


def pipeline_with(
    db: Database, clock: FrozenClock, analyzer: Any, *, prefetch: bool = True
) -> Pipeline:
    settings = Settings(batch_size=100, import_prefetch=prefetch)
    return Pipeline(factory=db.factory, settings=settings, clock=clock, analyzer=analyzer)


def test_analysed_ahead_it_stores_what_an_import_in_line_stores(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    ahead_tenant = make_tenant(db, clock, "ahead", {"acme": ["acme"]})
    inline_tenant = make_tenant(db, clock, "inline", {"acme": ["acme"]})
    path = write_jsonl(tmp_path / "m.jsonl", lines(450))
    models = ModelAnalyzer.default()

    ahead, inline = Watching(models), Watching(models)
    first = pipeline_with(db, clock, ahead).import_file(path, tenant="ahead")
    second = pipeline_with(db, clock, inline, prefetch=False).import_file(path, tenant="inline")

    assert first.as_dict() == second.as_dict()
    assert (first.imported, first.rejected, first.updated) == (447, 2, 1)
    assert inline.items == 447, "in line, the writer analyses every draft itself"
    assert ahead.items == 0, "ahead, every batch was analysed by the child"
    ahead_rows, inline_rows = stored(db, ahead_tenant.id), stored(db, inline_tenant.id)
    assert len(ahead_rows) == 447
    assert ahead_rows == inline_rows
    assert {row[1] for row in ahead_rows.values()} >= {"negative", "positive"}


def test_a_child_that_dies_costs_only_its_head_start(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    tenant = make_tenant(db, clock, "acme", {"acme": ["acme"]})
    path = write_jsonl(tmp_path / "m.jsonl", lines(450))
    analyzer = DiesInTheChild(ModelAnalyzer.default())

    result = pipeline_with(db, clock, analyzer).import_file(path, tenant="acme")

    assert (result.imported, result.rejected) == (447, 2)
    assert analyzer.items == 447, "the writer analysed every batch the child did not return"
    rows = stored(db, tenant.id)
    assert len(rows) == 447
    assert all(row[1] is not None for row in rows.values()), "nothing stored unanalysed"


def test_a_short_file_is_analysed_in_line(db: Database, clock: FrozenClock, tmp_path: Path) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    path = write_jsonl(tmp_path / "m.jsonl", lines(200))  # two batches: not worth a fork
    analyzer = Watching(ModelAnalyzer.default())

    result = pipeline_with(db, clock, analyzer).import_file(path, tenant="acme")

    assert result.imported == 197
    assert analyzer.items == 197
