"""``clameur analyse TEXT…``: run the shipped models on texts typed or piped in.

For trying the models out and for scripts: every per-mention analysis, plus priority as if
the author were a median one of a tenant (influence percentile 50) and the text just posted.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Annotated, Any

import typer

from clameur.cli.output import emit_json, safe


def analyse_command(
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts (default: lines of stdin).")
    ] = None,
    source: Annotated[str, typer.Option(help="Source the texts come from.")] = "twitter",
    followers: Annotated[int | None, typer.Option(help="Author's followers.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Analyse texts: language, sentiment, intent, toxicity, actionability, priority."""
    from clameur.analysis.base import AnalysisInput
    from clameur.analysis.engine import ModelAnalyzer
    from clameur.analysis.priority import PriorityInput, prioritise
    from clameur.clock import SystemClock

    items = texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    now = SystemClock().now()
    inputs = [
        AnalysisInput(text=t, source=source, created_at=now, author_followers=followers)
        for t in items
    ]
    results = []
    for item, result in zip(inputs, ModelAnalyzer.default().analyse(inputs), strict=True):
        influence = 50.0  # a median author of the tenant: no tenant here
        score, level, reasons = prioritise(
            PriorityInput(
                intent=result.intent,
                sentiment=result.sentiment,
                sentiment_score=result.sentiment_score,
                toxicity=result.toxicity,
                actionability=result.actionability,
                influence=influence,
                followers=followers,
                verified=False,
                reach=result.reach or 0,
                created_at=now,
                analysed_at=now,
            )
        )
        full = dataclasses.replace(
            result,
            influence=influence,
            priority=score,
            priority_level=level,
            priority_reasons=reasons,
        )
        results.append({"text": item.text, **_plain(full)})
    if as_json:
        emit_json(results)
        return
    for r in results:
        typer.echo(
            f"{r['priority_level']} {r['lang'] or '??'} {r['sentiment']} {r['intent']} "
            f"{r['actionability']} tox={r['toxicity']:.2f}  {safe(r['text'][:70])}"
        )
        if r["priority_reasons"]:
            typer.echo(f"    {safe(' · '.join(r['priority_reasons']))}")


def _plain(result: object) -> dict[str, Any]:
    out = dataclasses.asdict(result)  # type: ignore[call-overload]
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
