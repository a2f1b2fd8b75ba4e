"""``clameur replay FILE --speed 60x``: rehearse a crisis with a file's original timing."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from clameur.cli.output import emit_json, safe
from clameur.cli.runtime import Runtime
from clameur.core.bus import InMemoryBus
from clameur.db import session_scope
from clameur.detection import alerts_of
from clameur.errors import InvalidInputError
from clameur.mentions.reader import LineError, reader_for
from clameur.pipeline.live import LiveRunner
from clameur.tenancy import get_tenant


def parse_speed(text: str) -> float | None:
    """``60x`` or ``60`` → 60.0; ``max`` → None (no waiting)."""
    value = text.strip().lower()
    if value in {"max", "fast", "0"}:
        return None
    try:
        speed = float(value.removesuffix("x"))
    except ValueError:
        raise InvalidInputError(
            f"expected a factor like 60x, or max, got {text!r}", where="--speed"
        ) from None
    if speed <= 0:
        raise InvalidInputError(f"must be positive, got {text!r}", where="--speed")
    return speed


def _event_time(data: dict[str, Any]) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(data.get("created_at", "")))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def replay_command(
    file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file in the import format.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Every line belongs to this tenant.")],
    speed: Annotated[
        str, typer.Option("--speed", help="How much faster than real time: 60x, 600x, or max.")
    ] = "60x",
    as_json: Annotated[
        bool, typer.Option("--json", help="At the end, print the tenant's alerts as JSON.")
    ] = False,
) -> None:
    """Feed FILE through live processing with its original timing, printing alerts as they rise.

    Lines are sent in event-time order (a file out of order is sorted first); a line without
    a valid created_at goes first and is reported by the pipeline like any bad line.
    Notifications (e-mail, webhooks) of the tenant's alert rules really leave.
    """
    factor = parse_speed(speed)
    runtime = Runtime.load()
    pipeline = runtime.pipeline()
    tenant_id = pipeline.tenant_id(tenant)
    read = reader_for(file, None)
    try:
        with file.open("rb") as stream:
            items = list(read(stream))
    except OSError as exc:
        raise InvalidInputError(f"cannot open: {exc.strerror}", where=str(file)) from None
    bad = [item for _, item in items if isinstance(item, LineError)]
    for error in bad:
        typer.echo(f"line {error.line}: {safe(error.reason)}", err=True)
    records = [data for _, data in items if isinstance(data, dict)]
    timed = sorted(
        ((_event_time(r), n, r) for n, r in enumerate(records)),
        key=lambda t: (t[0] is not None, t[0].timestamp() if t[0] else 0.0, t[1]),
    )
    from clameur.pipeline.handlers import outbox_handlers

    runner = LiveRunner(
        pipeline,
        InMemoryBus(),
        outbox_handlers(runtime.settings, pipeline.factory),
        relay_interval=0.5,
        sla_interval=None,
        dispatch=False,  # old data: no wall-clock work
    )
    seen: set[int] = set()
    first = next((t for t, _, _ in timed if t is not None), None)
    started = time.monotonic()
    with runner:
        pending: list[dict[str, Any]] = []
        for at, _, record in timed:
            if factor is not None and at is not None and first is not None:
                due = started + (at - first).total_seconds() / factor
                if due > time.monotonic():
                    if pending:
                        runner.submit(pending, tenant_id)
                        pending = []
                    _show_new(runtime, tenant, seen, quiet=as_json)
                    time.sleep(max(0.0, due - time.monotonic()))
            pending.append(record)
            if len(pending) >= runtime.settings.batch_size:
                runner.submit(pending, tenant_id)
                pending = []
        if pending:
            runner.submit(pending, tenant_id)
        runner.drain()
    _show_new(runtime, tenant, seen, quiet=as_json)
    typer.echo(
        f"replayed {len(records)} line(s) in {time.monotonic() - started:.1f} s"
        + (f"; {len(bad)} unreadable line(s)" if bad else ""),
        err=True,
    )
    if as_json:
        with session_scope(runtime.ready()) as session:
            emit_json(alerts_of(session, get_tenant(session, tenant).id))
    if bad:
        raise typer.Exit(1)


def _show_new(runtime: Runtime, tenant: str, seen: set[int], *, quiet: bool) -> None:
    with session_scope(runtime.ready()) as session:
        found = alerts_of(session, get_tenant(session, tenant).id)
    for alert in found:
        if alert["id"] in seen:
            continue
        seen.add(alert["id"])
        if not quiet:
            stamp = alert["triggered_at"][:16].replace("T", " ")
            typer.echo(
                f"ALERT {stamp}  {safe(alert['severity']):<8} {safe(alert['kind']):<15} "
                f"{safe(' '.join(alert['summary'].split())[:110])}"
            )
