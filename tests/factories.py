"""Small factories for test data (no fixture files)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from clameur.clock import Clock
from clameur.errors import NotFoundError
from clameur.tenancy import Principal, Tenant, User, add_member, resolve


def record(external_id: str, text: str, **overrides: Any) -> dict[str, Any]:
    """One valid import-contract record; override any field."""
    base: dict[str, Any] = {
        "source": "twitter",
        "external_id": external_id,
        "text": text,
        "created_at": "2026-11-16T09:00:00+01:00",
        "author": {"handle": "client1", "followers": 120},
    }
    base.update(overrides)
    return base


def write_jsonl(path: Path, lines: Iterable[dict[str, Any] | bytes | str]) -> Path:
    with path.open("wb") as handle:
        for line in lines:
            if isinstance(line, dict):
                handle.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
            elif isinstance(line, str):
                handle.write(line.encode() + b"\n")
            else:
                handle.write(line + b"\n")
    return path


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""The training and validation sets (``../shared/data`` next to the checkout)."""


def needs_shared_data(subdir: str) -> pytest.MarkDecorator:
    """Skip a test when ``../shared/data/<subdir>`` is absent (it is not in the repo)."""
    return pytest.mark.skipif(
        not (SHARED_DATA / subdir).is_dir(),
        reason=f"shared data not found at {SHARED_DATA} (../shared/data relative to the repo)",
    )


def member(
    session: Session,
    clock: Clock,
    email: str,
    tenant_ids: int | Iterable[int],
    role: str,
    *,
    name: str | None = None,
) -> User:
    """A user holding ``role`` in each of ``tenant_ids`` (the contact centre's staff serve
    several tenants: a membership in each), created when new."""
    ids = [tenant_ids] if isinstance(tenant_ids, int) else list(tenant_ids)
    user: User | None = None
    for tenant_id in ids:
        user, _ = add_member(session, clock, email, tenant_id, role, name=name)
    assert user is not None, "a member of no tenant"
    return user


def acting(session: Session, user_id: int, tenant_id: int, *, via: str = "cli") -> Principal:
    """The principal of ``user_id`` in the tenant, resolved from the database as a request,
    token or command would (NotFoundError when they hold no role there)."""
    user = session.get(User, user_id)
    tenant = session.get(Tenant, tenant_id)
    if user is None or tenant is None:
        raise NotFoundError(f"no user {user_id} or tenant {tenant_id}")
    return resolve(session, user, tenant, via=via)


def forged(user_id: int, tenant_id: int, *, role: str = "admin") -> Principal:
    """A principal nobody resolved: ``user_id`` claiming ``role`` in the tenant (services
    must refuse it unless the database agrees)."""
    return Principal(
        user_id=user_id,
        email=f"user{user_id}@forged.example",
        tenant_id=tenant_id,
        tenant_slug=f"tenant-{tenant_id}",
        role=role,
    )


def lead(session: Session, clock: Clock, tenant_id: int) -> Principal:
    """The contact centre's team lead (``lead@bpo.example``, supervisor in every tenant a
    test uses): the principal who sets up teams, queues and agents' profiles."""
    user = member(session, clock, "lead@bpo.example", tenant_id, "supervisor", name="Lead")
    return acting(session, user.id, tenant_id)
