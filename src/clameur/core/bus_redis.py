"""The bus on Redis Streams (redis-py), for scaled-out deployments.

Keys, under ``prefix`` (default ``clameur:``): the stream itself, ``<stream>:dead`` (its
dead letters, trimmed to about ``dead_max`` entries with ``MAXLEN ~``) and
``<stream>:errors`` (a hash: the last recorded error of each pending entry). Semantics are
those of :mod:`clameur.core.bus`; how each maps onto Redis:

- ``publish``: a server-side script appends with ``XADD`` only while ``XLEN`` is below the
  bound (check and append are atomic, so concurrent producers never overshoot); a refused
  producer retries with a growing pause (backpressure). Work streams are never trimmed
  with ``MAXLEN``: that would drop entries nobody processed.
- ``read``: ``XREADGROUP … >`` (the group is created at id 0 on first use, with
  ``MKSTREAM``, so entries published before any worker started are read too).
- ``ack``: ``XACK`` + ``XDEL`` + ``HDEL`` in one ``MULTI``.
- ``touch``: ``XCLAIM … 0 … JUSTID`` by the entry's consumer (its idle time restarts).
- ``claim_stale``: ``XAUTOCLAIM`` with the minimum idle time; the delivery counters of what
  it claimed come from ``XPENDING``. Entries past ``max_deliveries`` are dead-lettered.
- dead letter: ``XADD <stream>:dead`` + ``XACK`` + ``XDEL`` + ``HDEL`` in one ``MULTI``.

Connection errors are retried with exponential backoff for about ``reconnect_seconds``
(a Redis restart). An ``XADD`` retried after a lost reply may append twice: consumers
must be idempotent (the ingest chunks are, through their import's sequence).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from clameur.core.bus import (
    DEFAULT_DEAD_MAX,
    DEFAULT_MAX_DELIVERIES,
    NO_ERROR,
    BusFullError,
    BusUnavailableError,
    DeadLetter,
    Message,
    OnDead,
    dead_stream,
    full_reason,
)

log = logging.getLogger(__name__)

_BOUNDED_XADD = """
local bound = tonumber(ARGV[1])
if bound > 0 and redis.call('XLEN', KEYS[1]) >= bound then
  return false
end
return redis.call('XADD', KEYS[1], '*', 'body', ARGV[2])
"""


class RedisBus:
    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "clameur:",
        max_backlog: int | None = None,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        publish_timeout: float | None = None,
        dead_max: int = DEFAULT_DEAD_MAX,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
        self.client = client
        self.prefix = prefix
        self.max_backlog = max_backlog
        self.max_deliveries = max_deliveries
        self.publish_timeout = publish_timeout
        self.dead_max = dead_max
        self._add = client.register_script(_BOUNDED_XADD)
        kwargs = client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        self.where = f"Redis at {where}"
        """The server, for error messages (no password)."""
        self._groups: set[tuple[str, str]] = set()

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "clameur:", reconnect_seconds: float = 30.0, **options: Any
    ) -> RedisBus:
        retries = max(1, int(reconnect_seconds / 0.5))
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            protocol=2,
            socket_connect_timeout=5,
            health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        return cls(client, prefix=prefix, **options)

    def _key(self, stream: str) -> str:
        return f"{self.prefix}{stream}"

    def _ensure_group(self, stream: str, group: str) -> None:
        if (stream, group) in self._groups:
            return
        try:
            self.client.xgroup_create(self._key(stream), group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((stream, group))

    def _grouped(self, stream: str, group: str, call: Any) -> Any:
        """Run ``call()`` against the group; recreate it once if Redis lost it (a server
        restarted without its data: then what it held is gone, and the group restarts)."""
        self._ensure_group(stream, group)
        try:
            return call()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("bus group missing: recreated", extra={"stream": stream, "group": group})
            self._groups.discard((stream, group))
            self._ensure_group(stream, group)
            return call()

    # -- the contract --------------------------------------------------------------------
    def publish(self, stream: str, body: dict[str, Any], *, bounded: bool = True) -> str:
        data = orjson.dumps(body)
        bound = self.max_backlog if bounded and self.max_backlog else 0
        start = time.monotonic()
        pause = 0.01
        while True:
            try:
                added = self._add(keys=[self._key(stream)], args=[bound, data])
            except (RedisConnectionError, RedisTimeoutError) as exc:
                raise BusUnavailableError(
                    f"bus ({self.where}, CLAMEUR_BUS_URL) unreachable: {exc}"
                ) from None
            if added:
                return str(added)
            waited = time.monotonic() - start
            if self.publish_timeout is not None and waited >= self.publish_timeout:
                raise BusFullError(full_reason(stream, bound, self.publish_timeout))
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def read(
        self, stream: str, group: str, consumer: str, count: int = 10, block_ms: int = 0
    ) -> list[Message]:
        key = self._key(stream)
        reply = self._grouped(
            stream,
            group,
            lambda: self.client.xreadgroup(
                group, consumer, {key: ">"}, count=count, block=block_ms or None
            ),
        )
        messages: list[Message] = []
        for _key, entries in _stream_entries(reply):
            for entry_id, fields in entries:
                messages.append(Message(entry_id, stream, _body(fields), 1))
        return messages

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        if not ids:
            return
        key = self._key(stream)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(key, group, *ids)
            pipe.xdel(key, *ids)
            pipe.hdel(f"{key}:errors", *ids)
            pipe.execute()

    def claim_stale(
        self,
        stream: str,
        group: str,
        consumer: str,
        min_idle_ms: int,
        count: int = 10,
        *,
        on_dead: OnDead | None = None,
    ) -> list[Message]:
        key = self._key(stream)
        reply = self._grouped(
            stream,
            group,
            lambda: self.client.xautoclaim(key, group, consumer, min_idle_ms, "0-0", count=count),
        )
        entries = [(i, f) for i, f in reply[1] if f is not None]
        if not entries:
            return []
        with self.client.pipeline(transaction=False) as pipe:
            for entry_id, _fields in entries:
                pipe.xpending_range(key, group, min=entry_id, max=entry_id, count=1)
            pipe.hmget(f"{key}:errors", [entry_id for entry_id, _ in entries])
            *pendings, errors = pipe.execute()
        claimed: list[Message] = []
        for (entry_id, fields), pending, error in zip(entries, pendings, errors, strict=True):
            deliveries = int(pending[0]["times_delivered"]) if pending else 1
            message = Message(entry_id, stream, _body(fields), deliveries)
            if deliveries > self.max_deliveries:
                reason = error or NO_ERROR.format(n=deliveries - 1)
                self._bury(stream, group, message, reason, deliveries - 1)
                if on_dead is not None:
                    on_dead(Message(entry_id, stream, message.body, deliveries - 1), reason)
                continue
            claimed.append(message)
        return claimed

    def touch(self, stream: str, group: str, consumer: str, ids: list[str]) -> None:
        if ids:  # XCLAIM … JUSTID: the idle time restarts, the delivery counter does not move
            self.client.xclaim(self._key(stream), group, consumer, 0, list[Any](ids), justid=True)

    def fail(self, stream: str, group: str, message: Message, error: str) -> bool:
        key = self._key(stream)
        pending = self.client.xpending_range(key, group, min=message.id, max=message.id, count=1)
        if not pending:
            return False  # acknowledged or buried meanwhile (another delivery of it)
        self.client.hset(f"{key}:errors", message.id, error)
        if message.deliveries >= self.max_deliveries:
            self._bury(stream, group, message, error, message.deliveries)
            return True
        return False

    def _bury(self, stream: str, group: str, message: Message, error: str, deliveries: int) -> None:
        key = self._key(stream)
        letter: dict[Any, Any] = {
            "source_id": message.id,
            "body": orjson.dumps(message.body),
            "error": error,
            "deliveries": deliveries,
        }
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self._key(dead_stream(stream)), letter, maxlen=self.dead_max, approximate=True
            )
            pipe.xack(key, group, message.id)
            pipe.xdel(key, message.id)
            pipe.hdel(f"{key}:errors", message.id)
            pipe.execute()
        log.warning(
            "bus entry dead-lettered",
            extra={"stream": stream, "id": message.id, "deliveries": deliveries, "error": error},
        )

    def pending(self, stream: str, group: str) -> int:
        summary = self._grouped(
            stream, group, lambda: self.client.xpending(self._key(stream), group)
        )
        return int(summary["pending"])

    def backlog(self, stream: str) -> int:
        return int(self.client.xlen(self._key(stream)))

    def dead_letters(self, stream: str, count: int = 100) -> list[DeadLetter]:
        entries: Any = self.client.xrange(self._key(dead_stream(stream)), count=count)
        return [
            DeadLetter(
                id=entry_id,
                source_id=fields.get("source_id", ""),
                body=_body({"body": fields.get("body", "")}),
                error=fields.get("error", ""),
                deliveries=int(fields.get("deliveries", 0)),
            )
            for entry_id, fields in entries
        ]

    def delete_keys(self) -> int:
        """Remove every key under this bus's prefix (tests; a fresh deployment)."""
        keys = list(self.client.scan_iter(match=f"{self.prefix}*", count=500))
        return int(self.client.delete(*keys)) if keys else 0


def _stream_entries(reply: Any) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """``XREADGROUP``'s reply (RESP2, which :meth:`RedisBus.from_url` asks for): a list of
    ``[stream, [(id, fields), …]]``, or None when nothing came."""
    return [(key, entries) for key, entries in reply or []]


def _body(fields: dict[str, str]) -> dict[str, Any]:
    raw = fields.get("body")
    try:
        body = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        return body
    return {"undecodable": raw}
