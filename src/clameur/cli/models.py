"""``clameur train …`` and ``clameur eval …``: the project's own models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from clameur.cli.output import emit_json
from clameur.errors import ClameurError, InvalidInputError

train_app = typer.Typer(help="Train the analysis models from ../shared/data.", no_args_is_help=True)
DEFAULT_DATA = Path("..") / "shared" / "data"


def read_labelled(path: Path, labels: tuple[str, ...]) -> list[tuple[str, str]]:
    """A ``{text, label}`` JSONL file; the first bad line stops with its number and reason."""
    rows: list[tuple[str, str]] = []
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidInputError(f"cannot open: {exc.strerror}", where=str(path)) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidInputError(f"not a JSON line ({exc})", where=where) from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise InvalidInputError("expected an object with a string 'text'", where=where)
            if obj.get("label") not in labels:
                got = obj.get("label")
                raise InvalidInputError(
                    f"label {got!r} is not one of {', '.join(labels)}", where=where
                )
            rows.append((obj["text"], obj["label"]))
    if not rows:
        raise InvalidInputError("no labelled line", where=str(path))
    return rows


def evaluate_command(
    kind: Annotated[str, typer.Argument(help="sentiment or toxicity")],
    file: Annotated[Path, typer.Argument(help="JSON Lines of {text, label}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Score a model on a labelled file: macro-F1, accuracy, throughput, per class."""
    if kind != "sentiment":
        if kind == "toxicity":
            raise ClameurError("no toxicity model yet (issue #4): only 'sentiment' can be scored")
        raise ClameurError(f"unknown model {kind!r}: use sentiment or toxicity")
    from clameur.analysis.sentiment import LABELS, Row, SentimentModel, evaluate

    rows = [Row(text=t, label=label) for t, label in read_labelled(file, LABELS)]
    result = evaluate(SentimentModel.load(), rows)
    if as_json:
        emit_json(result)
        return
    typer.echo(
        f"macro-F1 {result['macro_f1']:.3f}  accuracy {result['accuracy']:.3f}  "
        f"n {result['n']}  {result['per_second']:.0f} texts/s"
    )
    for label, figures in result["per_class"].items():
        typer.echo(f"  {label:<10} P {figures['precision']:.3f}  R {figures['recall']:.3f}  "
                   f"F1 {figures['f1']:.3f}  n {figures['support']}")  # fmt: skip


@train_app.command("sentiment")
def train_sentiment_command(
    data_dir: Annotated[
        Path, typer.Option("--data", help="The shared data folder.")
    ] = DEFAULT_DATA,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Artifact path (default: shipped).")] = None,
) -> None:
    """Train the sentiment model and write the artifact and its metadata."""
    from clameur.analysis.sentiment import DEFAULT_ARTIFACT, train_and_save

    if not (data_dir / "sentiment").is_dir():
        raise ClameurError(f"no sentiment data under {data_dir} (use --data DIR)")
    typer.echo(f"training sentiment on {data_dir} (about a minute)…", err=True)
    meta = train_and_save(data_dir, seed=seed, out=out or DEFAULT_ARTIFACT)
    for lang, value in meta["val_macro_f1"].items():
        typer.echo(f"{lang}\t{value:.3f}")
    typer.echo(f"avg\t{meta['val_macro_f1_average']:.3f}")
