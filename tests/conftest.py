"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.pipeline import Pipeline
from clameur.sources.service import add_source
from clameur.tenancy import Tenant, add_brand, add_tenant
from tests.smtp import Mailbox, free_port, start_smtp

_SETTINGS = Settings()
PG_URL = _SETTINGS.test_database_url
REQUIRE = _SETTINGS.require_services


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


_PG_PROBLEM: str | None | bool = False  # False: not probed yet


def postgres_or_skip() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_reachable()
    if _PG_PROBLEM:
        if REQUIRE:
            pytest.fail(f"PostgreSQL required (CLAMEUR_REQUIRE_SERVICES=1) but: {_PG_PROBLEM}")
        pytest.skip(f"no PostgreSQL at {PG_URL}: {_PG_PROBLEM}")


REDIS_URL = _SETTINGS.test_redis_url
_REDIS_PROBLEM: str | None | bool = False  # False: not probed yet


def redis_or_skip() -> str:
    """The test Redis server's URL; skips (fails with CLAMEUR_REQUIRE_SERVICES=1) when it
    does not answer."""
    global _REDIS_PROBLEM
    if _REDIS_PROBLEM is False:
        import redis

        try:
            client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
            client.ping()
            client.close()
            _REDIS_PROBLEM = None
        except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against
            _REDIS_PROBLEM = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    if _REDIS_PROBLEM:
        if REQUIRE:
            pytest.fail(f"Redis required (CLAMEUR_REQUIRE_SERVICES=1) but: {_REDIS_PROBLEM}")
        pytest.skip(f"no Redis at {REDIS_URL}: {_REDIS_PROBLEM}")
    return REDIS_URL


@dataclass
class Database:
    url: str
    engine: Engine
    factory: sessionmaker[Session]

    def session(self) -> Session:
        return self.factory()


_DROP_GROUP = 24
"""Test databases dropped together (at most this many copies wait on disk, a few MB each)."""
_DROP_THREADS = 8


class _Templates:
    """One migrated database per backend and test session, copied for each test that uses
    ``db``: migrating takes about a second a test, a copy a few milliseconds (SQLite: the
    file; PostgreSQL: ``CREATE DATABASE … TEMPLATE``). The migrations themselves still run,
    once, to build the template; tests of the migrations take ``database_url`` alone, which
    stays an empty database.

    PostgreSQL databases are dropped in groups, on background threads, all of them before
    the session ends: every ``DROP DATABASE`` waits for a checkpoint of its own (about a
    quarter of a second on a busy machine, and the flush slows every other test), but drops
    sent together share one. One at a time, the drops queued behind the tests and the last
    test of a worker waited minutes for them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sqlite: Path | None = None
        self.pg_name: str | None = None
        self.dropper = ThreadPoolExecutor(max_workers=_DROP_THREADS, thread_name_prefix="drop-db")
        self.to_drop: list[str] = []
        self.admin: Engine | None = None

    def sqlite_copy(self, target: Path) -> None:
        if self.sqlite is None:
            template = self.root / "template.db"
            engine = create_engine_for(f"sqlite:///{template}")
            upgrade(engine)
            engine.dispose()
            self.sqlite = template
        shutil.copyfile(self.sqlite, target)

    def pg_admin(self) -> Engine:
        if self.admin is None:
            self.admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        return self.admin

    def pg_create(self, name: str, migrated: bool) -> None:
        if migrated and self.pg_name is None:
            template = f"tpl_{uuid.uuid4().hex[:12]}"
            self.pg_create(template, migrated=False)
            engine = create_engine_for(_pg_url(template))
            upgrade(engine)
            engine.dispose()
            self.pg_name = template
        source = f' TEMPLATE "{self.pg_name}"' if migrated else ""
        with self.pg_admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{source} STRATEGY WAL_LOG'))

    def pg_drop(self, name: str) -> None:
        self.to_drop.append(name)
        if len(self.to_drop) >= _DROP_GROUP:
            self._drop_queued()

    def _drop_queued(self) -> None:
        def drop(name: str) -> None:
            with self.pg_admin().connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        for name in self.to_drop:
            self.dropper.submit(drop, name)
        self.to_drop = []

    def close(self) -> None:
        if self.pg_name is not None:
            self.pg_drop(self.pg_name)
        self._drop_queued()
        self.dropper.shutdown(wait=True)
        if self.admin is not None:
            self.admin.dispose()


def _pg_url(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    templates = _Templates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.close()


ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
"""A test of an outer layer (a browser flow, a command line) runs on one backend: what it adds
to the service and page tests, which run every query on both, is its own side (scripts,
live updates, focus and the CSP; arguments, output, exit codes). Flows about two people at
once or live updates run on PostgreSQL (the scaled deployment), the others on SQLite (the
laptop's)."""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _templates: _Templates
) -> Iterator[str]:
    """A database URL of its own: a SQLite file or a PostgreSQL database. Empty, unless the
    test also takes ``db``: then a copy of the migrated template (``db`` finds it current)."""
    migrated = "db" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "clameur.db"
        if migrated:
            _templates.sqlite_copy(path)
        yield f"sqlite:///{path}"
        return
    postgres_or_skip()
    name = f"t_{uuid.uuid4().hex[:12]}"
    _templates.pg_create(name, migrated)
    try:
        yield _pg_url(name)
    finally:
        _templates.pg_drop(name)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    engine = create_engine_for(database_url)
    upgrade(engine)  # a no-op on the template's copy; checks it is at the head revision
    yield Database(database_url, engine, make_session_factory(engine))
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def pipeline(db: Database, clock: FrozenClock) -> Pipeline:
    return Pipeline(factory=db.factory, settings=Settings(batch_size=100), clock=clock)


def make_tenant(
    db: Database, clock: FrozenClock, slug: str, brands: dict[str, list[str]]
) -> Tenant:
    """A tenant with brands ``{slug: [queries]}``."""
    with session_scope(db.factory) as session:
        tenant = add_tenant(session, clock, slug, slug.title())
        for brand_slug, queries in brands.items():
            add_brand(session, clock, tenant, brand_slug, brand_slug.title(), queries)
        return tenant


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on a free loopback port: (its mailbox, its port)."""
    port = free_port()
    mailbox, controller = start_smtp(port)
    try:
        yield mailbox, port
    finally:
        controller.stop()


def make_api_user(
    db: Database, clock: FrozenClock, tenant: str, email: str, role: str, **token: object
) -> str:
    """A user holding ``role`` in the tenant (created when new) and a new API token of
    theirs in it (``name=``, ``expires_days=``): returns the token."""
    from clameur.tenancy import add_member, get_tenant
    from clameur.tenancy.auth import create_token

    with session_scope(db.factory) as session:
        owner = get_tenant(session, tenant)
        user, _ = add_member(session, clock, email, owner.id, role)
        made = create_token(session, clock, user, owner, **token)  # type: ignore[arg-type]
        return made.token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class ApiWorld:
    """Two tenants for the API tests: ``a`` has one of everything (ids below), ``b`` a brand.
    Tokens by role in ``a`` (admin, supervisor, agent, viewer) and an admin's in ``b``."""

    tokens: dict[str, str]
    other_admin: str
    conversation_id: int
    alert_id: int
    incident_id: int
    reply_id: int
    brand: str
    user_email: str
    token_prefix: str
    source_id: int = 0
    """An RSS source of ``a`` (never polled)."""


def make_api_world(db: Database, pipeline: Pipeline, clock: FrozenClock, path: Path) -> ApiWorld:
    """Tenant ``a`` with a brand, two e-mail conversations (the first in an incident from
    an alert, with a reply waiting for approval), its four roles' users and tokens; tenant
    ``b`` with its admin's token."""
    import json

    from sqlalchemy import select

    from clameur.care.models import Conversation, Incident, Reply
    from clameur.detection.models import Alert, AlertMention
    from clameur.tenancy import get_tenant

    make_tenant(db, clock, "a", {"acme": ["acme"]})
    make_tenant(db, clock, "b", {"bravo": ["bravo"]})
    lines = [
        {
            "source": "email",
            "external_id": f"a-{n}",
            "text": f"acme: ma commande {n} n'est jamais arrivée",
            "created_at": f"2026-11-16T0{n}:00:00+00:00",
            "author": {"handle": f"client{n}@example.org"},
        }
        for n in (1, 2)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    pipeline.import_file(path, tenant="a")
    tokens = {
        role: make_api_user(db, clock, "a", f"{role}@a.example", role)
        for role in ("admin", "supervisor", "agent", "viewer")
    }
    other_admin = make_api_user(db, clock, "b", "admin@b.example", "admin")
    with session_scope(db.factory) as session:
        tenant = get_tenant(session, "a")
        conversation = session.scalars(
            select(Conversation)
            .where(Conversation.tenant_id == tenant.id)
            .order_by(Conversation.id)
        ).first()
        assert conversation is not None, "the import opened no conversation"
        at = conversation.opened_at
        alert = Alert(
            tenant_id=tenant.id,
            brand_id=conversation.brand_id,
            kind="volume_spike",
            severity="high",
            key="spike:test",
            triggered_at=at,
            updated_at=at,
            status="open",
            summary="Volume spike",
            count=1,
            evidence={"peak": 9},
        )
        session.add(alert)
        session.flush()
        session.add(
            AlertMention(
                tenant_id=tenant.id,
                alert_id=alert.id,
                source="email",
                external_id="a-1",
                author="client1@example.org",
                created_at=at,
                role="tip",
            )
        )
        incident = Incident(
            tenant_id=tenant.id,
            alert_id=alert.id,
            brand_id=conversation.brand_id,
            title="Orders lost",
            status="open",
            opened_at=at,
        )
        session.add(incident)
        session.flush()
        conversation.incident_id = incident.id
        reply = Reply(
            tenant_id=tenant.id,
            conversation_id=conversation.id,
            author_id=None,
            text="Nous regardons.",
            visibility="private",
            status="pending_approval",
            in_reply_to="a-1",
            channel="email",
            created_at=clock.now(),
        )
        session.add(reply)
        session.flush()
        ids = (conversation.id, alert.id, incident.id, reply.id)
        feed = add_source(
            session, clock, tenant_id=tenant.id, kind="rss", url="https://blog.example/feed"
        )
    prefix = tokens["agent"].split("_")[1]
    return ApiWorld(
        tokens,
        other_admin,
        *ids,
        brand="acme",
        user_email="agent@a.example",
        token_prefix=prefix,
        source_id=feed.id,
    )
