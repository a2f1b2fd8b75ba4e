"""The project's customer-care training lines (``training/care_{fr,en,nl}.jsonl``; training only).

Each line is ``{"text", "sentiment", "intent"}``: one text, labelled for both the sentiment
and the intent model (see ``training/README.md`` for what the labels mean). Both trainers hold
out the same seeded 20 %, stratified by language, sentiment and intent
(:func:`split_care`), so no held-out line is ever trained on by either model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from clameur.analysis.intent import LABELS as INTENT_LABELS
from clameur.analysis.model_base import RowsError, json_lines
from clameur.analysis.sentiment import LABELS as SENTIMENT_LABELS

REPO_ROOT = Path(__file__).resolve().parents[3]
CARE_DIR = REPO_ROOT / "training"
"""Where ``care_<lang>.jsonl`` live (the repository's ``training/``, not shipped)."""
CARE_LANGUAGES: tuple[str, ...] = ("fr", "en", "nl")
VAL_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class CareRow:
    text: str
    sentiment: str
    intent: str
    language: str


def read_care(path: Path, language: str) -> list[CareRow]:
    """Read one ``care_<lang>.jsonl``; a bad line stops with its number and reason."""
    rows: list[CareRow] = []
    for where, obj in json_lines(path):
        if not isinstance(obj.get("text"), str):
            raise RowsError("expected an object with a string 'text'", where=where)
        for field, labels in (("sentiment", SENTIMENT_LABELS), ("intent", INTENT_LABELS)):
            if obj.get(field) not in labels:
                raise RowsError(
                    f"{field} {obj.get(field)!r} is not one of {', '.join(labels)}", where=where
                )
        rows.append(CareRow(obj["text"], obj["sentiment"], obj["intent"], language))
    return rows


def care_files(
    care_dir: Path = CARE_DIR, languages: Iterable[str] = CARE_LANGUAGES
) -> dict[str, Path]:
    """``{language: path}`` of the care files present in ``care_dir``."""
    return {
        lang: care_dir / f"care_{lang}.jsonl"
        for lang in languages
        if (care_dir / f"care_{lang}.jsonl").is_file()
    }


def split_care(
    rows: Sequence[CareRow], seed: int, val_share: float = VAL_SHARE
) -> tuple[list[CareRow], list[CareRow]]:
    """Seeded ``(train, val)`` split, stratified by language, sentiment and intent.

    Every group of at least two lines keeps one in train and gives ``round(share × n)`` (at
    least one) to val: the lines whose seeded hash of their text ranks first. So adding lines
    to a file moves few held-out lines (only within the groups that grew), and a line's side
    never depends on its position. The order within each part is the file's order.
    """
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row.language, row.sentiment, row.intent), []).append(i)
    val_idx: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        n_val = min(len(members) - 1, max(1, int(round(len(members) * val_share))))
        ranked = sorted(members, key=lambda i: (_rank(seed, rows[i].text), i))
        val_idx.update(ranked[:n_val])
    train = [r for i, r in enumerate(rows) if i not in val_idx]
    val = [r for i, r in enumerate(rows) if i in val_idx]
    return train, val


def _rank(seed: int, text: str) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{text}".encode(), digest_size=8).digest()


def load_care(
    care_dir: Path = CARE_DIR, seed: int = 0, languages: Iterable[str] = CARE_LANGUAGES
) -> tuple[list[CareRow], list[CareRow]]:
    """Every present care file of ``languages``, split by :func:`split_care`."""
    rows = [
        row
        for lang, path in care_files(care_dir, languages).items()
        for row in read_care(path, lang)
    ]
    return split_care(rows, seed)
