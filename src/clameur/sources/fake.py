"""A connector for tests and trials (kind ``fake``): its items come from its options or a
JSON Lines file, read afresh at every poll, so a test changes what the "remote" says by
rewriting the file.

Each line (or item of ``items``) is a record in the import format; ``created_at`` defaults
to the poll time and ``source`` to the source's. Special lines:

- ``{"_raise": "transient" | "rate_limited" | "permanent", "message": "…",
  "retry_after": 30}``: the poll fails that way (nothing else is read);
- anything that is not a JSON object, or lacks ``external_id``: a problem, reported.

The cursor counts polls and keeps the highest ``external_id`` seen (``{"polls": n,
"last": "…"}``); correctness does not rest on it (idempotence does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from clameur.sources.base import (
    BaseConnector,
    PollContext,
    Polled,
    Problem,
    RateLimitedError,
    SourceConfig,
    SourceError,
    TransientSourceError,
)


class FakeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str | None = None
    """A JSON Lines file of records, read at every poll."""
    items: list[Any] = []
    """Records given inline (after the file's)."""


class FakeConnector(BaseConnector):
    kind: ClassVar[str] = "fake"
    default_source: ClassVar[str] = "other"
    needs_url: ClassVar[bool] = False
    options_schema: ClassVar[type[BaseModel]] = FakeOptions
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        options = FakeOptions.model_validate(dict(config.options))
        items: list[tuple[str, Any]] = []
        if options.file:
            path = Path(options.file)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as error:
                raise TransientSourceError(f"{path}: {error.strerror or error}") from error
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    items.append((f"{path.name}:{number}", json.loads(line)))
                except json.JSONDecodeError as error:
                    items.append((f"{path.name}:{number}", Problem("", f"not JSON: {error.msg}")))
        items += [(f"items[{i}]", item) for i, item in enumerate(options.items)]

        polled = Polled()
        now = context.clock.now().isoformat()
        last = (cursor or {}).get("last")
        for where, item in items:
            if isinstance(item, Problem):
                polled.problems.append(Problem(where, item.reason))
                continue
            if isinstance(item, dict) and "_raise" in item:
                _raise(item)
            if not isinstance(item, dict) or not item.get("external_id"):
                polled.problems.append(Problem(where, "not a record with an external_id"))
                continue
            record = dict(item)
            record.setdefault("source", config.source)
            record.setdefault("created_at", now)
            polled.records.append(record)
            external_id = str(record["external_id"])
            last = external_id if last is None or external_id > last else last
        polled.cursor = {"polls": int((cursor or {}).get("polls", 0)) + 1, "last": last}
        return polled


def _raise(item: dict[str, Any]) -> None:
    message = str(item.get("message") or "fake failure")
    how = item["_raise"]
    if how == "rate_limited":
        retry = item.get("retry_after")
        raise RateLimitedError(message, retry_after=float(retry) if retry is not None else None)
    if how == "transient":
        raise TransientSourceError(message)
    raise SourceError(message)
