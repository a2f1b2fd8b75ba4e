"""``clameur train …`` and ``clameur eval …``: the project's own models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    from clameur.analysis.model_base import read_rows

    rows = [(r.text, r.label) for r in read_rows(path, labels)]
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
    _evaluate_model(kind, file, as_json)


def _evaluate_model(kind: str, file: Path, as_json: bool) -> None:
    """``clameur eval sentiment|intent|toxicity FILE``: one path for every model."""
    from clameur.analysis.model_base import LabelledRow, evaluate, model_class

    model = model_class(kind).load()
    rows = [LabelledRow(text=t, label=label) for t, label in read_labelled(file, model.labels)]
    result = evaluate(model, rows)
    if as_json:
        emit_json(result)
        return
    typer.echo(
        f"macro-F1 {result['macro_f1']:.3f}  accuracy {result['accuracy']:.3f}  "
        f"n {result['n']}  {result['per_second']:.0f} texts/s"
    )
    width = max(len(label) for label in model.labels) + 2
    for label, figures in result["per_class"].items():
        typer.echo(
            f"  {label:<{width}}P {figures['precision']:.3f}  R {figures['recall']:.3f}  "
            f"F1 {figures['f1']:.3f}  n {figures['support']}"
        )


def _train(kind: str, announce: str, **options: Any) -> None:
    """``clameur train KIND``: one path for every model (extra checked, ``announce`` on
    stderr, artifact written, headline figures printed as ``name<TAB>value``)."""
    from clameur.analysis.model_base import model_class, require_training_extra, trainer

    require_training_extra(kind, word_vectors=bool(options.get("word_vectors", True)))
    typer.echo(announce, err=True)
    if options.get("out") is None:
        options["out"] = model_class(kind).default_artifact
    manifest = trainer(kind)(**options)
    for name, value in manifest["metrics"]["headline"].items():
        typer.echo(f"{name}\t{value:.3f}")


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
    """Train the sentiment model (tweets + customer-care lines), write the artifact."""
    from clameur.analysis.care_data import CARE_DIR
    from clameur.analysis.sentiment_train import TRAIN_LANGUAGES  # light: no extra at import

    if not (data_dir / "sentiment").is_dir():
        raise ClameurError(f"no sentiment data under {data_dir} (use --data DIR)")
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
    _train(
        "sentiment",
        f"training sentiment on {data_dir} (2–5 minutes; word vectors are cached)…",
        word_vectors=word_vectors,
        data_dir=data_dir,
        seed=seed,
        out=out,
        max_rows_per_language=max_rows,
        languages=chosen,
        care_dir=cares,
        care_heads=care_heads,
        **({} if care_weight is None else {"care_weight": care_weight}),
    )


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
    """Train the intent model (seed and care sets + mapped English datasets), write the
    artifact."""
    from clameur.analysis.care_data import CARE_DIR
    from clameur.analysis.intent_train import SEED_DIR  # light: no extra at import

    seeds = seed_dir or SEED_DIR
    if not (seeds / "intent_seed_fr.jsonl").is_file():
        raise ClameurError(f"no intent_seed_fr.jsonl in {seeds} (use --seed-dir DIR)")
    if not (data_dir / "intent").is_dir():
        raise ClameurError(f"no intent data under {data_dir} (use --data DIR)")
    cares = _care_folder(care_dir, care, CARE_DIR)
    _train(
        "intent",
        f"training intent on {seeds} and {data_dir} (about a minute)…",
        data_dir=data_dir,
        seed=seed,
        seed_dir=seeds,
        out=out,
        care_dir=cares,
        care_weight=care_weight,
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
    """Train the toxicity model (and the plain n-gram baseline), write the artifact."""
    if not (data_dir / "toxicity" / "mlma").is_dir():
        raise ClameurError(f"no toxicity/mlma data under {data_dir} (use --data DIR)")
    for path in eval_files or []:
        read_labelled(path, ("toxic", "normal"))  # a bad file fails before training
    _train(
        "toxicity",
        f"training toxicity on {data_dir} (about a minute)…",
        data_dir=data_dir,
        seed=seed,
        out=out,
        extra_eval=eval_files or [],
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
