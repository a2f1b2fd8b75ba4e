"""Polling sources: one poller per source across processes, the cursor moved with its
mentions, backoff after failures.

A poll goes in three steps, like the outbox relay (``clameur.core.outbox``):

1. **claim**: one short transaction takes due sources (PostgreSQL: ``FOR UPDATE SKIP
   LOCKED``; the ``UPDATE`` re-checks the lease on the row, so on SQLite too only one
   poller wins) and writes a lease — a fresh token in ``lease_owner`` and ``lease_until``;
2. **poll**: the connector runs outside any transaction;
3. **commit**: in ONE transaction the records go through the pipeline (the ``ingest``
   callback the pipeline layer passes in) and the cursor and health move — only while the
   lease is still ours. A crash before this commit leaves the old cursor: the next poll
   fetches the same items again and idempotence by ``(source, external_id)`` stores each
   once.

A failed poll (the connector raised, the pipeline failed) records ``last_error`` (one line,
secrets masked), counts ``consecutive_failures`` and backs off exponentially with jitter,
never more often than the source's interval; a ``Retry-After`` is honoured
(``retry_after_until``). One source's failure never stops the others.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from clameur.clock import Clock
from clameur.config import Settings
from clameur.db.engine import session_scope
from clameur.errors import ClameurError
from clameur.sources.base import Connector, FetcherFactory, PollContext, Polled
from clameur.sources.models import Source
from clameur.sources.registry import connector as find_connector
from clameur.sources.service import config_of

log = logging.getLogger(__name__)

Counts = dict[str, Any]
"""``{"imported", "updated", "unchanged", "unmatched", "rejected", "errors": [{"line",
"reason"}]}`` — what the pipeline made of a poll's records."""

LEASE = timedelta(minutes=10)
"""How long a claimed source is reserved for its poller: longer than any poll."""
BASE_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)
HOURS_KEPT = 24


class Ingest(Protocol):
    """Runs ``records`` through the pipeline for ``tenant_id`` in one transaction, keeping
    only records some brand of the tenant matches, calls ``then(session, counts)`` in that
    same transaction before committing, and returns the counts. Retries the whole on a
    lost race with a concurrent writer (``then`` is called again)."""

    def __call__(
        self,
        records: Sequence[dict[str, Any]],
        tenant_id: int,
        then: Callable[[Session, Counts], None],
    ) -> Counts: ...


class LeaseLost(ClameurError):
    """The poll outlived its lease and another poller took the source: nothing is kept."""


@dataclass(frozen=True, slots=True)
class _Claim:
    source_id: int
    tenant_id: int
    token: str


@dataclass
class PollOutcome:
    """What one poll of one source did (``clameur poll --json`` items)."""

    source_id: int
    tenant_id: int
    name: str = ""
    kind: str = ""
    status: str = "ok"
    """ok, failed or lease_lost."""
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    next_run_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            **{k: self.counts.get(k, 0) for k in _COUNT_KEYS},
            "problems": self.problems,
            "error": self.error,
            "next_run_at": self.next_run_at.isoformat() if self.next_run_at else None,
        }


_COUNT_KEYS = ("imported", "updated", "unchanged", "unmatched", "rejected")


@dataclass
class Poller:
    """Polls due sources; one per process (or thread), any number at once."""

    factory: sessionmaker[Session]
    settings: Settings
    clock: Clock
    ingest: Ingest
    owner: str = field(default_factory=lambda: f"poller-{uuid.uuid4().hex[:8]}")
    lease: timedelta = LEASE
    fetcher_factory: FetcherFactory | None = None
    rng: random.Random = field(default_factory=random.Random)
    connector_of: Callable[[str], Connector] = find_connector

    # -- claim -------------------------------------------------------------------------

    def claim(
        self,
        *,
        tenant_id: int | None = None,
        source_ids: Sequence[int] | None = None,
        force: bool = False,
        limit: int = 20,
    ) -> list[_Claim]:
        """Lease up to ``limit`` enabled sources that are due (``force``: due or not) and
        not leased by another poller."""
        now = self.clock.now()
        with session_scope(self.factory) as session:  # load only the connectors in use
            present = session.scalars(
                select(Source.kind)
                .where(Source.enabled.is_(True))
                .distinct()
                .execution_options(all_tenants=True)
            ).all()
        polling = [k for k in present if self._polls(k)]
        if not polling:
            return []
        free = or_(Source.lease_until.is_(None), Source.lease_until <= now)
        due = or_(Source.next_run_at.is_(None), Source.next_run_at <= now)
        conditions = [Source.enabled.is_(True), Source.kind.in_(polling), free]
        if not force:
            conditions.append(due)
        if tenant_id is not None:
            conditions.append(Source.tenant_id == tenant_id)
        if source_ids is not None:
            conditions.append(Source.id.in_(list(source_ids)))
        token = f"{self.owner}:{uuid.uuid4().hex[:12]}"
        with session_scope(self.factory) as session:
            # Two statements, as in the outbox: PostgreSQL may re-run an ``IN (SELECT … FOR
            # UPDATE SKIP LOCKED LIMIT n)`` subquery per row.
            ids = session.scalars(
                select(Source.id)
                .where(*conditions)
                .order_by(Source.next_run_at.is_not(None), Source.next_run_at, Source.id)
                .limit(limit)
                .with_for_update(skip_locked=True)  # SQLite: ignored, its writers take turns
                .execution_options(all_tenants=True)
            ).all()
            if not ids:
                return []
            rows = session.execute(
                update(Source)
                .where(Source.id.in_(ids), *conditions)  # re-checked on the row itself
                .values(lease_owner=token, lease_until=now + self.lease)
                .returning(Source.id, Source.tenant_id)
                .execution_options(synchronize_session=False)
            ).all()
        return sorted((_Claim(row[0], row[1], token) for row in rows), key=lambda c: c.source_id)

    def _polls(self, kind: str) -> bool:
        """False for push connectors; True too for a kind whose plugin is missing or
        broken, so that its sources' polls fail and say why (``last_error``)."""
        try:
            return bool(self.connector_of(kind).polls)
        except ClameurError:
            return True

    # -- poll --------------------------------------------------------------------------

    def poll_due(
        self,
        *,
        tenant_id: int | None = None,
        source_ids: Sequence[int] | None = None,
        force: bool = False,
        limit: int = 20,
        stopping: Callable[[], bool] | None = None,
    ) -> list[PollOutcome]:
        """Claim what is due (``force``: every enabled source; ``source_ids``: among these)
        and poll each once."""
        claims = self.claim(tenant_id=tenant_id, source_ids=source_ids, force=force, limit=limit)
        outcomes: list[PollOutcome] = []
        for index, claim in enumerate(claims):
            if stopping is not None and stopping():
                self._release(claims[index:])
                break
            outcomes.append(self.poll_claimed(claim))
        return outcomes

    def poll_source(self, source_id: int, *, force: bool = True) -> PollOutcome | None:
        """Poll one source now (None: disabled, a push source, or another poller has it)."""
        claims = self.claim(source_ids=[source_id], force=force, limit=1)
        return self.poll_claimed(claims[0]) if claims else None

    def poll_claimed(self, claim: _Claim) -> PollOutcome:
        """Poll one leased source; never raises (a failure is recorded on the source)."""
        outcome = PollOutcome(source_id=claim.source_id, tenant_id=claim.tenant_id)
        secrets: Mapping[str, str] = {}
        try:
            with session_scope(self.factory) as session:
                row = session.get(Source, claim.source_id)
                if row is None:
                    raise LeaseLost(f"source {claim.source_id} was deleted")
                config = config_of(session, row)
                cursor = dict(row.cursor) if row.cursor is not None else None
                interval = row.interval_seconds
            outcome.name, outcome.kind = config.name, config.kind
            secrets = config.secrets
            plugin = self.connector_of(config.kind)
            context = PollContext(
                settings=self.settings,
                clock=self.clock,
                keep_alive=lambda: self.renew(claim),
                **({"fetcher_factory": self.fetcher_factory} if self.fetcher_factory else {}),
            )
            polled = plugin.poll(config, cursor, context)
            records = [_stamped(r, config.source) for r in polled.records]
            problems = [{"where": p.where, "reason": p.reason} for p in polled.problems]

            def commit(session: Session, counts: Counts) -> None:
                rejected = _rejections(records, counts.get("errors", []))
                outcome.problems = problems + rejected
                outcome.counts = {k: int(counts.get(k, 0)) for k in _COUNT_KEYS}
                outcome.next_run_at = self._succeeded(
                    session, claim, polled, interval, outcome.counts, len(outcome.problems)
                )

            self.ingest(records, claim.tenant_id, commit)
        except LeaseLost as error:
            outcome.status, outcome.error, outcome.counts = "lease_lost", str(error), {}
            log.warning(
                "source poll discarded", extra={"source": claim.source_id, "why": str(error)}
            )
        except Exception as error:  # noqa: BLE001 - one bad source never stops the others
            outcome.status, outcome.counts = "failed", {}  # nothing of it was committed
            outcome.error = one_line(error, secrets)
            outcome.next_run_at = self._failed(claim, outcome.error, _retry_after(error))
            log.warning(
                "source poll failed",
                extra={"source": claim.source_id, "kind": outcome.kind, "error": outcome.error},
            )
        return outcome

    def renew(self, claim: _Claim) -> None:
        """Extend the lease of a source being polled; :class:`LeaseLost` if it is gone."""
        with session_scope(self.factory) as session:
            result = session.execute(
                update(Source)
                .where(Source.id == claim.source_id, Source.lease_owner == claim.token)
                .values(lease_until=self.clock.now() + self.lease)
                .execution_options(synchronize_session=False)
            )
            if not isinstance(result, CursorResult) or result.rowcount != 1:
                raise LeaseLost(f"source {claim.source_id}: another poller took it")

    # -- record the outcome ------------------------------------------------------------

    def _succeeded(
        self,
        session: Session,
        claim: _Claim,
        polled: Polled,
        interval: int,
        counts: dict[str, int],
        problems: int,
    ) -> datetime:
        now = self.clock.now()
        next_run = now + timedelta(seconds=interval)
        retry_until = None
        if polled.retry_after:
            retry_until = now + timedelta(seconds=polled.retry_after)
            next_run = max(next_run, retry_until)
        row = session.get(Source, claim.source_id, populate_existing=True)
        stats = _stats(row.stats if row is not None else {}, now, counts, problems)
        self._write(
            session,
            claim,
            cursor=polled.cursor,
            last_polled_at=now,
            last_success_at=now,
            last_error=None,
            consecutive_failures=0,
            retry_after_until=retry_until,
            next_run_at=next_run,
            stats=stats,
        )
        return next_run

    def _failed(self, claim: _Claim, error: str, retry_after: float | None) -> datetime | None:
        now = self.clock.now()
        try:
            with session_scope(self.factory) as session:
                row = session.get(Source, claim.source_id)
                if row is None or row.lease_owner != claim.token:
                    return None
                failures = row.consecutive_failures + 1
                next_run = now + self.backoff(failures, row.interval_seconds)
                retry_until = None
                if retry_after is not None and retry_after > 0:
                    retry_until = now + timedelta(seconds=retry_after)
                    next_run = max(next_run, retry_until)
                self._write(
                    session,
                    claim,
                    last_polled_at=now,
                    last_error=error,
                    consecutive_failures=failures,
                    retry_after_until=retry_until,
                    next_run_at=next_run,
                )
                return next_run
        except Exception:  # the database itself is failing: the lease expires on its own
            log.exception("source failure could not be recorded", extra={"source": claim.source_id})
            return None

    def backoff(self, failures: int, interval_seconds: int) -> timedelta:
        """After ``failures`` failures in a row: 1, 2, 4… minutes up to 6 hours, never less
        than the source's interval, plus up to 25 % jitter (pollers do not stampede)."""
        exponential = BASE_BACKOFF * 2 ** min(failures - 1, 20)
        delay = max(timedelta(seconds=interval_seconds), min(exponential, MAX_BACKOFF))
        jitter: float = 1 + 0.25 * self.rng.random()
        return timedelta(seconds=delay.total_seconds() * jitter)

    def _write(self, session: Session, claim: _Claim, **values: Any) -> None:
        """Update the source and give the lease back, only while the lease is ours."""
        result = session.execute(
            update(Source)
            .where(Source.id == claim.source_id, Source.lease_owner == claim.token)
            .values(lease_owner=None, lease_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        if not isinstance(result, CursorResult) or result.rowcount != 1:
            raise LeaseLost(f"source {claim.source_id}: the lease expired during the poll")

    def _release(self, claims: Sequence[_Claim]) -> None:
        """Give back sources claimed but not polled (shutting down): due again at once."""
        with session_scope(self.factory) as session:
            for claim in claims:
                session.execute(
                    update(Source)
                    .where(Source.id == claim.source_id, Source.lease_owner == claim.token)
                    .values(lease_owner=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )


def _stamped(record: dict[str, Any], source: str) -> dict[str, Any]:
    if isinstance(record, dict) and "source" not in record:
        return {**record, "source": source}
    return record


def _rejections(
    records: Sequence[dict[str, Any]], errors: Sequence[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """The pipeline's rejections as problems naming the item (its external_id)."""
    out: list[dict[str, str]] = []
    for error in errors:
        line = int(error.get("line", 0))
        record = records[line - 1] if 0 < line <= len(records) else {}
        external_id = record.get("external_id") if isinstance(record, dict) else None
        where = f"item {line}" + (f" ({external_id})" if external_id else "")
        out.append({"where": where, "reason": str(error.get("reason", ""))})
    return out


def record_push(session: Session, source_id: int, now: datetime, counts: Mapping[str, Any]) -> None:
    """A push source (webhook) received a batch: its health shows when, and its counts."""
    row = session.get(Source, source_id)
    if row is None:
        return
    kept = {k: int(counts.get(k, 0)) for k in _COUNT_KEYS}
    row.stats = _stats(row.stats, now, kept, 0)
    row.last_polled_at = now
    if kept["rejected"] == 0 or any(kept[k] for k in _COUNT_KEYS if k != "rejected"):
        row.last_success_at = now
        row.last_error = None
    else:
        row.last_error = f"every line of the last batch was rejected ({kept['rejected']})"


def _stats(
    previous: Mapping[str, Any] | None, now: datetime, counts: dict[str, int], problems: int
) -> dict[str, Any]:
    hours = dict((previous or {}).get("hours", {}))
    hour = now.strftime("%Y-%m-%dT%H")
    hours[hour] = int(hours.get(hour, 0)) + counts.get("imported", 0) + counts.get("updated", 0)
    oldest = (now - timedelta(hours=HOURS_KEPT - 1)).strftime("%Y-%m-%dT%H")
    hours = {h: n for h, n in sorted(hours.items()) if h >= oldest}
    return {"last": {**counts, "problems": problems, "at": now.isoformat()}, "hours": hours}


def _retry_after(error: BaseException) -> float | None:
    """``retry_after`` of a rate-limit error (the connector's or the fetcher's)."""
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None


def one_line(error: BaseException, secrets: Mapping[str, str] | None = None) -> str:
    """The error as one line of at most 500 characters, secret values masked."""
    text = str(error) if isinstance(error, ClameurError) else f"{type(error).__name__}: {error}"
    text = " ".join(text.split()) or type(error).__name__
    for value in (secrets or {}).values():
        if value and len(value) >= 3:
            text = text.replace(value, "***")
    return text[:500]


__all__ = ["Counts", "Ingest", "LeaseLost", "PollOutcome", "Poller", "one_line"]
