"""``clameur train calibration``: refit the temperatures and "uncertain" thresholds (#17)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clameur.cli.output import emit_json
from clameur.errors import InvalidInputError

DEFAULT_DATA = Path("..") / "shared" / "data"


def train_calibration_command(
    data_dir: Annotated[
        Path, typer.Option("--data", help="The shared data folder (xlm-t val splits).")
    ] = DEFAULT_DATA,
    suites_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="The functional suites (dev parts; default: the repo's)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="File to write (default: shipped).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fit report.")] = False,
) -> None:
    """Fit the shipped models' calibration on validation data and write calibration.json."""
    from clameur.analysis.calibration import DEFAULT_PATH
    from clameur.analysis.calibration_fit import fit
    from clameur.analysis.functional import default_dir

    if not (data_dir / "sentiment").is_dir():
        raise InvalidInputError("no sentiment val data here (use --data DIR)", where=str(data_dir))
    typer.echo(f"fitting calibration on {data_dir} and the functional dev parts…", err=True)
    cal = fit(data_dir, suites_dir or default_dir())
    cal.save(out or DEFAULT_PATH)
    if as_json:
        emit_json(cal.to_dict())
        return
    report = cal.fitted
    for group, r in report["sentiment"]["groups"].items():
        typer.echo(
            f"sentiment {group:<6} T {r['temperature']:.3f}  ECE {r['ece_before']:.3f} → "
            f"{r['ece_after']:.3f}  n {r['n']}"
        )
    for model in ("intent", "toxicity"):
        r = report[model]
        typer.echo(
            f"{model:<16} T {r['temperature']:.3f}  ECE {r['ece_before']:.3f} → "
            f"{r['ece_after']:.3f}  n {r['n']}"
        )
    typer.echo(f"uncertain below: {cal.thresholds}  (validation share {report['uncertain_rate']})")
