"""RSS and Atom feeds (kind ``rss``): blogs, news, forums, alert feeds.

The feed is fetched through :class:`clameur.fetch.Fetcher` (SSRF rule, size and time
limits) with a conditional GET: the ``ETag`` and ``Last-Modified`` of the last answer are
kept in the cursor and a ``304 Not Modified`` polls nothing. feedparser parses it (its own
sanitising; it does not fetch anything when given bytes); entity declarations in the
document type are removed before parsing and reported, so no entity is ever expanded.

Each entry becomes one mention:

- ``external_id``: the entry's id (``<guid>``, ``<id>``), else its link (ids longer than
  the contract allows are replaced by ``sha256:`` + their digest, stable too);
- ``text``: the title, a blank line, then the content (or summary) as plain text — HTML is
  reduced to its text (:mod:`clameur.sources.html_text`), markup is never kept;
- ``author``: the entry's author name, else the feed's title, else the feed's host;
- ``created_at``: published, else updated; an entry with neither gets the poll's time;
- ``source``: the source's ``source`` setting (blog, news, forum…).

An edited entry (same id, new content) becomes an update of the stored mention. A feed with
malformed XML keeps the entries feedparser could read and reports the problem; an entry that
cannot become a mention (no id nor link) is reported, the others are kept.

The cursor: ``etag``, ``last_modified``, ``newest`` (the newest entry time seen) and
``seen`` — a fingerprint per entry id of the current feed. An entry already seen with the
same fingerprint is skipped cheaply; correctness does not rest on it, idempotence by
``(source, external_id)`` does.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import feedparser
from pydantic import BaseModel, ConfigDict, Field

from clameur.errors import InvalidInputError
from clameur.sources.base import (
    BaseConnector,
    PollContext,
    Polled,
    Problem,
    SourceConfig,
    SourceError,
)
from clameur.sources.html_text import html_to_text

MAX_ID_CHARS: Final = 300
MAX_TEXT_CHARS: Final = 100_000
MAX_SEEN: Final = 2000
"""Entries remembered in the cursor (a feed longer than this is re-read in part)."""

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_HARMLESS = ("CharacterEncodingOverride", "NonXMLContentType")
"""feedparser's "bozo" reasons that still mean a feed was read."""


class RssOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_bytes: int = Field(default=10 * 2**20, ge=1024, le=50 * 2**20)
    """The largest feed fetched (bytes, after decompression)."""
    timeout: float = Field(default=20.0, gt=0, le=120)
    """Seconds the whole fetch may take."""
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    """Language hint (ISO 639-1) for the feed's entries."""


class RssConnector(BaseConnector):
    kind: ClassVar[str] = "rss"
    default_source: ClassVar[str] = "blog"
    options_schema: ClassVar[type[BaseModel]] = RssOptions

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidInputError("a feed URL must be http:// or https://", where="url")

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        if not config.url:
            raise SourceError(f"source {config.name!r} has no URL")
        options = RssOptions.model_validate(dict(config.options))
        previous = dict(cursor or {})
        fetcher = context.fetcher(max_bytes=options.max_bytes, timeout=options.timeout)
        response = fetcher.get(
            config.url, etag=previous.get("etag"), last_modified=previous.get("last_modified")
        )
        if response.not_modified:
            return Polled(cursor=previous or None)
        polled = parse_feed(
            response.content,
            headers=response.headers,
            url=response.url,
            source=config.source,
            lang=options.lang,
            now=context.clock.now(),
            cursor=previous,
        )
        polled.cursor = {
            **(polled.cursor or {}),
            "etag": response.etag,
            "last_modified": response.last_modified,
        }
        return polled


def parse_feed(
    content: bytes,
    *,
    headers: Mapping[str, str],
    url: str,
    source: str,
    now: datetime,
    cursor: Mapping[str, Any] | None = None,
    lang: str | None = None,
) -> Polled:
    """The entries of a feed document as import records, with the new cursor (no ETag)."""
    problems: list[Problem] = []
    if _ENTITY_DECL.search(content):
        content = _DOCTYPE.sub(b"", content, count=1)
        problems.append(Problem("feed", "entity declarations removed, not expanded"))
        if _ENTITY_DECL.search(content):
            raise SourceError("the feed declares XML entities outside its document type")
    response_headers = {"content-type": headers.get("content-type", "application/xml")}
    parsed = feedparser.parse(
        io.BytesIO(content),
        response_headers=response_headers,
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    entries = list(parsed.entries)
    if parsed.bozo:
        error = parsed.get("bozo_exception")
        reason = " ".join(str(error).split())[:200] if error is not None else "malformed"
        harmless = type(error).__name__ in _HARMLESS
        if not entries and not parsed.version and not harmless:
            raise SourceError(f"not a readable RSS or Atom feed: {reason}")
        if not harmless:
            problems.append(Problem("feed", f"malformed XML ({reason}); {len(entries)} read"))
        elif type(error).__name__ == "CharacterEncodingOverride":
            problems.append(Problem("feed", f"wrong encoding declared ({reason})"))

    feed = parsed.feed
    fallback_author = _clean(str(feed.get("title") or "")) or urlsplit(url).hostname or "feed"
    seen_before: Mapping[str, str] = (cursor or {}).get("seen") or {}
    newest_before = (cursor or {}).get("newest")
    newest = _as_datetime(newest_before)
    seen: dict[str, str] = {}
    records: list[dict[str, Any]] = []
    for number, entry in enumerate(entries, start=1):
        where = f"entry {number}"
        external_id = _external_id(entry)
        if external_id is None:
            problems.append(Problem(where, "no id nor link: cannot tell it from other entries"))
            continue
        where = f"entry {number} ({external_id[:80]})"
        record = _record(entry, external_id, source, fallback_author, now, lang)
        if not record["text"]:
            problems.append(Problem(where, "no title nor content"))
            continue
        stamp = _entry_time(entry)
        fingerprint = _fingerprint(record, stamp)
        if len(seen) < MAX_SEEN:
            seen[external_id] = fingerprint
        if stamp is not None and (newest is None or stamp > newest):
            newest = stamp
        if seen_before.get(external_id) == fingerprint:
            continue  # already seen, unchanged
        records.append(record)
    new_cursor: dict[str, Any] = {
        "newest": newest.isoformat() if newest is not None else None,
        "seen": seen,
    }
    return Polled(records=records, cursor=new_cursor, problems=problems)


def _record(
    entry: Any, external_id: str, source: str, fallback_author: str, now: datetime, lang: str | None
) -> dict[str, Any]:
    title = _clean(_html_or_text(entry.get("title_detail"), entry.get("title")))
    body = ""
    contents = entry.get("content") or []
    if contents:
        body = "\n\n".join(_html_or_text(c, c.get("value")) for c in contents)
    elif entry.get("summary"):
        body = _html_or_text(entry.get("summary_detail"), entry.get("summary"))
    body = body.strip()
    text = title if not body or body == title else (f"{title}\n\n{body}" if title else body)
    author_name = _clean(str(entry.get("author") or ""))
    detail = entry.get("author_detail") or {}
    author: dict[str, Any] = {"handle": (author_name or fallback_author)[:200]}
    if detail.get("href"):
        author["url"] = str(detail["href"])[:2000]
    stamp = _entry_time(entry) or now
    record: dict[str, Any] = {
        "source": source,
        "external_id": external_id,
        "text": text[:MAX_TEXT_CHARS],
        "created_at": stamp.isoformat(),
        "author": author,
    }
    link = entry.get("link")
    if link:
        record["url"] = str(link)[:2000]
    if lang:
        record["lang"] = lang
    return record


def _html_or_text(detail: Any, value: Any) -> str:
    """A feed text construct as plain text: HTML reduced to its text, plain text as is."""
    text = str(value or "")
    kind = str((detail or {}).get("type") or "text/html")
    if "html" in kind or "<" in text:
        return html_to_text(text)
    return text.strip()


def _clean(text: str) -> str:
    return " ".join(html_to_text(text).split()) if "<" in text or "&" in text else text.strip()


def _external_id(entry: Any) -> str | None:
    value = str(entry.get("id") or entry.get("link") or "").strip()
    if not value:
        return None
    if len(value) > MAX_ID_CHARS:
        return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
    return value


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                stamp = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
            if datetime(1970, 1, 1, tzinfo=UTC) <= stamp < datetime(2100, 1, 1, tzinfo=UTC):
                return stamp
    return None


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _fingerprint(record: Mapping[str, Any], stamp: datetime | None) -> str:
    """What tells a version of an entry: its text, link, author and own date (an undated
    entry's ``created_at`` is the poll's time, which must not make it look new)."""
    parts = [str(record.get(k, "")) for k in ("text", "url", "author")]
    data = "\x1f".join([*parts, stamp.isoformat() if stamp else ""]).encode("utf-8", "replace")
    return hashlib.blake2b(data, digest_size=8).hexdigest()
