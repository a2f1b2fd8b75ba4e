"""Streaming readers for the import formats (JSON Lines and CSV).

Each yields ``(line, record)`` or ``(line, LineError)`` one at a time, so memory stays flat
whatever the file size, and one bad line never stops the others.
"""

from __future__ import annotations

import csv
import json
import re
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
        if _LONG_DIGITS.search(text) and (reason := _beyond_64_bits(text)):
            yield line_no, LineError(line_no, reason)
            continue
        yield line_no, record


_LONG_DIGITS: Final = re.compile(r"\d{19,}")
_INT_MIN: Final = -(1 << 63)
_INT_MAX: Final = (1 << 64) - 1


class _BigInteger(Exception):
    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _exact_int(literal: str) -> int:
    value = int(literal)
    if not _INT_MIN <= value <= _INT_MAX:
        raise _BigInteger(literal)
    return value


def _beyond_64_bits(text: str) -> str | None:
    """Why the line cannot be kept, when it holds an integer that the JSON parser would
    silently turn into a float (beyond the 64-bit range): None when it holds none.

    Only called when a run of 19 digits appears somewhere: the exact parse is slower.
    """
    try:
        json.loads(text, parse_int=_exact_int)
    except _BigInteger as exc:
        key = _top_level_key(text, max(text.find(exc.literal), 0))
        where = f"field {key[:60]!r} holds " if key is not None else "holds "
        shown = exc.literal if len(exc.literal) <= 30 else f"{exc.literal[:27]}..."
        return (
            f"{where}the integer {shown}, beyond the 64-bit range: it cannot be kept "
            "exactly (write it as a string)"
        )
    except (RecursionError, ValueError):
        return "nests too deeply to check its integers"
    return None


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
        if value == "":
            continue
        for name, prefix in _CSV_NESTED.items():
            if key.startswith(prefix):
                nested.setdefault(name, {})[key[len(prefix) :]] = value
                break
        else:
            record[key] = value
    record.update(nested)
    return record


class _RecordTooLong(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _PhysicalLines:
    """The physical lines of a CSV file for :func:`csv.reader`, one at a time.

    Counts lines (so a record's number is the physical line it starts on, whatever quoted
    newlines it holds), bounds a record to :data:`MAX_LINE_BYTES` (a longer physical line
    is skipped in chunks, never loaded) and keeps the lines of the record being read, so
    that the lines after the first of a record that could not be read can be judged again.
    """

    _TOO_LONG: Final = None  # in ``record``: a physical line that was too long to keep

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.line = 0
        """Number of the last physical line handed out."""
        self.record: list[bytes | None] = []
        self.size = 0
        self.pending: list[bytes | None] = []  # reversed: the next line to hand out last

    def begin(self) -> int:
        """Start a record; returns the number of its first line."""
        self.record, self.size = [], 0
        return self.line + 1

    def replay_after_first(self) -> None:
        """Hand out again every line of the current record but its first."""
        again = self.record[1:]
        self.pending.extend(reversed(again))
        self.line -= len(again)
        self.record, self.size = self.record[:1], 0

    def __iter__(self) -> _PhysicalLines:
        return self

    def __next__(self) -> str:
        if self.pending:
            data = self.pending.pop()
        else:
            data = self.stream.readline(MAX_LINE_BYTES + 1)
            if not data:
                raise StopIteration
            if len(data) > MAX_LINE_BYTES and not data.endswith(b"\n"):
                _skip_rest_of_line(self.stream)
                data = self._TOO_LONG
            elif self.line == 0 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
        self.line += 1
        self.record.append(data)
        if data is self._TOO_LONG:
            raise _RecordTooLong(f"line {self.line} is longer than {MAX_LINE_BYTES} bytes")
        self.size += len(data)
        if self.size > MAX_LINE_BYTES:
            raise _RecordTooLong(f"record longer than {MAX_LINE_BYTES} bytes")
        return data.decode("utf-8", errors="surrogateescape")


def _csv_reason(exc: Exception, start: int, lines: int) -> str:
    span = f"lines {start}-{start + lines - 1}" if lines > 1 else f"line {start}"
    if isinstance(exc, _RecordTooLong):
        if lines == 1:
            return f"line longer than {MAX_LINE_BYTES} bytes"
        return (
            f"record starting on line {start} runs past {MAX_LINE_BYTES} bytes (an unclosed quote?)"
        )
    message = str(exc)
    if "unexpected end of data" in message:
        return f"unclosed quote: the quoted field opened on {span} never closes (end of file)"
    if lines > 1:
        return f"unreadable CSV record ({span}): {message} (an unclosed quote?)"
    return f"unreadable CSV row: {message}"


def read_csv(stream: BinaryIO) -> Iterator[ReadItem]:
    """CSV with a header row; ``author_*`` and ``metrics_*`` columns are nested back.

    Streams physical lines; a record (which quoted newlines may spread over several lines)
    is numbered by the line it starts on, and bounded like a JSONL line. A record spanning
    several lines that the CSV parser cannot read — a quote left open to the size limit or
    to the end of the file, a quote closing in the wrong place — is rejected at its first
    line, and the lines after that first one are read again as records of their own: an
    unclosed quote costs one record, never the rest of the file. A record the parser reads
    is judged as one record, whatever it holds.
    """
    if csv.field_size_limit() < MAX_LINE_BYTES:
        csv.field_size_limit(MAX_LINE_BYTES)  # the record bound below is the real limit
    lines = _PhysicalLines(stream)
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    while True:
        start = lines.begin()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, _RecordTooLong) as exc:
            reason = _csv_reason(exc, start, len(lines.record))
            if header is None:
                reason = reason.removeprefix("unreadable CSV row: ")
                yield start, LineError(start, f"unreadable CSV header: {reason}")
                return
            yield start, LineError(start, reason)
            lines.replay_after_first()
            reader = csv.reader(lines, strict=True)  # a fresh parser state
            continue
        if not cells:
            continue  # a blank line is no record
        if header is None:
            header = cells
            continue
        try:
            yield start, _row(header, cells)
        except ValueError as exc:
            yield start, LineError(start, str(exc))


def _row(header: list[str], cells: list[str]) -> dict[str, Any]:
    if len(cells) > len(header):
        raise ValueError(f"{len(cells) - len(header)} more cells than the header has columns")
    for key, value in zip(header, cells, strict=False):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"invalid UTF-8 in column {key!r}") from None
    return _unflatten(dict(zip(header, cells, strict=False)))


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
