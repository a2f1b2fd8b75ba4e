"""The ``clameur`` command: each sub-command parses, calls a package, prints."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from sqlalchemy import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from clameur import __version__
from clameur.cli.accounts import audit_command, token_app, user_app
from clameur.cli.alerts import alerts_command, rule_app
from clameur.cli.analyse import analyse_command
from clameur.cli.calibration import train_calibration_command
from clameur.cli.care import conversations_app
from clameur.cli.models import evaluate_command, train_app
from clameur.cli.output import emit_json, fail, safe
from clameur.cli.replay import replay_command
from clameur.cli.runtime import Runtime
from clameur.cli.search import search_command
from clameur.cli.sources import poll_command, source_app
from clameur.cli.tenants import brand_app, tenant_app
from clameur.clock import SystemClock
from clameur.db import current_revision, session_scope, upgrade
from clameur.errors import ClameurError
from clameur.pipeline import ImportResult
from clameur.pipeline.worker import Worker
from clameur.reports import stats as compute_stats
from clameur.tenancy import get_tenant

app = typer.Typer(
    name="clameur",
    help="Clameur — listen, analyse, detect, care, steer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(tenant_app, name="tenant")
app.add_typer(brand_app, name="brand")
train_app.command("calibration")(train_calibration_command)
app.add_typer(train_app, name="train")
app.command("eval")(evaluate_command)
app.command("search")(search_command)
app.command("analyse")(analyse_command)
app.command("alerts")(alerts_command)
app.add_typer(rule_app, name="alert-rule")
app.command("replay")(replay_command)
app.add_typer(conversations_app, name="conversations")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.command("audit")(audit_command)
app.add_typer(source_app, name="source")
app.command("poll")(poll_command)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def init() -> None:
    """Create or migrate the database (CLAMEUR_DATABASE_URL, default ./clameur.db)."""
    runtime = Runtime.load()
    upgrade(runtime.engine)
    url = runtime.engine.url.render_as_string()
    typer.echo(f"database ready: {url} (revision {current_revision(runtime.engine)})")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file in the import format.")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Every line belongs to this tenant.")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: from the suffix).")
    ] = None,
    as_json: JsonFlag = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="With a Redis bus: block until the workers processed every line, then print "
            "the summary.",
        ),
    ] = False,
) -> None:
    """Run every line of FILE through the full pipeline. Exit 1 if any line was rejected.

    With CLAMEUR_BUS_URL=redis://… the lines are checked and queued in chunks for `clameur
    worker` processes instead; --wait then returns the same summary once all are processed.
    """
    runtime = Runtime.load()
    if not runtime.settings.bus_url.startswith("memory://"):
        _import_queued(runtime, file, tenant=tenant, fmt=fmt, as_json=as_json, wait=wait)
        return
    pipeline = runtime.pipeline()
    console = Console(stderr=True)
    show_bar = not as_json and console.is_terminal
    if show_bar:
        size = file.stat().st_size if file.exists() else 0
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"importing {file.name}", total=size)
            result = pipeline.import_file(
                file, tenant=tenant, fmt=fmt, progress=lambda done: bar.update(task, completed=done)
            )
    else:
        result = pipeline.import_file(file, tenant=tenant, fmt=fmt)
    if as_json:
        emit_json(result.as_dict())
    else:
        _print_import(result)
    if result.rejected:
        raise typer.Exit(1)


def _import_queued(
    runtime: Runtime, file: Path, *, tenant: str | None, fmt: str | None, as_json: bool, wait: bool
) -> None:
    from clameur.core.bus import bus_from_settings
    from clameur.pipeline.queued import queue_file, wait_for

    factory = runtime.ready()
    bus = bus_from_settings(runtime.settings)
    queued = queue_file(factory, runtime.settings, SystemClock(), bus, file, tenant=tenant, fmt=fmt)
    if not wait:
        if as_json:
            emit_json(
                {"import_id": queued.import_id, "chunks": queued.chunks, "lines": queued.lines}
            )
        else:
            typer.echo(
                f"queued {queued.lines} lines in {queued.chunks} chunks (import "
                f"{queued.import_id}) for `clameur worker`; --wait waits for the summary"
            )
        return

    def stalled(seconds: float) -> None:
        typer.echo(
            f"no progress for {seconds:.0f} s: is a `clameur worker` running on "
            "CLAMEUR_BUS_URL and CLAMEUR_DATABASE_URL? (still waiting)",
            err=True,
        )

    result = wait_for(factory, queued.import_id, stalled=stalled)
    if as_json:
        emit_json(result.as_dict())
    else:
        _print_import(result)
    if result.rejected:
        raise typer.Exit(1)


def _print_import(result: ImportResult) -> None:
    typer.echo(
        f"imported {result.imported}, updated {result.updated}, unchanged {result.unchanged}, "
        f"unmatched {result.unmatched}, rejected {result.rejected}"
    )
    shown = sorted(result.errors, key=lambda e: e["line"])
    for error in shown[:50]:
        typer.echo(f"  line {error['line']}: {safe(error['reason'])}", err=True)
    if len(shown) > 50:
        typer.echo(f"  … and {len(shown) - 50} more (use --json for all)", err=True)


@app.command()
def stats(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant slug (default: all).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Counts of mentions, authors, conversations and alerts."""
    runtime = Runtime.load()
    with session_scope(runtime.ready()) as session:
        tenant_id = get_tenant(session, tenant).id if tenant else None
        figures = compute_stats(session, tenant_id)
    if as_json:
        emit_json(figures)
        return
    for key, value in figures.items():
        typer.echo(f"{key:<20} {value}")


NoWorker = Annotated[
    bool,
    typer.Option(
        "--no-worker",
        help="Serve only: leave the background loops to separate `clameur worker` processes.",
    ),
]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    no_worker: NoWorker = False,
) -> None:
    """Start the web app and the API, and the background loops unless --no-worker.

    The loops: outbox relay (alert e-mails and webhooks, replies), assignment of queued
    conversations, SLA sweeps, alert digests. SIGTERM or Ctrl-C stops the server, then the
    loops (after the step they are in), and exits 0.
    """
    _serve(Runtime.load(), host=host, port=port, no_worker=no_worker)


def _serve(runtime: Runtime, *, host: str, port: int, no_worker: bool) -> None:
    import signal

    import uvicorn

    from clameur.web import create_app
    from clameur.web.security import exposure_warning

    runtime.ready()
    if warning := exposure_warning(host, runtime.settings):
        typer.echo(warning, err=True)
    worker = None if no_worker else _worker(runtime, concurrency=1)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime.settings),
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=3,  # open live streams (SSE) end; browsers reconnect
        )
    )
    # uvicorn handles SIGTERM/SIGINT while it runs, then raises the signal again once shut
    # down: these handlers receive it then, so the loops stop and the command exits 0.
    received: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    if worker is not None:
        worker.start()
    typer.echo(
        f"Clameur is running at http://{host}:{port}/  (Ctrl-C to stop)"
        + ("" if worker else "; background loops off (--no-worker)")
    )
    try:
        if not received:  # a signal before uvicorn took over: do not start at all
            server.run()
    finally:
        if worker is not None:
            worker.stop()
    if not server.started and not received:
        raise typer.Exit(1)  # could not bind the port: uvicorn said why


def _worker(runtime: Runtime, *, concurrency: int, ingest: bool = False) -> Worker:
    from clameur.pipeline.handlers import outbox_handlers
    from clameur.pipeline.worker import source_poller

    factory = runtime.ready()
    handlers = outbox_handlers(runtime.settings, factory)
    poller = source_poller(factory, runtime.settings, SystemClock())
    consumer = None
    if ingest:
        from clameur.core.bus import bus_from_settings
        from clameur.pipeline.queued import IngestConsumer

        consumer = IngestConsumer(runtime.pipeline(), bus_from_settings(runtime.settings))
    return Worker(
        factory, SystemClock(), handlers, concurrency=concurrency, poller=poller, ingest=consumer
    )


def _demo_runtime(host: str, port: int) -> Runtime:
    """The runtime, with e-mail off unless an SMTP server is set (``CLAMEUR_SMTP_HOST``).

    A laptop has no relay on port 25: alert and SLA e-mails are then recorded in the
    outbox as ``skipped`` instead of failing and retrying in the terminal.
    """
    runtime = Runtime.load()
    update: dict[str, object] = {}
    if "CLAMEUR_SMTP_HOST" not in os.environ:
        typer.echo("E-mail is off in the demo (set CLAMEUR_SMTP_HOST to send alert e-mails).")
        update["smtp_host"] = ""
    if "CLAMEUR_PUBLIC_BASE_URL" not in os.environ:
        update["public_base_url"] = f"http://{host}:{port}"  # links shown: the demo's own
    if "CLAMEUR_ALLOW_PRIVATE_FETCH" not in os.environ:
        # the demo's live forum feed is served on loopback, which connectors refuse otherwise
        update["allow_private_fetch"] = True
    return Runtime(runtime.settings.model_copy(update=update)) if update else runtime


@app.command()
def demo(
    count: Annotated[int, typer.Option(help="How many demo mentions to generate.")] = 3000,
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 7,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Load the data, do not serve.")
    ] = False,
    no_worker: NoWorker = False,
) -> None:
    """Initialise, load the demo tenants, brands and mentions, put the floor to work, serve.

    The mentions fill the week ending now; the floor (teams, queues, SLA policies, agents,
    conversations in every state, replies, an incident, a campaign under review) is staged
    once. Run again on the same database, it keeps the data and the floor as they are and
    makes a new demo password.
    """
    from clameur.demo.load import load_living_demo
    from clameur.logging import configure_logging
    from clameur.pipeline.worker import sweep_sla_all

    runtime = _demo_runtime(host, port)
    upgrade(runtime.engine)
    # Loading logs a line per alert, reply and breach: the person who typed `make demo`
    # needs the URL and the accounts, so the load is quiet unless a log level was asked.
    settings = runtime.settings
    quiet = "CLAMEUR_LOG_LEVEL" not in os.environ
    if quiet:
        configure_logging("ERROR", settings.log_format)
    with tempfile.TemporaryDirectory(prefix="clameur-demo-") as tmp:
        living = load_living_demo(runtime.pipeline(), Path(tmp), count=count, seed=seed)
    sweep_sla_all(runtime.ready(), SystemClock())  # the staged floor's breaches, now
    if quiet:
        configure_logging(settings.log_level, settings.log_format)
    if living.imported is not None:
        _print_import(living.imported)
    else:
        typer.echo(
            f"kept the {living.kept} demo mentions already loaded, and their floor "
            "(remove the database for a fresh week ending now)"
        )
    url = f"http://{host}:{port}/"
    typer.echo(living.accounts.describe(url))
    typer.echo("The floor:")
    typer.echo(living.floor.describe())
    typer.echo(living.floor.guide(living.accounts))
    if no_serve:
        return
    from clameur.demo.feed import ensure_demo_sources, running_feed

    with running_feed(SystemClock()) as (_feed, feed_url):
        ensure_demo_sources(runtime.ready(), SystemClock(), feed_url)
        typer.echo(
            f"Live listening: the Volta customers' forum ({feed_url}, a new post every two "
            "minutes) is polled every minute by the source 'Forum Volta (démo)' — see Sources "
            "as admin@volta.example. Connectors may fetch loopback addresses in the demo."
        )
        _serve(runtime, host=host, port=port, no_worker=no_worker)


@app.command()
def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", min=1, help="Threads of the outbox relay, the sources and the bus."
        ),
    ] = 1,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            help="Serve this worker's Prometheus metrics on GET /metrics at this port "
            "(Authorization: Bearer $CLAMEUR_METRICS_TOKEN, which must be set).",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="Interface of the metrics port.")
    ] = "127.0.0.1",
) -> None:
    """Run the background loops without the web server (any number of workers may run).

    Outbox relay, assignment of queued conversations, SLA sweeps, alert digests, connector
    polls; with CLAMEUR_BUS_URL=redis://… also the imports queued on the bus (N consumer
    threads, and the take-over of what dead workers left). SIGTERM or Ctrl-C stops the
    loops after the step they are in, and exits 0.
    """
    import signal
    import threading

    runtime = Runtime.load()
    if metrics_port is not None and not runtime.settings.metrics_token:
        raise ClameurError(
            "--metrics-port needs CLAMEUR_METRICS_TOKEN: the bearer token Prometheus sends"
        )
    ingest = not runtime.settings.bus_url.startswith("memory://")
    loops = _worker(runtime, concurrency=concurrency, ingest=ingest)
    exporter = None
    if metrics_port is not None:
        from clameur.pipeline.metrics import serve_metrics

        try:
            exporter = serve_metrics(metrics_host, metrics_port, runtime.settings.metrics_token)
        except OSError as exc:
            raise ClameurError(
                f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror}"
            ) from None
        typer.echo(f"metrics on http://{metrics_host}:{exporter.port}/metrics", err=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: done.set())
    loops.start()
    names = ", ".join(loop.name for loop in loops.loops)
    typer.echo(f"worker running: {names} (concurrency {concurrency}; SIGTERM to stop)", err=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        stopped = loops.stop()
        if exporter is not None:
            exporter.stop()
    typer.echo("worker stopped" if stopped else "worker stopped; some threads were stuck", err=True)


def main() -> None:
    try:
        app()
    except ClameurError as exc:
        raise SystemExit(fail(str(exc)).exit_code) from None
    except (OperationalError, InterfaceError) as exc:  # unreachable, unopenable, locked…
        raise SystemExit(fail(_database_problem(exc)).exit_code) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None


def _database_problem(exc: OperationalError | InterfaceError) -> str:
    """One line naming the database (password hidden) and the driver's first words."""
    from clameur.config import get_settings

    try:
        url = make_url(get_settings().database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL that does not even parse: say so plainly
        url = "(CLAMEUR_DATABASE_URL)"
    lines = [line.strip() for line in str(exc.orig).splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc.orig).__name__
    return f"database {url}: {reason[:300]}"
