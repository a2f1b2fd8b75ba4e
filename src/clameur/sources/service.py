"""Managing sources: add (options validated, secrets stored apart), list, show, enable,
disable; the configuration a connector is given (:func:`load_config`).

What is shown (``describe``) never holds a secret: secrets appear by name only
(``{"password": "set"}``) and a URL's password is masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.clock import Clock
from clameur.db.repository import TenantRepository
from clameur.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clameur.sources.base import SOURCES, SourceConfig
from clameur.sources.models import Source, SourceSecret
from clameur.sources.registry import connector
from clameur.tenancy.audit import audit

MIN_INTERVAL = 10
MAX_INTERVAL = 7 * 24 * 3600
DEFAULT_INTERVAL = 900
"""Seconds between two polls of a source unless ``--interval`` says."""


class Sources(TenantRepository[Source]):
    model = Source


def add_source(
    session: Session,
    clock: Clock,
    *,
    tenant_id: int,
    kind: str,
    url: str | None = None,
    name: str | None = None,
    options: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    interval_seconds: int | None = None,
    source: str | None = None,
    actor_id: int | None = None,
) -> Source:
    """A new enabled source, due at once. Options are validated by the connector's schema;
    secrets must be among the connector's ``secret_fields``."""
    plugin = connector(kind)
    url = (url or "").strip() or None
    if plugin.needs_url and url is None:
        raise InvalidInputError(f"a {kind} source needs --url", where="url")
    check_url = getattr(plugin, "check_url", None)
    if url is not None and callable(check_url):
        check_url(url)
    if interval_seconds is None:  # the connector's own rhythm (search results: daily)
        interval_seconds = int(getattr(plugin, "default_interval", DEFAULT_INTERVAL))
    if not MIN_INTERVAL <= interval_seconds <= MAX_INTERVAL:
        raise InvalidInputError(
            f"must be between {MIN_INTERVAL} and {MAX_INTERVAL} seconds, not {interval_seconds}",
            where="interval",
        )
    source = source or plugin.default_source
    if source not in SOURCES:
        raise InvalidInputError(
            f"unknown mention source {source!r} (one of: {', '.join(SOURCES)})", where="source"
        )
    defaults = getattr(plugin, "default_options", None)
    given = {k: v for k, v in (options or {}).items() if v not in (None, "", [])}
    if callable(defaults):  # what the connector can take from the tenant (its brand names)
        given = {**defaults(session, tenant_id), **given}
    validated = validate_options(kind, given)
    secrets = prepare_secrets(kind, secrets)
    unknown = sorted(set(secrets) - set(plugin.secret_fields))
    if unknown:
        allowed = ", ".join(plugin.secret_fields) or "none"
        raise InvalidInputError(
            f"unknown secret {unknown[0]!r} for a {kind} source (known: {allowed})",
            where="secret",
        )
    name = (name or "").strip() or _default_name(session, tenant_id, kind, url)
    if len(name) > 100:
        raise InvalidInputError("at most 100 characters", where="name")
    repo = Sources(session, tenant_id)
    if session.scalars(repo.select().where(Source.name == name)).first() is not None:
        raise AlreadyExistsError(f"source {name!r} exists already in this tenant")
    now = clock.now()
    row = Source(
        tenant_id=tenant_id,
        kind=kind,
        name=name,
        url=url,
        source=source,
        options=validated,
        enabled=True,
        interval_seconds=interval_seconds,
        cursor=None,
        next_run_at=now,
        consecutive_failures=0,
        stats={},
        created_at=now,
    )
    session.add(row)
    session.flush()
    if secrets:
        session.add(SourceSecret(source_id=row.id, tenant_id=tenant_id, values=secrets))
    audit(
        session,
        tenant_id=tenant_id,
        at=now,
        actor_id=actor_id,
        action="source.add",
        object_type="source",
        object_id=row.id,
        data={"kind": kind, "name": name, "url": shown_url(url), "secrets": sorted(secrets)},
    )
    session.flush()
    return row


def prepare_secrets(kind: str, given: Mapping[str, str] | None) -> dict[str, str]:
    """The secrets to store for a new source of ``kind``: ``given``, completed by the
    connector's ``generate_secrets(given)`` when it has one (a webhook's signing secret).
    The caller shows what was generated once; it is never shown again."""
    plugin = connector(kind)
    generate = getattr(plugin, "generate_secrets", None)
    out = dict(given or {})
    if callable(generate):
        out = dict(generate(out))
    return out


def validate_options(kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options as the connector's schema reads them (defaults filled in), JSON-able."""
    schema = connector(kind).options_schema
    try:
        model = schema.model_validate(dict(options))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "options"
        raise InvalidInputError(first["msg"], where=f"option {where}") from None
    dumped: dict[str, Any] = model.model_dump(mode="json")
    return dumped


def _default_name(session: Session, tenant_id: int, kind: str, url: str | None) -> str:
    base = (urlsplit(url).hostname if url else None) or kind
    base = base[:90]
    taken = set(session.scalars(Sources(session, tenant_id).select(Source.name)).all())
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


def get_source(session: Session, source_id: int, tenant_id: int | None = None) -> Source:
    """The source ``source_id`` (within ``tenant_id`` when given: another tenant's is not
    found, like one that does not exist)."""
    if tenant_id is not None:
        return Sources(session, tenant_id).get(source_id)
    found = session.scalars(
        select(Source).where(Source.id == source_id).execution_options(all_tenants=True)
    ).first()
    if found is None:
        raise NotFoundError(f"source {source_id} not found")
    return found


def list_sources(session: Session, tenant_id: int) -> list[Source]:
    repo = Sources(session, tenant_id)
    return list(repo.all(repo.select().order_by(Source.id)))


def set_enabled(
    session: Session,
    clock: Clock,
    source_id: int,
    enabled: bool,
    *,
    tenant_id: int | None = None,
    actor_id: int | None = None,
) -> Source:
    """Enable (due at once, backoff forgotten) or disable (never polled) a source."""
    row = get_source(session, source_id, tenant_id)
    now = clock.now()
    if row.enabled != enabled:
        row.enabled = enabled
        if enabled:
            row.next_run_at = now
            row.consecutive_failures = 0
            row.retry_after_until = None
        audit(
            session,
            tenant_id=row.tenant_id,
            at=now,
            actor_id=actor_id,
            action="source.enable" if enabled else "source.disable",
            object_type="source",
            object_id=row.id,
            data={"name": row.name},
        )
        session.flush()
    return row


def secret_names(session: Session, source: Source) -> list[str]:
    stored = session.get(SourceSecret, source.id)
    return sorted(stored.values) if stored is not None else []


def config_of(session: Session, row: Source) -> SourceConfig:
    stored = session.get(SourceSecret, row.id)
    return SourceConfig(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=row.kind,
        name=row.name,
        url=row.url,
        source=row.source,
        options=dict(row.options or {}),
        secrets=dict(stored.values) if stored is not None else {},
    )


def load_config(session: Session, source_id: int, tenant_id: int | None = None) -> SourceConfig:
    """What the connector of ``source_id`` is given, secrets included (never show it)."""
    return config_of(session, get_source(session, source_id, tenant_id))


# -- what is shown ---------------------------------------------------------------------


def shown_url(url: str | None) -> str | None:
    """``url`` with its password (if any) masked."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def health(row: Source, now: datetime) -> dict[str, Any]:
    """The health panel's data: last success and error, backoff state, items per hour."""
    stats = row.stats or {}
    hours: dict[str, int] = stats.get("hours", {})
    this_hour = now.strftime("%Y-%m-%dT%H")
    day_ago = (now - timedelta(hours=23)).strftime("%Y-%m-%dT%H")
    backing_off = row.consecutive_failures > 0 or (
        row.retry_after_until is not None and row.retry_after_until > now
    )
    return {
        "last_polled_at": _iso(row.last_polled_at),
        "last_success_at": _iso(row.last_success_at),
        "last_error": row.last_error,
        "consecutive_failures": row.consecutive_failures,
        "retry_after_until": _iso(row.retry_after_until),
        "next_run_at": _iso(row.next_run_at),
        "backing_off": backing_off,
        "polling": row.lease_until is not None and row.lease_until > now,
        "items_last_hour": int(hours.get(this_hour, 0)),
        "items_last_24h": sum(int(n) for hour, n in hours.items() if hour >= day_ago),
        "last_poll": stats.get("last"),
    }


def _cursor_shown(cursor: dict[str, Any] | None) -> dict[str, Any] | None:
    """The cursor with its long collections (an RSS feed's seen entries…) counted, not
    listed: ``{"seen": {"count": 1200}}``."""
    if cursor is None:
        return None
    return {
        key: {"count": len(value)} if isinstance(value, dict | list) and len(value) > 20 else value
        for key, value in cursor.items()
    }


def describe(session: Session, row: Source, now: datetime) -> dict[str, Any]:
    """A source as ``source show --json`` and the API show it (secrets by name only)."""
    return {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "kind": row.kind,
        "name": row.name,
        "url": shown_url(row.url),
        "source": row.source,
        "enabled": row.enabled,
        "interval_seconds": row.interval_seconds,
        "options": dict(row.options or {}),
        "secrets": dict.fromkeys(secret_names(session, row), "set"),
        "cursor": _cursor_shown(row.cursor),
        "created_at": row.created_at.isoformat(),
        "health": health(row, now),
    }
