"""The streaming CSV reader: physical line numbers, bounded records, unclosed quotes
(issue #14). Every record is either read or reported, at the line it starts on."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from clameur.clock import FrozenClock
from clameur.mentions import LineError
from clameur.mentions.reader import MAX_LINE_BYTES, read_csv
from clameur.pipeline import Pipeline
from tests.conftest import Database, make_tenant

HEADER = b"source,external_id,text,created_at,author_handle\n"


def _row(n: int, text: str = "bonjour") -> bytes:
    return f"twitter,{n},{text},2026-11-16T09:00:00Z,user{n % 13}\n".encode()


def _read(data: bytes) -> list[tuple[int, Any]]:
    return list(read_csv(io.BytesIO(data)))


def _errors(items: list[tuple[int, Any]]) -> dict[int, str]:
    return {line: item.reason for line, item in items if isinstance(item, LineError)}


def _ids_by_line(items: list[tuple[int, Any]]) -> dict[int, str]:
    return {line: item["external_id"] for line, item in items if isinstance(item, dict)}


def test_a_field_over_the_csv_module_default_limit_keeps_later_line_numbers() -> None:
    long_text = "x" * 131_073
    data = HEADER + _row(2) + _row(3, long_text) + b"".join(_row(n) for n in range(4, 11))
    items = _read(data)
    assert [line for line, _ in items] == list(range(2, 11))
    assert _errors(items) == {}
    assert items[1][1]["text"] == long_text
    assert _ids_by_line(items) == {n: str(n) for n in range(2, 11)}, "line n holds id n"


def _two_thousand_rows_with_an_open_quote(tail: bytes = b"") -> tuple[bytes, int]:
    """2,002 rows, ids equal to their line; row 1,001 opens a quote it never closes."""
    rows = []
    broken = 1001
    for line in range(2, 2004):
        if line == broken:
            rows.append(f'twitter,{line},"oh no,2026-11-16T09:00:00Z,u\n'.encode())
        elif line > broken and line % 100 == 0 and tail:
            rows.append(tail.replace(b"N", str(line).encode()))
        else:
            rows.append(_row(line))
    return HEADER + b"".join(rows), broken


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (b"", "unclosed quote: the quoted field opened on lines 1001-2003 never closes"),
        (b'twitter,N,"a, quoted text",2026-11-16T09:00:00Z,u\n', "unreadable CSV record"),
    ],
    ids=["to-end-of-file", "closed-mid-field"],
)
def test_an_unclosed_quote_costs_one_record_and_every_other_row_is_read(
    tail: bytes, reason: str
) -> None:
    data, broken = _two_thousand_rows_with_an_open_quote(tail)
    items = _read(data)
    errors = _errors(items)
    assert list(errors) == [broken]
    assert reason in errors[broken]
    assert len(items) == 2002, "every record read or reported"
    ids = _ids_by_line(items)
    assert ids == {n: str(n) for n in range(2, 2004) if n != broken}


def test_an_open_quote_stops_at_the_record_size_limit() -> None:
    filler = b"".join(_row(n, "y" * 1000) for n in range(3, 3 + 1200))  # > 1 MiB, no quote
    data = HEADER + b'twitter,2,"open,2026-11-16T09:00:00Z,u\n' + filler + _row(1203)
    items = _read(data)
    errors = _errors(items)
    assert list(errors) == [2]
    assert f"runs past {MAX_LINE_BYTES} bytes" in errors[2]
    assert _ids_by_line(items) == {n: str(n) for n in range(3, 1204)}


def test_a_stray_quote_closed_before_a_delimiter_makes_one_record_still_counted() -> None:
    data, broken = _two_thousand_rows_with_an_open_quote(
        b'twitter",N,stray quote,2026-11-16T09:00:00Z,u\n'
    )
    items = _read(data)
    errors = _errors(items)
    assert broken in errors
    assert "more cells than the header" in errors[broken]
    ids = _ids_by_line(items)
    assert len(items) == 2002 - 99, "lines 1001-1100 are one record"
    assert set(ids) == set(range(2, 2004)) - set(range(broken, 1101))


def test_a_wellformed_multiline_record_with_extra_cells_is_one_rejected_record() -> None:
    data = HEADER + b'twitter,2,"two\nlines",2026-11-16T09:00:00Z,u,extra\n' + _row(4)
    items = _read(data)
    assert _errors(items) == {2: "1 more cells than the header has columns"}
    assert _ids_by_line(items) == {4: "4"}


def test_crlf_and_quoted_newlines_count_physical_lines() -> None:
    data = (
        b"source,external_id,text,created_at,author_handle\r\n"
        b'twitter,a,"three\r\nphysical\r\nlines",2026-11-16T09:00:00Z,u\r\n'
        b"twitter,b,plain,2026-11-16T09:00:00Z,u\r\n"
        b"\r\n"
        b'twitter,c,"say ""hi""\nthere",2026-11-16T09:00:00Z,u\r\n'
        b"twitter,d,last,2026-11-16T09:00:00Z,u"  # no final newline
    )
    items = _read(data)
    assert [(line, item["external_id"]) for line, item in items] == [
        (2, "a"),
        (5, "b"),
        (7, "c"),
        (9, "d"),
    ]
    assert items[0][1]["text"] == "three\r\nphysical\r\nlines"
    assert items[2][1]["text"] == 'say "hi"\nthere'
    assert items[1][1]["text"] == "plain"


class _Watched(io.BytesIO):
    """Records the largest piece of the file handed out at once."""

    largest = 0

    def readline(self, size: int | None = -1, /) -> bytes:
        assert size is not None, "a line is never read without a bound"
        assert size > 0, "a line is never read without a bound"
        data = super().readline(size)
        self.largest = max(self.largest, len(data))
        return data

    def read(self, size: int | None = -1, /) -> bytes:
        raise AssertionError("the whole file is never read")


def test_a_line_far_over_the_limit_is_reported_without_being_loaded() -> None:
    huge = b"twitter,2," + b"z" * (8 * MAX_LINE_BYTES) + b",2026-11-16T09:00:00Z,u\n"
    stream = _Watched(HEADER + huge + _row(3))
    items = list(read_csv(stream))
    assert items[0] == (2, LineError(2, f"line longer than {MAX_LINE_BYTES} bytes"))
    assert items[1][0] == 3
    assert items[1][1]["external_id"] == "3"
    assert stream.largest <= MAX_LINE_BYTES + 1


def test_a_too_long_line_inside_an_open_quote_is_reported_again_on_its_own() -> None:
    huge = b"z" * (2 * MAX_LINE_BYTES) + b"\n"
    data = HEADER + b'twitter,2,"open,2026-11-16T09:00:00Z,u\n' + _row(3) + huge + _row(5)
    items = _read(data)
    errors = _errors(items)
    assert list(errors) == [2, 4]
    assert errors[4] == f"line longer than {MAX_LINE_BYTES} bytes"
    assert _ids_by_line(items) == {3: "3", 5: "5"}


def test_an_unreadable_header_is_reported_once_and_nothing_else_is_guessed() -> None:
    items = _read(b'source,"external_id\n' + _row(2) + _row(3))
    assert len(items) == 1
    line, error = items[0]
    assert line == 1
    assert isinstance(error, LineError)
    assert error.reason.startswith("unreadable CSV header: unclosed quote")
    assert _read(b"") == []
    assert _read(HEADER) == []


def test_counts_add_up_through_the_import(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    data, broken = _two_thousand_rows_with_an_open_quote(
        b'twitter,N,"a, quoted text",2026-11-16T09:00:00Z,u\n'
    )
    data += b"twitter,late," + b"x" * 131_073 + b",2026-11-16T09:00:00Z,u\n" + _row(2005)
    path = tmp_path / "rows.csv"
    path.write_bytes(data)
    result = pipeline.import_file(path, tenant="acme")
    assert result.rejected == 2
    assert [e["line"] for e in sorted(result.errors, key=lambda e: e["line"])] == [broken, 2004]
    assert "longer than 100000 characters" in result.errors[-1]["reason"]
    assert result.imported + result.updated + result.unchanged == 2002 - 1 + 1
    assert result.imported + result.rejected == 2004, "every record imported or reported"
