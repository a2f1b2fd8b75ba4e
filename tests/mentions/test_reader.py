from __future__ import annotations

import io

from clameur.mentions import LineError
from clameur.mentions.reader import MAX_LINE_BYTES, read_csv, read_jsonl


def _read(data: bytes) -> list[tuple[int, object]]:
    return list(read_jsonl(io.BytesIO(data)))


def test_jsonl_reports_each_bad_line_and_keeps_going() -> None:
    data = b"\n".join(
        [
            b'{"a": 1}',
            b"not json",
            b'{"t": "\xff"}',
            b"[1, 2]",
            b"",
            b"x" * (MAX_LINE_BYTES + 10),
            b'{"b": 2}',
        ]
    )
    items = _read(data + b"\n")
    assert items[0] == (1, {"a": 1})
    errors = {line: item.reason for line, item in items if isinstance(item, LineError)}
    assert errors[2].startswith("not valid JSON")
    assert errors[3] == "invalid UTF-8 at byte 8 of the line"
    assert errors[4] == "expected a JSON object, got list"
    assert errors[6] == f"line longer than {MAX_LINE_BYTES} bytes"
    assert items[-1] == (7, {"b": 2}), "blank line 5 skipped, numbering kept"


def test_jsonl_accepts_a_bom_and_a_missing_final_newline() -> None:
    assert _read(b'\xef\xbb\xbf{"a": 1}\n{"b": 2}') == [(1, {"a": 1}), (2, {"b": 2})]


def test_csv_nests_author_and_metrics_columns_and_counts_physical_lines() -> None:
    data = (
        "source,external_id,text,created_at,author_handle,author_followers,metrics_likes\n"
        'twitter,1,"two\nlines",2026-11-16T09:00:00Z,bob,10,3\n'
        "twitter,2,\xe9t\xe9,2026-11-16T09:00:00Z,ann,,\n"
    ).encode()
    data += b"twitter,3,\xff,2026-11-16T09:00:00Z,zed,1,1\n"
    data += b"twitter,4,a,b,c,d,e,f,g\n"
    items = list(read_csv(io.BytesIO(data)))
    assert items[0] == (
        2,
        {
            "source": "twitter",
            "external_id": "1",
            "text": "two\nlines",
            "created_at": "2026-11-16T09:00:00Z",
            "author": {"handle": "bob", "followers": "10"},
            "metrics": {"likes": "3"},
        },
    )
    assert items[1][0] == 4
    assert items[1][1]["text"] == "été"  # type: ignore[index]
    assert items[2] == (5, LineError(5, "invalid UTF-8 in column 'text'"))
    assert items[3] == (6, LineError(6, "2 more cells than the header has columns"))


def test_a_line_nested_past_the_json_depth_limit_names_its_field() -> None:
    deep = b'{"source": "twitter", "note": "a:b", "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"
    good = b'{"source": "twitter"}\n'
    items = list(read_jsonl(io.BytesIO(good + deep + good)))
    assert [line for line, _ in items] == [1, 2, 3]
    error = items[1][1]
    assert isinstance(error, LineError)
    assert error.line == 2
    assert error.reason.startswith("field 'deep' nests too deeply")
    assert items[0][1] == items[2][1] == {"source": "twitter"}


def test_an_integer_beyond_64_bits_is_reported_not_turned_into_a_float() -> None:
    data = (
        b'{"a": 1, "big": 18446744073709551616}\n'
        b'{"n": -9223372036854775809}\n'
        b'{"edge": 18446744073709551615, "low": -9223372036854775808, '
        b'"s": "123456789012345678901234567"}\n'
    )
    items = _read(data)
    assert items[0] == (
        1,
        LineError(
            1,
            "field 'big' holds the integer 18446744073709551616, beyond the 64-bit range: "
            "it cannot be kept exactly (write it as a string)",
        ),
    )
    assert isinstance(items[1][1], LineError)
    assert "field 'n' holds the integer -9223372036854775809" in items[1][1].reason
    record = items[2][1]
    assert record == {
        "edge": 18446744073709551615,
        "low": -9223372036854775808,
        "s": "123456789012345678901234567",
    }
    assert isinstance(record["edge"], int)  # type: ignore[index]
