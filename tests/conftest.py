"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.pipeline import Pipeline
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


@dataclass
class Database:
    url: str
    engine: Engine
    factory: sessionmaker[Session]

    def session(self) -> Session:
        return self.factory()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clameur.db'}"
        return
    postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    engine = create_engine_for(database_url)
    upgrade(engine)
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
