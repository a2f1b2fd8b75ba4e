"""The mention path end to end on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care import Conversation
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.mentions import Author, Mention
from clameur.pipeline import Pipeline
from clameur.reports import stats
from clameur.tenancy import MentionBrand
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl


def _at(minutes: int) -> str:
    return (datetime(2026, 11, 16, 8, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def _conversations(db: Database) -> list[tuple[str, str, int, str, str]]:
    """Conversations as comparable tuples (root, author, count, opened, last activity)."""
    with session_scope(db.factory) as session:
        rows = session.execute(
            select(Conversation, Author.handle).join(Author, Author.id == Conversation.author_id)
        ).all()
        return sorted(
            (
                c.root_external_id,
                handle,
                c.mention_count,
                c.opened_at.isoformat(),
                c.last_activity_at.isoformat(),
            )
            for c, handle in rows
        )


def _stats(db: Database) -> dict[str, Any]:
    with session_scope(db.factory) as session:
        return stats(session)


def test_importing_the_same_file_twice_changes_nothing(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme-mobile": ["Acme Mobile"]})
    lines = [
        record(
            str(i), f"Acme Mobile message {i}", created_at=_at(i), author={"handle": f"user{i % 7}"}
        )
        for i in range(250)
    ]
    path = write_jsonl(tmp_path / "m.jsonl", lines)

    first = pipeline.import_file(path, tenant="acme")
    before = _stats(db)
    second = pipeline.import_file(path, tenant="acme")

    assert (first.imported, first.unchanged, first.rejected) == (250, 0, 0)
    assert (second.imported, second.updated, second.unchanged) == (0, 0, 250)
    assert _stats(db) == before
    assert before["mentions"] == 250
    assert before["authors"] == 7


def test_bad_lines_are_reported_with_line_and_reason_and_good_lines_kept(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    good = [record(str(i), f"acme {i}") for i in range(3)]
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            good[0],
            b"{not json",
            b'{"source": "twitter", "external_id": "x", "text": "\xc3\x28"}',
            {**record("m1", "acme"), "text": None},
            record("d1", "acme", created_at="16/11/2026"),
            record("s1", "acme", source="myspace"),
            b"#" * 100_000,
            good[1],
            record("b1", "acme", brand="no-such-brand"),
            good[2],
        ],
    )
    result = pipeline.import_file(path, tenant="acme")

    assert result.imported == 3
    assert result.rejected == 7
    reasons = {e["line"]: e["reason"] for e in result.errors}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 9]
    assert reasons[2].startswith("not valid JSON")
    assert reasons[3].startswith("invalid UTF-8")
    assert reasons[4] == "missing required field 'text'"
    assert "unparseable date '16/11/2026'" in reasons[5]
    assert reasons[6].startswith("unknown source 'myspace'")
    assert reasons[7].startswith("not valid JSON")
    assert "unknown brand 'no-such-brand'" in reasons[9]
    assert _stats(db)["mentions"] == 3


def test_an_edit_replaces_the_text_keeps_history_and_replays_idempotently(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    v1 = record("1", "acme: my parcel is late")
    v2 = record("1", "acme: my parcel is late, order 4411")
    pipeline.import_file(write_jsonl(tmp_path / "v1.jsonl", [v1]), tenant="acme")
    edited = pipeline.import_file(write_jsonl(tmp_path / "v2.jsonl", [v2]), tenant="acme")
    assert (edited.imported, edited.updated) == (0, 1)

    both = write_jsonl(tmp_path / "both.jsonl", [v1, v2])
    replay = pipeline.import_file(both, tenant="acme")
    assert (replay.imported, replay.updated, replay.unchanged) == (0, 0, 2)

    with session_scope(db.factory) as session:
        mention = session.scalars(select(Mention)).one()
        assert mention.text == v2["text"]
        assert [v["text"] for v in mention.edit_history] == [v1["text"]]


def test_both_versions_in_one_new_file_count_one_import_and_one_update(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    path = write_jsonl(
        tmp_path / "f.jsonl", [record("1", "acme v1"), record("1", "acme v2"), record("2", "acme")]
    )
    first = pipeline.import_file(path, tenant="acme")
    assert (first.imported, first.updated) == (2, 1)
    again = pipeline.import_file(path, tenant="acme")
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 3)
    with session_scope(db.factory) as session:
        texts = sorted(session.scalars(select(Mention.text)))
    assert texts == ["acme", "acme v2"]


def test_without_tenant_brand_queries_route_mentions_to_every_matching_tenant(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    a = make_tenant(db, clock, "alpha", {"volta": ["Volta Énergie", "@volta"]})
    b = make_tenant(db, clock, "beta", {"lune": ["maison lune"]})
    path = write_jsonl(
        tmp_path / "f.jsonl",
        [
            record("1", "Facture VOLTA ENERGIE incompréhensible"),  # accents and case differ
            record("2", "Maison Lune et @Volta, même combat"),  # both tenants
            record("3", "rien à voir"),
            record("4", "voltage is not volta-ge"),  # whole words only
        ],
    )
    result = pipeline.import_file(path)
    assert (result.imported, result.unmatched) == (2, 2)
    with session_scope(db.factory) as session:
        rows = session.execute(select(Mention.tenant_id, Mention.external_id))
        owned = sorted(tuple(r) for r in rows)
        links = session.execute(select(MentionBrand.mention_id)).all()
    assert owned == sorted([(a.id, "1"), (a.id, "2"), (b.id, "2")])
    assert len(links) == 3


def test_with_a_tenant_unmatched_lines_are_kept_without_brand(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    path = write_jsonl(tmp_path / "f.jsonl", [record("1", "no brand named here")])
    assert pipeline.import_file(path, tenant="acme").imported == 1
    assert _stats(db)["by_brand"] == {"acme": 0}


def test_threads_one_conversation_per_customer(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    star = {"handle": "star", "followers": 450_000, "verified": True}
    lines = [record("root", "acme is down again!", author=star, created_at=_at(0))]
    for i in range(20):  # 20 customers reply to the influencer
        lines.append(
            record(
                f"r{i}",
                f"acme down again {i}, still waiting for my refund",
                author={"handle": f"c{i}"},
                in_reply_to="root",
                created_at=_at(1 + i),
            )
        )
    # customer c0 follows up on their own reply, and again much later
    lines.append(
        record(
            "f1", "acme still down", author={"handle": "c0"}, in_reply_to="r0", created_at=_at(30)
        )
    )
    lines.append(
        record(
            "f2",
            "acme down again, still waiting for my refund",
            author={"handle": "c0"},
            created_at=_at(60 * 24 * 5),
        )
    )
    pipeline.import_file(write_jsonl(tmp_path / "t.jsonl", lines), tenant="acme")

    conversations = _conversations(db)
    assert len(conversations) == 1 + 20 + 1
    by_root = {c[0]: c for c in conversations}
    assert by_root["r0"][2] == 2, "a self-reply joins the customer's conversation"
    assert by_root["f2"][1] == "c0", "five days later is a new conversation"
    assert _stats(db)["open_conversations"] == 22


def test_event_time_results_do_not_depend_on_wall_clock_or_batching(
    database_url: str, tmp_path: Path
) -> None:
    """Replaying a file gives the same conversations and stats at any wall-clock time."""
    from clameur.db import create_engine_for, make_session_factory, upgrade

    lines = []
    for i in range(300):
        author = {"handle": f"c{i % 23}", "followers": i}
        parent = {"in_reply_to": str(i - 5)} if i % 4 == 0 and i >= 5 else {}
        minutes = i * 17 + (60 * 24 * 4 if i >= 150 else 0)  # a four-day lull halfway
        text = f"acme {i}: my bill is wrong, please help"  # actionable: opens a conversation
        lines.append(record(str(i), text, author=author, created_at=_at(minutes), **parent))
    path = write_jsonl(tmp_path / "replay.jsonl", lines)

    outcomes = []
    for n, (wall, batch_size) in enumerate(
        [(datetime(2020, 1, 1, tzinfo=UTC), 1000), (datetime(2031, 6, 1, tzinfo=UTC), 7)]
    ):
        url = database_url if n == 0 else f"sqlite:///{tmp_path / 'second.db'}"
        engine = create_engine_for(url)
        upgrade(engine)
        db = Database(url, engine, make_session_factory(engine))
        clock = FrozenClock(wall)
        make_tenant(db, clock, "acme", {"acme": ["acme"]})
        Pipeline(
            factory=db.factory, settings=Settings(batch_size=batch_size), clock=clock
        ).import_file(path, tenant="acme")
        outcomes.append((_conversations(db), _stats(db)))
        engine.dispose()

    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1]["conversations"] == 2 * 23  # every author came back after the lull


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("batch_size", [1000, 2])
def test_hostile_lines_are_rejected_alone_and_the_good_lines_around_them_imported(
    db: Database, clock: FrozenClock, tmp_path: Path, batch_size: int
) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=batch_size), clock=clock)
    deep_5000 = (
        b'{"source": "twitter", "external_id": "n5000", "text": "acme", '
        b'"created_at": "2026-11-16T09:00:00Z", "author": {"handle": "a"}, "nest": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}"
    )
    lines: list[dict[str, Any] | bytes | str] = [
        record("g1", "acme one", created_at=_at(1)),
        record("n300", "acme deep", nest=_deep(300)),
        record("g2", "acme two", created_at=_at(2)),
        deep_5000,
        record("g3", "acme three", created_at=_at(3)),
        record("y1", "acme old", created_at="0001-01-02T00:00:00Z"),
        record("g4", "acme four", created_at=_at(4)),
        record("y9999", "acme far", created_at="9999-12-31T23:59:59Z"),
        record("g5", "acme five", created_at=_at(5)),
        record("ya", "acme", author={"handle": "z", "created_at": "0001-01-01T00:00:00Z"}),
        record("big", "acme", blob="x" * 70_000),
        record("g6", "acme six", created_at=_at(6)),
    ]
    path = write_jsonl(tmp_path / "hostile.jsonl", lines)

    first = pipeline.import_file(path, tenant="acme")

    reasons = {e["line"]: e["reason"] for e in first.errors}
    assert sorted(reasons) == [2, 4, 6, 8, 10, 11]
    assert reasons[2] == "unknown field 'nest' nests deeper than 32 levels"
    assert reasons[4].startswith("field 'nest' nests too deeply")
    assert reasons[6] == (
        "field 'created_at': date '0001-01-02T00:00:00Z' is outside "
        "1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z"
    )
    assert reasons[8].startswith("field 'created_at': date '9999-12-31T23:59:59Z' is outside")
    assert reasons[10].startswith("field 'author.created_at': date '0001-01-01")
    assert reasons[11].startswith("unknown field 'blob' is larger than 65536 bytes")
    assert (first.imported, first.rejected) == (6, 6)
    counts = first.as_dict()
    assert sum(v for k, v in counts.items() if k != "errors") == len(lines)
    with session_scope(db.factory) as session:
        stored = sorted(session.scalars(select(Mention.external_id)))
    assert stored == ["g1", "g2", "g3", "g4", "g5", "g6"]

    second = pipeline.import_file(path, tenant="acme")
    assert (second.imported, second.unchanged, second.rejected) == (0, 6, 6)
    assert second.as_dict()["errors"] == first.as_dict()["errors"]


def test_an_unexpected_error_on_one_line_rejects_only_that_line(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path, monkeypatch: Any
) -> None:
    from clameur.pipeline import chain

    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    real = chain.normalise

    def flaky(raw: dict[str, Any]) -> Any:
        if raw["external_id"] == "boom":
            raise OverflowError("date value out of range")
        return real(raw)

    monkeypatch.setattr(chain, "normalise", flaky)
    lines = [record("1", "acme a"), record("boom", "acme b"), record("3", "acme c")]
    result = pipeline.import_file(write_jsonl(tmp_path / "x.jsonl", lines), tenant="acme")

    assert (result.imported, result.rejected) == (2, 1)
    assert result.errors == [
        {"line": 2, "reason": "cannot process the line: OverflowError: date value out of range"}
    ]
    assert _stats(db)["mentions"] == 2
