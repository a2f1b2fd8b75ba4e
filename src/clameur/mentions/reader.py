"""Streaming readers for the import formats (JSON Lines and CSV).

Each yields ``(line, record)`` or ``(line, LineError)`` one at a time, so memory stays flat
whatever the file size, and one bad line never stops the others.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import orjson

from clameur.errors import InvalidInputError

MAX_LINE_BYTES: Final = 1 << 20  # 1 MiB: a longer line is reported, not loaded


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    reason: str


ReadItem = tuple[int, dict[str, Any] | LineError]


def _skip_rest_of_line(stream: BinaryIO) -> None:
    while True:
        chunk = stream.readline(MAX_LINE_BYTES)
        if not chunk or chunk.endswith(b"\n"):
            return


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-8 at byte {exc.start + 1} of the line") from None


def read_jsonl(stream: BinaryIO) -> Iterator[ReadItem]:
    line_no = 0
    while True:
        data = stream.readline(MAX_LINE_BYTES + 1)
        if not data:
            return
        line_no += 1
        if len(data) > MAX_LINE_BYTES and not data.endswith(b"\n"):
            _skip_rest_of_line(stream)
            yield line_no, LineError(line_no, f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if not data.strip():
            continue  # blank lines are not records
        if line_no == 1 and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = _utf8(data)
        except ValueError as exc:
            yield line_no, LineError(line_no, str(exc))
            continue
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield line_no, LineError(line_no, _json_error(text, exc))
            continue
        if not isinstance(record, dict):
            kind = type(record).__name__
            yield line_no, LineError(line_no, f"expected a JSON object, got {kind}")
            continue
        yield line_no, record


def _json_error(text: str, exc: orjson.JSONDecodeError) -> str:
    reason = f"not valid JSON: {exc.msg} at column {exc.colno}"
    if "depth limit" not in exc.msg:
        return reason
    key = _top_level_key(text, exc.pos)
    where = f"field {key[:60]!r} " if key is not None else ""
    return f"{where}nests too deeply ({reason})"


def _top_level_key(text: str, end: int) -> str | None:
    """The key of the top-level member that ``text[end]`` lies in, by a plain scan."""
    depth, key, i = 0, None, 0
    end = min(end, len(text))
    while i < end:
        char = text[i]
        if char == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if depth == 1 and text[j + 1 : j + 2 + 16].lstrip().startswith(":"):
                try:
                    key = orjson.loads(text[i : j + 1])
                except orjson.JSONDecodeError:
                    key = text[i + 1 : j]
            i = j + 1
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        i += 1
    return key if isinstance(key, str) else None


_CSV_NESTED: Final = {"author": "author_", "metrics": "metrics_"}


def _unflatten(row: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in row.items():
        if key is None:  # more cells than headers
            raise ValueError(f"{len(value)} more cells than the header has columns")
        if value == "" or value is None:
            continue
        for name, prefix in _CSV_NESTED.items():
            if key.startswith(prefix):
                nested.setdefault(name, {})[key[len(prefix) :]] = value
                break
        else:
            record[key] = value
    record.update(nested)
    return record


def read_csv(stream: BinaryIO) -> Iterator[ReadItem]:
    """CSV with a header row; ``author_*`` and ``metrics_*`` columns are nested back."""
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    try:
        if reader.fieldnames is None:
            return
    except csv.Error as exc:
        yield 1, LineError(1, f"unreadable CSV header: {exc}")
        return
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, LineError(start, f"unreadable CSV row: {exc}")
            start = reader.line_num + 1
            continue
        line_no, start = start, reader.line_num + 1
        try:
            for key, value in row.items():
                if isinstance(value, str):
                    try:
                        value.encode("utf-8")
                    except UnicodeEncodeError:
                        raise ValueError(f"invalid UTF-8 in column {key!r}") from None
            yield line_no, _unflatten(row)
        except ValueError as exc:
            yield line_no, LineError(line_no, str(exc))


Reader = Callable[[BinaryIO], Iterator[ReadItem]]


def reader_for(path: Path, fmt: str | None = None) -> Reader:
    kind = (fmt or path.suffix.lstrip(".")).lower()
    if kind in {"jsonl", "ndjson", "json"}:
        return read_jsonl
    if kind == "csv":
        return read_csv
    raise InvalidInputError(
        f"unknown import format {kind!r}: use .jsonl or .csv (or --format)", where=str(path)
    )
