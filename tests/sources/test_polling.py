"""Polling through the framework with the fake connector, on SQLite and PostgreSQL: what is
kept, the cursor moving with its mentions, leases, backoff, Retry-After."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import AlreadyExistsError, InvalidInputError
from clameur.pipeline import Pipeline
from clameur.pipeline.worker import Worker
from clameur.sources.models import Source, SourceSecret
from clameur.sources.schedule import PollOutcome
from clameur.sources.service import add_source, describe, set_enabled
from clameur.tenancy import AuditEntry
from tests.conftest import Database, make_tenant
from tests.sources.helpers import feed_file, mention_count, mention_ids, poller, source_row


def _item(external_id: str, text: str, **more: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "text": text,
        "author": {"handle": "writer"},
        "created_at": "2029-12-31T10:00:00+00:00",
        **more,
    }


def _fake(db: Database, clock: FrozenClock, tenant_id: int, path: Path, **kw: Any) -> int:
    with session_scope(db.factory) as session:
        row = add_source(
            session,
            clock,
            tenant_id=tenant_id,
            kind="fake",
            name=kw.pop("name", "trial"),
            options={"file": str(path)},
            source="blog",
            **kw,
        )
        return row.id


@pytest.fixture
def volta(db: Database, clock: FrozenClock) -> int:
    return make_tenant(db, clock, "volta", {"volta": ["volta"]}).id


def test_add_validates_and_keeps_secrets_apart(
    db: Database, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    with session_scope(db.factory) as session:
        with pytest.raises(InvalidInputError, match="option colour"):
            add_source(session, clock, tenant_id=volta, kind="fake", options={"colour": 1})
        with pytest.raises(InvalidInputError, match="unknown secret 'password'"):
            add_source(session, clock, tenant_id=volta, kind="fake", secrets={"password": "x"})
        with pytest.raises(InvalidInputError, match="unknown mention source"):
            add_source(session, clock, tenant_id=volta, kind="fake", source="fax")
        with pytest.raises(InvalidInputError, match="known: .*fake"):
            add_source(session, clock, tenant_id=volta, kind="gopher")
        row = add_source(
            session, clock, tenant_id=volta, kind="fake", name="a", secrets={"token": "t0ps3cret"}
        )
        shown = describe(session, row, clock.now())
        with pytest.raises(AlreadyExistsError):
            add_source(session, clock, tenant_id=volta, kind="fake", name="a")
    assert shown["secrets"] == {"token": "set"}
    assert "t0ps3cret" not in repr(shown)
    assert shown["source"] == "other", "the connector's default mention source"
    with session_scope(db.factory) as session:
        secret = session.get(SourceSecret, row.id)
        assert secret is not None
        assert secret.values == {"token": "t0ps3cret"}
        actions = session.scalars(select(AuditEntry.action)).all()
        assert "source.add" in actions
        assert all("t0ps3cret" not in repr(e.data) for e in session.scalars(select(AuditEntry)))


def test_a_poll_keeps_matched_mentions_and_moves_the_cursor(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    path = feed_file(
        tmp_path / "f.jsonl",
        [_item("p1", "Volta est super"), _item("p2", "rien à voir"), "{bad", {"text": "no id"}],
    )
    source_id = _fake(db, clock, volta, path)
    outcomes = poller(db, pipeline, clock).poll_due(tenant_id=volta)
    [outcome] = outcomes
    assert outcome.status == "ok", outcome.error
    assert (outcome.counts["imported"], outcome.counts["unmatched"]) == (1, 1)
    assert [p["where"] for p in outcome.problems] == ["f.jsonl:3", "f.jsonl:4"]
    assert mention_ids(db) == ["p1"], "an unmatched item is not kept"
    row = source_row(db, source_id)
    assert row.cursor == {"polls": 1, "last": "p2"}
    assert row.last_success_at == clock.now()
    assert row.next_run_at == clock.now() + timedelta(seconds=row.interval_seconds)
    assert row.lease_owner is None
    assert row.lease_until is None
    assert row.stats["last"]["imported"] == 1

    assert poller(db, pipeline, clock).poll_due(tenant_id=volta) == [], "not due yet"
    [again] = poller(db, pipeline, clock).poll_due(tenant_id=volta, force=True)
    assert again.counts["unchanged"] == 1
    assert again.counts["imported"] == 0
    assert mention_count(db) == 1


def test_a_crash_before_the_commit_leaves_the_cursor_and_the_repoll_stores_once(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    path = feed_file(tmp_path / "f.jsonl", [_item("c1", "volta un"), _item("c2", "volta deux")])
    source_id = _fake(db, clock, volta, path)

    def crash() -> None:
        raise RuntimeError("killed between the poll and the commit")

    [outcome] = poller(db, pipeline, clock, before_commit=crash).poll_due()
    assert outcome.status == "failed"
    assert outcome.counts == {}, "nothing of the rolled-back poll is counted"
    assert outcome.error is not None
    assert "killed between" in outcome.error
    row = source_row(db, source_id)
    assert row.cursor is None, "the cursor never moves without its mentions"
    assert mention_count(db) == 0
    assert row.consecutive_failures == 1
    assert row.lease_owner is None
    assert row.last_error == "RuntimeError: killed between the poll and the commit"

    [retry] = poller(db, pipeline, clock).poll_due(force=True)
    assert retry.counts["imported"] == 2
    [third] = poller(db, pipeline, clock).poll_due(force=True)
    assert third.counts["unchanged"] == 2
    assert mention_ids(db) == ["c1", "c2"]
    assert source_row(db, source_id).consecutive_failures == 0


def test_two_pollers_racing_poll_a_source_once(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    path = feed_file(tmp_path / "f.jsonl", [_item("r1", "volta")])
    _fake(db, clock, volta, path)
    barrier = threading.Barrier(4)
    results: list[list[PollOutcome]] = []
    errors: list[BaseException] = []

    def run() -> None:
        mine = poller(db, pipeline, clock)
        barrier.wait()
        try:
            results.append(mine.poll_due())
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    polls = [outcome for outcomes in results for outcome in outcomes]
    assert len(polls) == 1, polls
    assert polls[0].counts["imported"] == 1
    assert mention_count(db) == 1


def test_an_expired_lease_lets_another_poller_take_over(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    source_id = _fake(db, clock, volta, feed_file(tmp_path / "f.jsonl", [_item("l1", "volta")]))
    first = poller(db, pipeline, clock)
    [claim] = first.claim()
    assert poller(db, pipeline, clock).claim() == [], "leased"
    clock.advance(first.lease + timedelta(seconds=1))
    [outcome] = poller(db, pipeline, clock).poll_due()
    assert outcome.status == "ok"
    late = first.poll_claimed(claim)
    assert late.status == "lease_lost", "the first poller's late result is not kept"
    assert source_row(db, source_id).cursor == {"polls": 1, "last": "l1"}
    assert mention_count(db) == 1


def test_failures_back_off_exponentially_and_retry_after_is_honoured(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    path = feed_file(tmp_path / "f.jsonl", [{"_raise": "transient", "message": "down"}])
    source_id = _fake(db, clock, volta, path, interval_seconds=30)
    polling = poller(db, pipeline, clock, rng=random.Random(1))
    delays = []
    for failures in range(1, 5):
        [outcome] = polling.poll_due()
        assert outcome.status == "failed"
        assert outcome.error == "down"
        row = source_row(db, source_id)
        assert row.consecutive_failures == failures
        assert row.next_run_at is not None
        delay = row.next_run_at - clock.now()
        expected = timedelta(minutes=2 ** (failures - 1))
        assert expected <= delay <= expected * 1.25, (failures, delay)
        delays.append(delay)
        assert polling.poll_due() == [], "backing off"
        clock.advance(delay)
    assert delays == sorted(delays)

    feed_file(path, [{"_raise": "rate_limited", "retry_after": 3600}])
    polling.poll_due()
    row = source_row(db, source_id)
    assert row.retry_after_until == clock.now() + timedelta(hours=1)
    assert row.next_run_at is not None
    assert row.next_run_at >= row.retry_after_until
    clock.advance(timedelta(minutes=59))
    assert polling.poll_due() == [], "Retry-After honoured"
    clock.advance(timedelta(minutes=1))
    feed_file(path, [_item("b1", "volta back")])
    [back] = polling.poll_due()
    assert back.status == "ok"
    assert back.counts["imported"] == 1
    row = source_row(db, source_id)
    assert (row.consecutive_failures, row.last_error, row.retry_after_until) == (0, None, None)


def test_one_bad_source_does_not_stop_the_others(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    _fake(db, clock, volta, tmp_path / "missing.jsonl", name="broken")
    good = feed_file(tmp_path / "good.jsonl", [_item("g1", "volta")])
    _fake(db, clock, volta, good, name="good")
    outcomes = {o.name: o for o in poller(db, pipeline, clock).poll_due()}
    assert outcomes["broken"].status == "failed"
    assert outcomes["broken"].error is not None
    assert "missing.jsonl" in outcomes["broken"].error
    assert outcomes["good"].counts["imported"] == 1


def test_secret_values_are_masked_in_the_last_error(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    path = feed_file(
        tmp_path / "f.jsonl", [{"_raise": "permanent", "message": "bad token hunter2x"}]
    )
    source_id = _fake(db, clock, volta, path, secrets={"token": "hunter2x"})
    [outcome] = poller(db, pipeline, clock).poll_due()
    assert outcome.error == "bad token ***"
    assert source_row(db, source_id).last_error == "bad token ***"


def test_a_disabled_source_is_not_polled(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    source_id = _fake(db, clock, volta, feed_file(tmp_path / "f.jsonl", [_item("d1", "volta")]))
    with session_scope(db.factory) as session:
        set_enabled(session, clock, source_id, False, tenant_id=volta)
    assert poller(db, pipeline, clock).poll_due(force=True) == []
    with session_scope(db.factory) as session:
        set_enabled(session, clock, source_id, True, tenant_id=volta)
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["source.disable", "source.enable"]
    assert len(poller(db, pipeline, clock).poll_due()) == 1


def test_the_worker_runs_the_sources_loop(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    _fake(db, clock, volta, feed_file(tmp_path / "f.jsonl", [_item("w1", "volta")]))
    worker = Worker(db.factory, clock, {}, poller=poller(db, pipeline, clock))
    assert "sources" in [loop.name for loop in worker.loops]
    assert worker.run_due()["sources"] == 1
    assert mention_ids(db) == ["w1"]
    assert "sources" not in [loop.name for loop in Worker(db.factory, clock, {}).loops]


def test_a_source_whose_connector_is_gone_fails_and_says_why(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    source_id = _fake(db, clock, volta, feed_file(tmp_path / "f.jsonl", [_item("u1", "volta")]))
    with session_scope(db.factory) as session:
        row = session.get(Source, source_id)
        assert row is not None
        row.kind = "uninstalled"
    [outcome] = poller(db, pipeline, clock).poll_due()
    assert outcome.status == "failed"
    assert "unknown connector kind 'uninstalled'" in (source_row(db, source_id).last_error or "")


def test_a_long_poll_keeps_its_lease_alive(
    db: Database, pipeline: Pipeline, clock: FrozenClock, volta: int, tmp_path: Path
) -> None:
    from clameur.sources.base import BaseConnector, PollContext, Polled, SourceConfig

    rivals: list[int] = []

    class Slow(BaseConnector):
        kind = "fake"

        def poll(
            self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
        ) -> Polled:
            for _page in range(3):  # three pages, 8 minutes each: past the 10-minute lease
                clock.advance(timedelta(minutes=8))
                context.keep_alive()
                rivals.append(len(poller(db, pipeline, clock).claim(force=True)))
            return Polled(records=[_item("s1", "volta lent") | {"source": "blog"}])

    source_id = _fake(db, clock, volta, tmp_path / "unused.jsonl")
    slow = poller(db, pipeline, clock, connector_of=lambda kind: Slow())
    [outcome] = slow.poll_due()
    assert outcome.status == "ok", outcome.error
    assert rivals == [0, 0, 0], "no other poller could take it meanwhile"
    assert mention_ids(db) == ["s1"]
    assert source_row(db, source_id).lease_owner is None
