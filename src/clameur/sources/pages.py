"""Web pages and review sites (kind ``pages``): a configured list of pages, each fetched with
a conditional GET through :class:`clameur.fetch.Fetcher` (SSRF rules, size and time limits).

- A page with review blocks (:mod:`clameur.sources.reviews`: schema.org ``Review`` in JSON-LD
  or microdata) gives one mention per review — source ``review``, author, rating 1–5, date,
  ``external_id`` = the page URL + ``#review-<key>`` — and a new review on the next poll is a
  new mention.
- Any other page gives one mention (source ``web`` unless the source says otherwise,
  ``external_id`` = the page URL): its main text extracted by trafilatura (menus, footers and
  boilerplate left out); when the text changes, the mention is updated (its edit history
  keeps the old text).

Options: ``urls`` (http/https, at most 200), ``reviews`` (look for review blocks, default
true), ``max_bytes`` a page. The cursor keeps each page's ETag, Last-Modified and text hash,
so an unchanged page (304, or the same text) yields nothing. A page that fails is a reported
problem, the others are read; the poll fails only when every page failed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from typing import Any, ClassVar, Final

import httpx
import trafilatura
from pydantic import BaseModel, ConfigDict, Field, field_validator

from clameur.errors import InvalidInputError
from clameur.fetch import FetchError, RateLimitedError
from clameur.sources.base import (
    BaseConnector,
    PollContext,
    Polled,
    Problem,
    SourceConfig,
    TransientSourceError,
)
from clameur.sources.reviews import Review, reviews_in

log = logging.getLogger(__name__)

MAX_TEXT: Final = 100_000
MAX_ID: Final = 300
_META_CHARSET: Final = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.I)


class PagesOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(min_length=1, max_length=200)
    reviews: bool = True
    """Look for review blocks (schema.org Review) and make one mention per review."""
    max_bytes: int = Field(5 * 2**20, ge=1024, le=50 * 2**20)

    @field_validator("urls")
    @classmethod
    def _http_only(cls, urls: list[str]) -> list[str]:
        out = []
        for url in urls:
            url = url.strip()
            try:
                parsed = httpx.URL(url)
            except httpx.InvalidURL:
                raise ValueError(f"not a URL: {url[:200]!r}") from None
            if parsed.scheme not in {"http", "https"} or not parsed.host:
                raise ValueError(f"only http:// and https:// pages are read, not {url[:200]!r}")
            out.append(url)
        return list(dict.fromkeys(out))


class PagesConnector(BaseConnector):
    kind: ClassVar[str] = "pages"
    default_source: ClassVar[str] = "web"
    needs_url: ClassVar[bool] = False
    options_schema: ClassVar[type[BaseModel]] = PagesOptions

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        try:
            options = PagesOptions.model_validate(dict(config.options))
        except ValueError as exc:
            raise InvalidInputError(str(exc), where="options") from None
        if config.url and config.url not in options.urls:
            options.urls.insert(0, config.url)
        fetcher = context.fetcher(max_bytes=options.max_bytes)
        seen: dict[str, dict[str, Any]] = dict((cursor or {}).get("pages") or {})
        polled = Polled()
        failures: list[str] = []
        now = context.clock.now()
        for index, url in enumerate(options.urls):
            if index:
                context.keep_alive()  # the source's lease, for a long list of pages
            before = seen.get(url) or {}
            try:
                response = fetcher.get(
                    url, etag=before.get("etag"), last_modified=before.get("last_modified")
                )
            except RateLimitedError as exc:
                polled.problems.append(Problem(url, str(exc.reason)))
                polled.retry_after = max(polled.retry_after or 0.0, exc.retry_after or 0.0) or None
                failures.append(str(exc))
                continue
            except FetchError as exc:
                polled.problems.append(Problem(url, exc.reason))
                failures.append(str(exc))
                continue
            if response.not_modified:
                continue
            html = _decoded(response.content, response.headers.get("content-type", ""))
            records = _records(url, response.url, html, config, options, now)
            state = {
                "etag": response.etag,
                "last_modified": response.last_modified,
                "hash": _fingerprint(records),
            }
            if state["hash"] != before.get("hash"):
                if not records:
                    polled.problems.append(Problem(url, "no text found on the page"))
                polled.records.extend(records)
            seen[url] = state
        if failures and len(failures) == len(options.urls):
            raise TransientSourceError(f"every page failed; first: {failures[0]}")
        polled.cursor = {"pages": {url: seen[url] for url in options.urls if url in seen}}
        return polled


def _records(
    url: str,
    final_url: str,
    html: str,
    config: SourceConfig,
    options: PagesOptions,
    now: datetime,
) -> list[dict[str, Any]]:
    host = httpx.URL(final_url).host or httpx.URL(url).host
    if options.reviews:
        found = reviews_in(html, final_url)
        if found:
            return [_review_record(url, final_url, review, now) for review in found]
    text = trafilatura.extract(
        html, url=final_url, include_comments=False, include_tables=True, deduplicate=True
    )
    if not text or not text.strip():
        return []
    metadata = trafilatura.extract_metadata(html, default_url=final_url)
    title = (metadata.title or "").strip() if metadata is not None else ""
    published = _date(metadata.date if metadata is not None else None) or now
    record: dict[str, Any] = {
        "source": config.source or "web",
        "external_id": bounded_id(url),
        "text": text.strip()[:MAX_TEXT],
        "created_at": published.isoformat(),
        "author": {"handle": host, "url": f"{httpx.URL(final_url).scheme}://{host}/"},
        "url": final_url,
    }
    if title:
        record["title"] = title[:500]
    return [record]


def _review_record(url: str, final_url: str, review: Review, now: datetime) -> dict[str, Any]:
    record: dict[str, Any] = {
        "source": "review",
        "external_id": bounded_id(f"{url}#review-{review.key}"),
        "text": review.text[:MAX_TEXT],
        "created_at": (review.published or now).isoformat(),
        "author": {"handle": review.author},
        "url": final_url,
    }
    if review.rating is not None:
        record["rating"] = review.rating
    return record


def bounded_id(value: str) -> str:
    """``value`` as an external id of at most 300 characters (the import contract's limit):
    a longer one keeps its start and ends with a hash of the whole, so it stays unique."""
    if len(value) <= MAX_ID:
        return value
    return value[: MAX_ID - 18] + "#~" + hashlib.sha256(value.encode()).hexdigest()[:16]


def _fingerprint(records: list[dict[str, Any]]) -> str:
    """What the page says (ids, texts, ratings), not when it was read."""
    said = [(r["external_id"], r["text"], r.get("rating")) for r in records]
    return hashlib.sha256(repr(said).encode()).hexdigest()[:32]


def _decoded(content: bytes, content_type: str) -> str:
    """The page's text: the header's charset, else a ``<meta charset>``, else UTF-8 (with
    replacement characters rather than dropping the page)."""
    charsets = re.findall(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", content_type, re.I)
    meta = _META_CHARSET.search(content[:4096])
    if meta:
        charsets.append(meta.group(1).decode("ascii"))
    for charset in [*charsets, "utf-8"]:
        try:
            return content.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return content.decode("utf-8", "replace")


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
