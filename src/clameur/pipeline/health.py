"""Readiness: can this process do its work? One check per dependency.

- ``database``: a connection answers ``SELECT 1``;
- ``migrations``: the schema is at the head revision (``clameur init`` migrates);
- ``outbox_relay``: no due outbox event has waited longer than ``ready_relay_stale_seconds``
  (some relay — in this process or a worker — delivers);
- ``bus`` (only with ``CLAMEUR_BUS_URL=redis://…``): Redis answers ``PING``.

Details name what failed, never a host, a password or a driver's message (the endpoint is
public: load balancers probe it); the logs have the errors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select, text

from clameur.clock import Clock
from clameur.core.models import OutboxEvent
from clameur.db import current_revision
from clameur.db.migrate import head_revision

if TYPE_CHECKING:
    from clameur.config import Settings
    from clameur.core.bus_redis import RedisBus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


@lru_cache(maxsize=1)
def _head() -> str | None:
    return head_revision()


def readiness(
    engine: Engine, settings: Settings, clock: Clock, bus: RedisBus | None = None
) -> dict[str, Check]:
    """Each dependency's check, in order; a check that cannot run (its database is down)
    fails saying so."""
    checks: dict[str, Check] = {}
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = Check(True)
    except Exception:
        log.warning("readiness: the database is unreachable", exc_info=True)
        checks["database"] = Check(False, "unreachable")
    if checks["database"].ok:
        checks["migrations"] = _migrations(engine)
        if checks["migrations"].ok:
            checks["outbox_relay"] = _relay(engine, settings, clock)
        else:
            checks["outbox_relay"] = Check(False, "not checked: the schema is not current")
    else:
        checks["migrations"] = Check(False, "not checked: the database is unreachable")
        checks["outbox_relay"] = Check(False, "not checked: the database is unreachable")
    if bus is not None:
        try:
            bus.client.ping()
            checks["bus"] = Check(True)
        except Exception:
            log.warning("readiness: the Redis bus is unreachable", exc_info=True)
            checks["bus"] = Check(False, "unreachable")
    return checks


def _migrations(engine: Engine) -> Check:
    try:
        revision = current_revision(engine)
    except Exception:
        log.warning("readiness: the schema revision could not be read", exc_info=True)
        return Check(False, "the schema revision could not be read")
    head = _head()
    if revision == head:
        return Check(True)
    state = "not initialised" if revision is None else f"at revision {revision}"
    return Check(False, f"{state}, head is {head}: run `clameur init`")


def _relay(engine: Engine, settings: Settings, clock: Clock) -> Check:
    now = clock.now()
    try:
        with engine.connect() as connection:
            oldest = connection.scalar(
                select(func.min(OutboxEvent.available_at)).where(
                    OutboxEvent.status == "pending", OutboxEvent.available_at <= now
                )
            )
    except Exception:
        log.warning("readiness: the outbox could not be read", exc_info=True)
        return Check(False, "the outbox could not be read")
    if oldest is None:
        return Check(True)
    waited = (now - oldest).total_seconds()
    if waited <= settings.ready_relay_stale_seconds:
        return Check(True)
    return Check(
        False,
        f"the oldest due outbox event has waited {waited:.0f} s (more than "
        f"{settings.ready_relay_stale_seconds:g}): is a relay (serve or worker) running?",
    )
