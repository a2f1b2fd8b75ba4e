"""Fuzzing the import (issue #14): hostile JSON Lines and CSV next to good lines.

Whatever the file holds — deep nesting, extreme dates and numbers, bidi and control
characters, bad UTF-8 — the import never crashes, every record is imported or reported,
the counts add up, and the good lines beside the bad ones are imported intact.
Runs in process on SQLite (the profile ``import-ci``: 500 examples; see conftest.py).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.tenancy import add_tenant, get_tenant

PROFILE = settings.get_profile(os.environ.get("CLAMEUR_FUZZ_PROFILE", "import-ci"))
_runs = itertools.count()

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
CONTROLS = "".join(map(chr, [*range(0x20), 0x7F, *range(0x80, 0xA0)])) + "\u2028\u2029"
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from(BIDI + CONTROLS + '"\\,;{}[]'), st.characters()),
    max_size=40,
)
extreme_dates = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59+14:00",
            "1969-12-31T23:59:59Z",
            "2100-01-01T00:00:00Z",
            "2100-01-01T00:00:01Z",
            "1970-01-01T00:00:00-23:59",
            "2026-02-30T00:00:00Z",
            "2026-11-16T09:00:00",
            "",
            "hier",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    hostile_text,
)
extreme_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 2**62, 2**62 + 1, 2**63, 2**64, 2**64 - 1, -(2**63) - 1, 1e308]),
    st.booleans(),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), extreme_numbers, hostile_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)
    ),
    max_leaves=12,
)


def _deep(depth: int, kind: str) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


@st.composite
def hostile_records(draw: st.DrawFn, n: int) -> dict[str, Any]:
    """A record near the contract with some fields made hostile (may or may not pass)."""
    rec: dict[str, Any] = {
        "source": draw(st.sampled_from(["twitter", "TWITTER", "myspace", "", "review"])),
        "external_id": f"h-{n}",
        "text": draw(hostile_text),
        "created_at": draw(extreme_dates),
        "author": {
            "handle": draw(hostile_text),
            "followers": draw(extreme_numbers),
            "created_at": draw(extreme_dates),
            "verified": draw(st.one_of(st.booleans(), hostile_text, extreme_numbers)),
        },
    }
    for field in draw(st.sets(st.sampled_from(["rating", "lang", "metrics", "brand", "url"]))):
        rec[field] = draw(json_values)
    if draw(st.booleans()):
        rec[draw(hostile_text)] = draw(
            st.one_of(
                json_values,
                st.builds(_deep, st.integers(1, 40), st.sampled_from(["list", "dict"])),
            )
        )
    for field in draw(st.sets(st.sampled_from(["text", "external_id", "author", "created_at"]))):
        if draw(st.booleans()):
            del rec[field]
        else:
            rec[field] = draw(json_values)
    return rec


def good(n: int) -> dict[str, Any]:
    return {
        "source": "twitter",
        "external_id": f"g-{n}",
        "text": f"good line {n} \u202eok\u202c",
        "created_at": "2026-11-16T09:00:00+01:00",
        "author": {"handle": f"good{n % 5}", "followers": n},
    }


raw_garbage = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"\xff\xfe{}", b'{"text": "\xc3\x28"}', b"[1, 2]", b"null", b"{", b"   "]),
    st.integers(1, 1500).map(lambda d: b"[" * d + b"]" * d),
    st.integers(1, 1500).map(lambda d: b'{"source":"twitter","x":' + b"[" * d + b"]" * d + b"}"),
).map(lambda b: b.replace(b"\n", b" "))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    path = tmp_path_factory.mktemp("fuzz") / "clameur.db"
    engine = create_engine_for(f"sqlite:///{path}")
    upgrade(engine)
    clock = FrozenClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    yield Pipeline(
        factory=make_session_factory(engine), settings=Settings(batch_size=7), clock=clock
    )
    engine.dispose()


def _import(pipeline: Pipeline, path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    slug = f"fuzz{next(_runs)}"
    with session_scope(pipeline.factory) as session:
        add_tenant(session, pipeline.clock, slug, slug)
    result = pipeline.import_file(path, tenant=slug).as_dict()
    with session_scope(pipeline.factory) as session:
        tenant_id = get_tenant(session, slug).id
        stored = dict(
            session.execute(
                select(Mention.external_id, Mention.text).where(Mention.tenant_id == tenant_id)
            ).all()
        )
    return result, stored


def _check(result: dict[str, Any], stored: dict[str, str], records: int, goods: list[int]) -> None:
    counted = sum(result[k] for k in ("imported", "updated", "unchanged", "unmatched", "rejected"))
    assert counted == records, f"{records} records, {counted} counted: {result}"
    rejected_lines = {e["line"] for e in result["errors"]}
    assert len(rejected_lines) == result["rejected"]
    assert all(isinstance(e["reason"], str) and e["reason"] for e in result["errors"])
    for n in goods:
        assert stored.get(f"g-{n}") == good(n)["text"], f"good line g-{n} lost"
    assert result["imported"] >= len(goods)


lines_jsonl = st.lists(
    st.one_of(
        st.integers(0, 10**6).flatmap(hostile_records).map(lambda r: ("json", r)),
        json_values.map(lambda v: ("json", v)),
        raw_garbage.map(lambda b: ("raw", b)),
        st.just(("good", None)),
    ),
    min_size=1,
    max_size=12,
)


@PROFILE
@given(lines=lines_jsonl)
def test_jsonl_fuzz_every_line_imported_or_reported(
    pipeline: Pipeline, tmp_path: Path, lines: list[tuple[str, Any]]
) -> None:
    out = io.BytesIO()
    goods: list[int] = []
    records = 0
    for i, (kind, value) in enumerate(lines):
        if kind == "good":
            goods.append(i)
            data = json.dumps(good(i), ensure_ascii=False).encode()
        elif kind == "json":
            data = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        else:
            data = value
        if i == 0 and data.startswith(b"\xef\xbb\xbf"):
            data = b"x" + data  # a leading BOM is dropped by the reader: keep the line
        records += bool(data.strip())
        out.write(data + b"\n")
    path = tmp_path / f"f{next(_runs)}.jsonl"
    path.write_bytes(out.getvalue())
    result, stored = _import(pipeline, path)
    _check(result, stored, records, goods)


COLUMNS = [
    "source",
    "external_id",
    "text",
    "created_at",
    "author_handle",
    "author_followers",
    "author_created_at",
    "author_verified",
    "metrics_likes",
    "rating",
    "note",
]
cell = st.one_of(
    hostile_text.map(lambda t: t.replace("\x00", "")),
    extreme_dates.map(lambda t: t.replace("\x00", "")),
    extreme_numbers.map(str),
)
csv_rows = st.lists(
    st.one_of(
        st.lists(cell, min_size=len(COLUMNS), max_size=len(COLUMNS)).map(lambda r: ("row", r)),
        st.lists(cell, min_size=0, max_size=len(COLUMNS) + 3).map(lambda r: ("row", r)),
        st.binary(max_size=60).map(lambda b: b.translate(None, b'\n\r"')).map(lambda b: ("raw", b)),
        st.just(("good", None)),
    ),
    min_size=1,
    max_size=12,
)


@PROFILE
@given(rows=csv_rows)
def test_csv_fuzz_every_record_imported_or_reported(
    pipeline: Pipeline, tmp_path: Path, rows: list[tuple[str, Any]]
) -> None:
    out = io.BytesIO()
    out.write((",".join(COLUMNS) + "\r\n").encode())
    goods: list[int] = []
    records = 0
    for i, (kind, value) in enumerate(rows):
        if kind == "raw":
            records += bool(value)
            out.write(value + b"\n")
            continue
        if kind == "good":
            g = good(i)
            a = g["author"]
            value = [g["source"], g["external_id"], g["text"], g["created_at"], a["handle"]]
            value += [str(a["followers"])] + [""] * (len(COLUMNS) - 6)
            goods.append(i)
        if kind == "row" and (value and value[0] == "twitter"):
            value[1] = f"h-{i}"  # never a good line's id
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerow(value)
        records += bool(value)  # no cell at all writes a blank line: no record
        out.write(text.getvalue().encode("utf-8", "surrogatepass"))
    path = tmp_path / f"f{next(_runs)}.csv"
    path.write_bytes(out.getvalue())
    result, stored = _import(pipeline, path)
    _check(result, stored, records, goods)
