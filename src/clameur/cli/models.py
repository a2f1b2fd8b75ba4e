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


# The options both `train sentiment` and `train intent` take.
CareDir = Annotated[
    Path | None,
    typer.Option("--care-dir", help="Folder of care_<lang>.jsonl (default: the repo's)."),
]
UseCare = Annotated[
    bool, typer.Option("--care/--no-care", help="Train on the customer-care lines too.")
]
CareWeight = Annotated[
    float | None,
    typer.Option(
        "--care-weight",
        min=0.0,
        help="Weight of a care line against a tweet or seed line (1; default: shipped).",
    ),
]


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
    kind: Annotated[str, typer.Argument(help="sentiment, toxicity, intent or functional")],
    file: Annotated[
        Path | None, typer.Argument(help="JSON Lines of {text, label} (not for functional).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    suite: Annotated[
        str, typer.Option(help="functional: sentiment, intent, toxicity or all.")
    ] = "all",
    split: Annotated[str, typer.Option(help="functional: dev or test.")] = "test",
    suites_dir: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="functional: the suites folder (default: tests/data/functional)."
        ),
    ] = None,
) -> None:
    """Score a model on a labelled file (macro-F1, accuracy, throughput, per class), or the
    shipped models on the functional suites (``eval functional``: per capability)."""
    if kind == "functional":
        _evaluate_functional(suite, split, suites_dir, as_json)
        return
    if file is None:
        raise InvalidInputError(f"eval {kind} needs a FILE of {{text, label}} lines", where="FILE")
    if kind == "intent":
        _evaluate_intent(file, as_json)
        return
    if kind == "toxicity":
        _evaluate_toxicity(file, as_json)
        return
    if kind != "sentiment":
        raise ClameurError(f"unknown model {kind!r}: use sentiment, toxicity or intent")
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
        typer.echo(
            f"  {label:<10} P {figures['precision']:.3f}  R {figures['recall']:.3f}  "
            f"F1 {figures['f1']:.3f}  n {figures['support']}"
        )


@train_app.command("sentiment")
def train_sentiment_command(
    data_dir: Annotated[
        Path, typer.Option("--data", help="The shared data folder.")
    ] = DEFAULT_DATA,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Artifact path (default: shipped).")] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(
            "--max-rows", min=100, help="Train on at most N rows per language (a quick run)."
        ),
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option("--languages", help="Comma-separated language codes (default: all eight)."),
    ] = None,
    word_vectors: Annotated[
        bool,
        typer.Option(
            "--word-vectors/--no-word-vectors",
            help="Add the word-vector features (spaCy, sentence encoder): slower, better.",
        ),
    ] = True,
    care_dir: CareDir = None,
    care: UseCare = True,
    care_weight: CareWeight = None,
    care_heads: Annotated[
        bool,
        typer.Option(
            "--care-heads/--no-care-heads",
            help="French and English care lines get heads of their own (the shipped model).",
        ),
    ] = True,
) -> None:
    """Train the sentiment model (tweets + customer-care lines), write artifact + metadata."""
    from clameur.analysis.care_data import CARE_DIR
    from clameur.analysis.sentiment import DEFAULT_ARTIFACT
    from clameur.analysis.sentiment_train import CARE_WEIGHT, TRAIN_LANGUAGES, train_and_save

    if not (data_dir / "sentiment").is_dir():
        raise ClameurError(f"no sentiment data under {data_dir} (use --data DIR)")
    typer.echo(
        f"training sentiment on {data_dir} (2–5 minutes; word vectors are cached)…", err=True
    )
    chosen = TRAIN_LANGUAGES
    if languages is not None:
        chosen = tuple(code.strip() for code in languages.split(",") if code.strip())
        unknown = sorted(set(chosen) - set(TRAIN_LANGUAGES))
        if unknown or not chosen:
            raise InvalidInputError(
                f"--languages takes codes among {', '.join(TRAIN_LANGUAGES)}; got {languages!r}",
                where="languages",
            )
    cares = _care_folder(care_dir, care, CARE_DIR)
    meta = train_and_save(
        data_dir,
        seed=seed,
        out=out or DEFAULT_ARTIFACT,
        max_rows_per_language=max_rows,
        languages=chosen,
        word_vectors=word_vectors,
        care_dir=cares,
        care_weight=CARE_WEIGHT if care_weight is None else care_weight,
        care_heads=care_heads,
    )
    for lang, value in meta["val_macro_f1"].items():
        typer.echo(f"{lang}\t{value:.3f}")
    if meta["val_macro_f1_average"] is not None:
        typer.echo(f"avg\t{meta['val_macro_f1_average']:.3f}")
    for lang, figures in meta["care_val"].items():
        typer.echo(f"care_{lang}\t{figures['macro_f1']:.3f}")


def _care_folder(care_dir: Path | None, care: bool, default: Path) -> Path | None:
    """The folder of the care sets to train on (``None`` with ``--no-care``)."""
    if not care:
        return None
    folder = care_dir or default
    if not any((folder / f"care_{lang}.jsonl").is_file() for lang in ("fr", "en", "nl")):
        raise InvalidInputError(
            "no care_fr.jsonl, care_en.jsonl or care_nl.jsonl (use --care-dir DIR or --no-care)",
            where=str(folder),
        )
    return folder


def _evaluate_intent(file: Path, as_json: bool) -> None:
    from clameur.analysis.intent import LABELS, IntentModel, Row, evaluate

    rows = [Row(text=t, label=label) for t, label in read_labelled(file, LABELS)]
    result = evaluate(IntentModel.load(), rows)
    if as_json:
        emit_json(result)
        return
    typer.echo(
        f"macro-F1 {result['macro_f1']:.3f}  accuracy {result['accuracy']:.3f}  "
        f"n {result['n']}  {result['per_second']:.0f} texts/s"
    )
    for label, figures in result["per_class"].items():
        typer.echo(
            f"  {label:<12} P {figures['precision']:.3f}  R {figures['recall']:.3f}  "
            f"F1 {figures['f1']:.3f}  n {figures['support']}"
        )


@train_app.command("intent")
def train_intent_command(
    data_dir: Annotated[
        Path, typer.Option("--data", help="The shared data folder (English intent sets).")
    ] = DEFAULT_DATA,
    seed: Annotated[int, typer.Option(help="Random seed (also picks the held-out 25 %).")] = 0,
    seed_dir: Annotated[
        Path | None,
        typer.Option("--seed-dir", help="Folder of intent_seed_{fr,en}.jsonl (default: repo)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Artifact path (default: shipped).")] = None,
    care_dir: CareDir = None,
    care: UseCare = True,
    care_weight: CareWeight = None,
) -> None:
    """Train the intent model (seed and care sets + mapped English datasets), write artifact
    + metadata."""
    from clameur.analysis.care_data import CARE_DIR
    from clameur.analysis.intent import DEFAULT_ARTIFACT
    from clameur.analysis.intent_train import SEED_DIR, train_and_save

    seeds = seed_dir or SEED_DIR
    if not (seeds / "intent_seed_fr.jsonl").is_file():
        raise ClameurError(f"no intent_seed_fr.jsonl in {seeds} (use --seed-dir DIR)")
    if not (data_dir / "intent").is_dir():
        raise ClameurError(f"no intent data under {data_dir} (use --data DIR)")
    typer.echo(f"training intent on {seeds} and {data_dir} (about a minute)…", err=True)
    meta = train_and_save(
        data_dir,
        seed=seed,
        seed_dir=seeds,
        out=out or DEFAULT_ARTIFACT,
        care_dir=_care_folder(care_dir, care, CARE_DIR),
        care_weight=care_weight,
    )
    for name, figures in meta["metrics"].items():
        typer.echo(f"{name}\t{figures['macro_f1']:.3f}")


def _evaluate_toxicity(file: Path, as_json: bool) -> None:
    from clameur.analysis.toxicity import LABELS, Row, ToxicityModel, evaluate

    rows = [Row(text=t, label=label) for t, label in read_labelled(file, LABELS)]
    result = evaluate(ToxicityModel.load(), rows)
    if as_json:
        emit_json(result)
        return
    typer.echo(
        f"macro-F1 {result['macro_f1']:.3f}  accuracy {result['accuracy']:.3f}  "
        f"n {result['n']}  {result['per_second']:.0f} texts/s"
    )
    for label, figures in result["per_class"].items():
        typer.echo(
            f"  {label:<10} P {figures['precision']:.3f}  R {figures['recall']:.3f}  "
            f"F1 {figures['f1']:.3f}  n {figures['support']}"
        )


@train_app.command("toxicity")
def train_toxicity_command(
    data_dir: Annotated[
        Path, typer.Option("--data", help="The shared data folder.")
    ] = DEFAULT_DATA,
    seed: Annotated[int, typer.Option(help="Random seed (also picks the held-out 15 %).")] = 0,
    out: Annotated[Path | None, typer.Option(help="Artifact path (default: shipped).")] = None,
    eval_files: Annotated[
        list[Path] | None,
        typer.Option("--eval", help="Also score this {text, label} file (model and baseline)."),
    ] = None,
) -> None:
    """Train the toxicity model (and the plain n-gram baseline), write artifact + metadata."""
    from clameur.analysis.toxicity import DEFAULT_ARTIFACT, train_and_save

    if not (data_dir / "toxicity" / "mlma").is_dir():
        raise ClameurError(f"no toxicity/mlma data under {data_dir} (use --data DIR)")
    for path in eval_files or []:
        read_labelled(path, ("toxic", "normal"))  # a bad file fails before training
    typer.echo(f"training toxicity on {data_dir} (about a minute)…", err=True)
    meta = train_and_save(
        data_dir, seed=seed, out=out or DEFAULT_ARTIFACT, extra_eval=eval_files or []
    )
    for lang, value in meta["val_macro_f1"].items():
        typer.echo(f"{lang}\t{value:.3f}\tbaseline {meta['baseline']['val_macro_f1'][lang]:.3f}")
    for name, figures in meta["extra_eval"].items():
        typer.echo(
            f"{name}\t{figures['model_macro_f1']:.3f}\tbaseline {figures['baseline_macro_f1']:.3f}"
        )


def _evaluate_functional(suite: str, split: str, suites_dir: Path | None, as_json: bool) -> None:
    from clameur.analysis.functional import SUITES, default_dir, run

    suites = SUITES if suite == "all" else (suite,)
    result = run(suites_dir or default_dir(), suites, split)
    if as_json:
        emit_json(result)
        return
    typer.echo(f"functional suites, {split} part ({result['dir']})")
    for name, report in result["suites"].items():
        detected = ", ".join(
            f"{code} {count}"
            for code, count in sorted(report["languages_detected"].items(), key=lambda kv: -kv[1])
        )
        typer.echo(
            f"{name:<14} macro-F1 {report['macro_f1']:.3f}  accuracy {report['accuracy']:.3f}  "
            f"n {report['n']}  (language detected: {detected})"
        )
        for cap, figures in report["per_capability"].items():
            typer.echo(f"  {cap:<22} {figures['accuracy']:.3f}  n {figures['n']}")
    if (unseen := result.get("unseen")) is not None:
        typer.echo(
            f"unseen languages: n {unseen['n']}  uncertain {unseen['uncertain']}  "
            f"confident (≥ 0.6) {unseen['confident']}  "
            f"mean confidence {unseen['mean_confidence']:.3f}"
        )
        for lang, entry in unseen["per_language"].items():
            detected = ", ".join(f"{c} {k}" for c, k in entry["detected"].items())
            sentiments = ", ".join(f"{c} {k}" for c, k in entry["sentiment"].items())
            typer.echo(f"  {lang}: detected {detected}; sentiment {sentiments}")
