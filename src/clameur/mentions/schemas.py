"""The canonical mention record and its normalisation from the import contract."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson

SOURCE_ORDER: Final[tuple[str, ...]] = (
    "twitter",
    "facebook",
    "instagram",
    "mastodon",
    "bluesky",
    "reddit",
    "forum",
    "blog",
    "news",
    "review",
    "email",
    "web",
    "other",
)
"""The import contract's sources, in the contract's order."""
SOURCES: Final = frozenset(SOURCE_ORDER)
KNOWN_FIELDS: Final = frozenset(
    {
        "source",
        "external_id",
        "text",
        "created_at",
        "author",
        "url",
        "in_reply_to",
        "rating",
        "lang",
        "brand",
        "metrics",
    }
)
AUTHOR_FIELDS: Final = frozenset({"handle", "name", "followers", "created_at", "verified", "url"})
METRIC_FIELDS: Final = frozenset({"likes", "shares", "replies"})
MAX_TEXT_CHARS: Final = 100_000
MAX_ID_CHARS: Final = 300
DATE_MIN: Final = datetime(1970, 1, 1, tzinfo=UTC)
DATE_MAX: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""The one accepted range of dates (both ends included), for the import format's date fields,
the API's ``since``/``until`` and search cursors: outside it, arithmetic on dates (windows,
deadlines) could overflow, and no mention is that old or that far ahead."""
DATE_RANGE: Final = "1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z"
MAX_EXTRA_DEPTH: Final = 32
"""How deeply an unknown field may nest arrays and objects (``[[1]]`` is 2 levels)."""
MAX_EXTRA_BYTES: Final = 64 * 1024
"""How large an unknown field may be, serialized as JSON."""


class RecordError(ValueError):
    """A record that breaks the import contract; the message names the field."""


@dataclass(frozen=True, slots=True)
class AuthorIn:
    handle: str
    name: str | None = None
    followers: int | None = None
    created_at: datetime | None = None
    verified: bool = False
    url: str | None = None


@dataclass(frozen=True, slots=True)
class MentionIn:
    """A mention as the pipeline sees it, whatever connector or file it came from."""

    source: str
    external_id: str
    text: str
    created_at: datetime
    author: AuthorIn
    url: str | None = None
    in_reply_to: str | None = None
    rating: int | None = None
    lang: str | None = None
    brand: str | None = None
    metrics: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def content_hash(self) -> str:
        """Identifies a version: same hash, nothing to update."""
        a = self.author
        payload = (
            self.text,
            self.url,
            self.in_reply_to,
            self.rating,
            self.lang,
            self.metrics,
            a.handle,
            a.name,
            a.followers,
            a.created_at.isoformat() if a.created_at else None,
            a.verified,
            a.url,
            self.extra,
        )
        data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)
        return hashlib.blake2b(data, digest_size=16).hexdigest()


def _text(raw: dict[str, Any], name: str, *, required: bool, limit: int, label: str = "") -> Any:
    label = label or name
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise RecordError(f"missing required field '{label}'")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError(f"field '{label}' must be a string, got {type(value).__name__}")
    text = str(value).replace("\x00", "").strip()
    if required and not text:
        raise RecordError(f"field '{label}' is empty")
    if len(text) > limit:
        raise RecordError(f"field '{label}' is longer than {limit} characters ({len(text)})")
    return text or None


def parse_datetime(value: Any, label: str) -> datetime:
    """ISO 8601 with a zone; ``Z`` accepted. A naive value is refused (ambiguous)."""
    if not isinstance(value, str):
        raise RecordError(f"field '{label}' must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RecordError(f"field '{label}': unparseable date {value[:40]!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RecordError(f"field '{label}': date {value[:40]!r} has no time zone")
    if not in_date_range(parsed):
        raise RecordError(f"field '{label}': date {value[:40]!r} is outside {DATE_RANGE}")
    return parsed


def in_date_range(value: datetime) -> bool:
    """Whether ``value`` lies in the accepted range (a naive value is taken as UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    try:
        return DATE_MIN <= value <= DATE_MAX
    except OverflowError:  # an offset that pushes the value past year 1 or 9999
        return False


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays/objects deeper than ``limit``; iterative, and stops at
    the first container past the limit, so any depth costs at most the walk to it."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _without_nul(value: Any) -> Any:
    """PostgreSQL refuses NUL in text and JSON: drop it from kept raw fields.

    Only called on values whose depth is bounded (:func:`_extra_field`).
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def _extra_field(name: str, value: Any) -> Any:
    """An unknown field, kept raw once checked against the depth and size bounds."""
    label = name.replace("\x00", "")[:60]
    if _depth_over(value, MAX_EXTRA_DEPTH):
        raise RecordError(f"unknown field {label!r} nests deeper than {MAX_EXTRA_DEPTH} levels")
    clean = _without_nul(value)
    try:
        size = len(orjson.dumps(clean, default=str))
    except (TypeError, ValueError) as exc:
        raise RecordError(f"unknown field {label!r} cannot be stored as JSON: {exc}") from None
    if size > MAX_EXTRA_BYTES:
        raise RecordError(
            f"unknown field {label!r} is larger than {MAX_EXTRA_BYTES} bytes as JSON ({size})"
        )
    return clean


def _int(value: Any, label: str, *, low: int = 0, high: int = 2**62) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"field '{label}' must be an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise RecordError(f"field '{label}' must be an integer, got {value[:20]!r}") from None
    if not isinstance(value, int):
        raise RecordError(f"field '{label}' must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise RecordError(f"field '{label}' must be between {low} and {high}, got {value}")
    return value


def _bool(value: Any, label: str) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "false", "0", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise RecordError(f"field '{label}' must be a boolean, got {str(value)[:20]!r}")


def _author(raw: Any) -> AuthorIn:
    if not isinstance(raw, dict):
        raise RecordError("missing required field 'author.handle'")
    handle = _text(raw, "handle", required=True, limit=200, label="author.handle")
    created = raw.get("created_at")
    return AuthorIn(
        handle=handle.lstrip("@") or handle,
        name=_text(raw, "name", required=False, limit=300, label="author.name"),
        followers=_int(raw.get("followers"), "author.followers"),
        created_at=parse_datetime(created, "author.created_at") if created else None,
        verified=_bool(raw.get("verified"), "author.verified"),
        url=_text(raw, "url", required=False, limit=2000, label="author.url"),
    )


def _metrics(raw: Any) -> dict[str, int]:
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, dict):
        raise RecordError("field 'metrics' must be an object of integers")
    out: dict[str, int] = {}
    for key, value in raw.items():
        number = _int(value, f"metrics.{key}")
        if number is not None:
            out[str(key)] = number
    return out


def normalise(raw: dict[str, Any]) -> MentionIn:
    """Check one import-contract record and build the canonical mention.

    Raises :class:`RecordError` naming the first offending field.
    """
    source = _text(raw, "source", required=True, limit=20)
    source = source.lower()
    if source not in SOURCES:
        raise RecordError(
            f"unknown source {source!r} (expected one of {', '.join(sorted(SOURCES))})"
        )
    external_id = _text(raw, "external_id", required=True, limit=MAX_ID_CHARS)
    text = _text(raw, "text", required=True, limit=MAX_TEXT_CHARS)
    if "created_at" not in raw or raw["created_at"] in (None, ""):
        raise RecordError("missing required field 'created_at'")
    created_at = parse_datetime(raw["created_at"], "created_at")
    author = _author(raw.get("author"))
    lang = _text(raw, "lang", required=False, limit=8)
    extra = {
        str(k).replace("\x00", ""): _extra_field(str(k), v)
        for k, v in raw.items()
        if k not in KNOWN_FIELDS
    }
    return MentionIn(
        source=source,
        external_id=external_id,
        text=text,
        created_at=created_at,
        author=author,
        url=_text(raw, "url", required=False, limit=2000),
        in_reply_to=_text(raw, "in_reply_to", required=False, limit=MAX_ID_CHARS),
        rating=_int(raw.get("rating"), "rating", low=1, high=5),
        lang=lang.lower() if lang else None,
        brand=_text(raw, "brand", required=False, limit=63),
        metrics=_metrics(raw.get("metrics")),
        extra=extra,
    )
