"""Scaled out for real: PostgreSQL, Redis and `clameur worker` / `clameur import --wait`
processes.

- two workers share a 10,000-mention import, one is killed with SIGKILL in the middle
  (holding a chunk): the other finishes it; every mention stored once, the same alerts as
  a clean embedded run;
- a poison entry is dead-lettered with its error after N deliveries, the import beside it
  goes on;
- Redis (a private server with AOF, on a port of its own) killed and restarted in the
  middle of an import: nothing lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from sqlalchemy import func, select, text

from clameur.analysis import PlaceholderAnalyzer
from clameur.clock import SystemClock
from clameur.config import Settings
from clameur.core.bus_redis import RedisBus
from clameur.db import create_engine_for, make_session_factory, session_scope
from clameur.demo.generator import generate_mentions, write_jsonl
from clameur.demo.load import ensure_demo_tenants
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.pipeline.models import QueuedImport
from clameur.pipeline.queued import INGEST_GROUP, INGEST_STREAM
from tests.conftest import REQUIRE, _pg_url, _Templates, postgres_or_skip, redis_or_skip
from tests.smtp import free_port

CLAMEUR = [sys.executable, "-m", "clameur"]


@dataclass
class Deployment:
    """One PostgreSQL database with the demo tenants, a Redis key prefix, the processes."""

    database_url: str
    redis_url: str
    tmp: Path
    prefix: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:12]}:")
    env_extra: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CLAMEUR_DATABASE_URL": self.database_url,
            "CLAMEUR_BUS_URL": self.redis_url,
            "CLAMEUR_BUS_PREFIX": self.prefix,
            "CLAMEUR_SMTP_HOST": "",  # e-mail off: alert mail recorded as skipped
            "CLAMEUR_LOG_LEVEL": "INFO",
            **self.env_extra,
        }

    def bus(self) -> RedisBus:
        return RedisBus.from_url(self.redis_url, prefix=self.prefix, reconnect_seconds=5)

    def worker(self, name: str, concurrency: int = 1) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [*CLAMEUR, "worker", "--concurrency", str(concurrency)],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def start_import(self, path: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [*CLAMEUR, "import", str(path), "--json", "--wait"],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=(self.tmp / "import.log").open("wb"),
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.tmp.glob("*.log"))
        )

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def _finish(deployment: Deployment, process: subprocess.Popen[bytes], timeout: float) -> Any:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"import --wait did not finish in {timeout} s\n{deployment.logs()}")
    assert process.returncode == 0, deployment.logs()
    return orjson.loads(out)


def _until(what: str, check: Callable[[], bool], deployment: Deployment, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}\n{deployment.logs()}")
        time.sleep(0.05)


def _stop(deployment: Deployment, process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, deployment.logs()


@pytest.fixture
def pg_database(_templates: _Templates) -> Iterator[Callable[[], str]]:
    """Makes migrated PostgreSQL databases holding the demo tenants and brands."""
    postgres_or_skip()
    names: list[str] = []

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        _templates.pg_create(name, migrated=True)
        names.append(name)
        url = _pg_url(name)
        engine = create_engine_for(url)
        factory = make_session_factory(engine)
        ensure_demo_tenants(Pipeline(factory, Settings(), analyzer=PlaceholderAnalyzer()))
        engine.dispose()
        return url

    yield make
    for name in names:
        _templates.pg_drop(name)


@pytest.fixture
def deployment(pg_database: Callable[[], str], tmp_path: Path) -> Iterator[Deployment]:
    redis_url = redis_or_skip()
    deployment = Deployment(pg_database(), redis_url, tmp_path)
    try:
        yield deployment
    finally:
        deployment.stop_all()
        bus = deployment.bus()
        bus.delete_keys()
        bus.client.close()


def _stored(url: str) -> tuple[int, int, list[tuple[str, str | None, str]], int]:
    """(mentions, distinct (source, external_id), alerts as (kind, brand, triggered_at),
    conversations) of a database."""
    engine = create_engine_for(url)
    with engine.connect() as conn:
        total, distinct = conn.execute(
            text("SELECT count(*), count(DISTINCT (source, external_id)) FROM mentions")
        ).one()
        alerts = conn.execute(
            text(
                "SELECT a.kind, b.slug, a.triggered_at FROM alerts a "
                "LEFT JOIN brands b ON b.id = a.brand_id ORDER BY 1, 2, 3"
            )
        ).all()
        conversations = conn.execute(text("SELECT count(*) FROM conversations")).scalar_one()
    engine.dispose()
    shown = [(kind, brand, at.isoformat()) for kind, brand, at in alerts]
    return int(total), int(distinct), shown, int(conversations)


def _progress(url: str) -> int:
    engine = create_engine_for(url)
    with session_scope(make_session_factory(engine)) as session:
        done = session.scalar(select(func.max(QueuedImport.next_seq)))
    engine.dispose()
    return int(done or 0)


def _held_by(bus: RedisBus, pid: int) -> int:
    """Chunks pending for the consumers of process ``pid`` (named ``host:pid:thread``)."""
    entries = bus.client.xpending_range(
        bus.prefix + INGEST_STREAM, INGEST_GROUP, min="-", max="+", count=100
    )
    return sum(1 for entry in entries if f":{pid}:" in entry["consumer"])


def _killed_mid_import(deployment: Deployment, path: Path) -> Any:
    """Import ``path`` through two workers sharing it, one killed (SIGKILL) in the middle
    while it holds a chunk; the import's summary."""
    deployment.env_extra = {"CLAMEUR_BUS_CLAIM_IDLE_MS": "3000", "CLAMEUR_BUS_CHUNK_LINES": "500"}
    first = deployment.worker("worker-1")
    second = deployment.worker("worker-2")
    importing = deployment.start_import(path)
    bus = deployment.bus()
    # in the middle: some chunks stored, and the first worker holding one
    _until("a few chunks stored", lambda: _progress(deployment.database_url) >= 4, deployment, 120)
    _until("worker 1 holding a chunk", lambda: _held_by(bus, first.pid) >= 1, deployment, 30)
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    assert _progress(deployment.database_url) < 20, "killed before the import's end"
    summary = _finish(deployment, importing, timeout=180)
    _stop(deployment, second)
    bus.client.close()
    return summary


def test_a_worker_killed_mid_import_leaves_nothing_lost_nor_doubled(
    deployment: Deployment, pg_database: Callable[[], str], tmp_path: Path
) -> None:
    path = tmp_path / "week.jsonl"
    write_jsonl(path, generate_mentions(count=10_000, seed=3))
    # the clean embedded run of the same file, in this process, beside the scaled-out one
    clean_url = pg_database()
    engine = create_engine_for(clean_url)
    clean = Pipeline(make_session_factory(engine), Settings(), clock=SystemClock())
    with ThreadPoolExecutor(max_workers=1) as embedded:
        clean_run = embedded.submit(clean.import_file, path)
        summary = _killed_mid_import(deployment, path)
        assert clean_run.result().imported == 10_000
    engine.dispose()
    expected = _stored(clean_url)
    assert expected[0] == 10_000
    assert expected[2], "the clean run raises alerts to compare"

    assert summary == {
        "imported": 10_000,
        "updated": 0,
        "unchanged": 0,
        "unmatched": 0,
        "rejected": 0,
        "errors": [],
    }
    total, distinct, alerts, conversations = _stored(deployment.database_url)
    assert (total, distinct) == (10_000, 10_000)
    assert alerts == expected[2]
    assert conversations == expected[3]
    assert "chunk taken over" in (tmp_path / "worker-2.log").read_text()
    bus = deployment.bus()
    assert (bus.backlog(INGEST_STREAM), bus.pending(INGEST_STREAM, INGEST_GROUP)) == (0, 0)
    assert bus.dead_letters(INGEST_STREAM) == []
    bus.client.close()


def test_a_poison_entry_is_dead_lettered_with_its_error_and_the_import_beside_it_goes_on(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.env_extra = {
        "CLAMEUR_BUS_MAX_DELIVERIES": "3",
        "CLAMEUR_BUS_CLAIM_IDLE_MS": "300",
        "CLAMEUR_BUS_CHUNK_LINES": "20",
    }
    bus = deployment.bus()
    poison = bus.publish(INGEST_STREAM, {"import": "nope", "seq": "first", "records": []})
    path = tmp_path / "small.jsonl"
    write_jsonl(path, generate_mentions(count=60, seed=5))
    worker = deployment.worker("worker")
    summary = _finish(deployment, deployment.start_import(path), timeout=60)
    assert (summary["imported"], summary["rejected"]) == (60, 0)
    _until("the dead letter", lambda: bool(bus.dead_letters(INGEST_STREAM)), deployment, 30)
    _stop(deployment, worker)
    (letter,) = bus.dead_letters(INGEST_STREAM)
    assert (letter.source_id, letter.deliveries) == (poison, 3)
    assert letter.error.startswith("InvalidInputError: ingest entry ")
    assert "not an import chunk" in letter.error
    assert letter.body == {"import": "nope", "seq": "first", "records": []}
    assert (bus.backlog(INGEST_STREAM), bus.pending(INGEST_STREAM, INGEST_GROUP)) == (0, 0)
    bus.client.close()


class PrivateRedis:
    """A redis-server of this test's own: a free port, AOF on (fsync at every write), its
    files in the test's folder — the shared server on 6379 is left alone."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--dir",
            str(self.folder),
        ]
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        end = time.monotonic() + 15
        while True:
            try:
                if client.ping():
                    break
            except redis.exceptions.RedisError:
                if time.monotonic() > end or self.process.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis_or_skip()  # the same server binary: absent Redis, skip with the same reason
    folder = tmp_path / "redis"
    folder.mkdir()
    server = PrivateRedis(folder)
    try:
        server.start()
    except (OSError, redis.exceptions.RedisError) as exc:
        if REQUIRE:
            pytest.fail(f"a private redis-server is required (CLAMEUR_REQUIRE_SERVICES=1): {exc}")
        pytest.skip(f"cannot start a private redis-server: {exc}")
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


def test_redis_killed_and_restarted_mid_import_with_aof_loses_nothing(
    pg_database: Callable[[], str], private_redis: PrivateRedis, tmp_path: Path
) -> None:
    deployment = Deployment(pg_database(), private_redis.url, tmp_path / "run")
    deployment.tmp.mkdir()
    deployment.env_extra = {"CLAMEUR_BUS_CHUNK_LINES": "100", "CLAMEUR_BUS_MAX_BACKLOG": "10"}
    path = tmp_path / "day.jsonl"
    write_jsonl(path, generate_mentions(count=3000, seed=9))
    try:
        worker = deployment.worker("worker")
        importing = deployment.start_import(path)
        _until(
            "a few chunks stored", lambda: _progress(deployment.database_url) >= 3, deployment, 90
        )
        private_redis.kill()  # SIGKILL: no shutdown save, only what the AOF holds
        time.sleep(1.0)
        private_redis.start()
        summary = _finish(deployment, importing, timeout=120)
        _stop(deployment, worker)
    finally:
        deployment.stop_all()
    assert (summary["imported"], summary["rejected"], summary["errors"]) == (3000, 0, [])
    total, distinct, _alerts, _conversations = _stored(deployment.database_url)
    assert (total, distinct) == (3000, 3000)
    bus = deployment.bus()
    assert (bus.backlog(INGEST_STREAM), bus.pending(INGEST_STREAM, INGEST_GROUP)) == (0, 0)
    bus.client.close()
    with session_scope(make_session_factory(create_engine_for(deployment.database_url))) as s:
        assert s.scalar(select(func.count()).select_from(Mention)) == 3000


def test_import_without_wait_queues_the_chunks_and_names_the_import(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.env_extra = {"CLAMEUR_BUS_CHUNK_LINES": "40"}
    path = tmp_path / "few.jsonl"
    write_jsonl(path, generate_mentions(count=100, seed=2))
    done = subprocess.run(
        [*CLAMEUR, "import", str(path), "--json"],
        env=deployment.env(),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    queued = orjson.loads(done.stdout)
    assert (queued["chunks"], queued["lines"]) == (3, 100)
    bus = deployment.bus()
    assert bus.backlog(INGEST_STREAM) == 3
    bus.client.close()
    engine = create_engine_for(deployment.database_url)
    with session_scope(make_session_factory(engine)) as session:
        row = session.get(QueuedImport, queued["import_id"])
        assert row is not None
        assert (row.chunks, row.next_seq, row.imported) == (3, 0, 0)
    engine.dispose()
