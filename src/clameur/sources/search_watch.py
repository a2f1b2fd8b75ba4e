"""Search-result watch (kind ``search_watch``): the first page of a web search for each
brand phrase, day by day, through the Brave Search API and the tenant's own key.

Why: a brand's worst result sitting first for years is the oldest e-reputation wound. A
page about the brand *entering* the first results (an angry blog post, a news article, a
forum thread) is worth an alert the day it happens, not when a customer mentions it.

**Provider.** Brave Search API (``GET {base_url}/web/search?q=…&count=…``, header
``X-Subscription-Token``): an independent index with a documented JSON API, a free tier,
and no second identifier to configure (Google's Programmable Search needs an engine id and
is closed to new customers for whole-web search; Bing Web Search v7 was retired in 2025).
``base_url`` is an option (tests point it at loopback); it is fetched through
:class:`clameur.fetch.Fetcher` like any other URL, so a private address is refused unless
``CLAMEUR_ALLOW_PRIVATE_FETCH=1``.

**Cursor.** Per phrase: the ranked result URLs of the last poll and, for each, the day it
entered the first page; URLs that dropped out are remembered (last position, day) so one
coming back says "entered again". A URL entering the page (new, or back after dropping out)
becomes one mention (``external_id`` ``serp:<hash of phrase and URL>:<day it entered>``,
created at the poll's time, author the site's host, text = title, snippet and "entered
position N for “phrase”" so the brand's queries match it), with ``serp_phrase``,
``serp_position``, ``serp_previous_position`` and ``serp_entries`` in its raw fields. A
result that stays on the page makes nothing new, whatever its rank does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from clameur.db.repository import TenantRepository
from clameur.fetch import FetchError, PrivateAddressError
from clameur.fetch import RateLimitedError as FetchRateLimited
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
from clameur.sources.html_text import html_to_text
from clameur.tenancy.models import Brand

log = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.search.brave.com/res/v1"
DAILY: Final = 86_400
MAX_GONE_KEPT: Final = 200
"""URLs that dropped out remembered per phrase (to say "entered again")."""


class SearchWatchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phrases: list[str] = Field(
        min_length=1,
        max_length=20,
        description="What to search for, one per line; empty: the client's brand names.",
    )
    """What to search for: the brand's names (the CLI and the page fill them in)."""
    count: int = Field(default=10, ge=1, le=20)
    """The size of the "first page" watched (Brave's maximum is 20)."""
    country: str | None = Field(default=None, min_length=2, max_length=2)
    search_lang: str | None = Field(default=None, min_length=2, max_length=7)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = Field(default=20.0, gt=0, le=120)

    @field_validator("phrases")
    @classmethod
    def _clean(cls, phrases: list[str]) -> list[str]:
        out = list(dict.fromkeys(" ".join(p.split()) for p in phrases if p.strip()))
        if not out:
            raise ValueError("give at least one phrase to watch")
        if any(len(p) > 200 for p in out):
            raise ValueError("a phrase is at most 200 characters")
        return out

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("base_url is an http(s) URL, e.g. " + DEFAULT_BASE_URL)
        return url.rstrip("/")


class SearchWatchConnector(BaseConnector):
    kind: ClassVar[str] = "search_watch"
    default_source: ClassVar[str] = "web"
    needs_url: ClassVar[bool] = False
    options_schema: ClassVar[type[BaseModel]] = SearchWatchOptions
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key",)
    default_interval: ClassVar[int] = DAILY

    @staticmethod
    def default_options(session: Session, tenant_id: int) -> dict[str, Any]:
        """Phrases left empty: the tenant's brand names."""
        repo = TenantRepository(session, tenant_id, Brand)
        names = session.scalars(repo.select(Brand.name).order_by(Brand.id)).all()
        return {"phrases": list(names)[:20]} if names else {}

    """Results move slowly and searches cost money: once a day (``--interval 86400``)."""

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        options = SearchWatchOptions.model_validate(dict(config.options))
        key = config.secrets.get("api_key")
        if not key:
            raise SourceError(f"search watch {config.name!r} has no api_key secret")
        fetcher = context.fetcher(timeout=options.timeout, max_bytes=2 * 2**20)
        now = context.clock.now()
        day = now.date().isoformat()
        previous: dict[str, Any] = dict((cursor or {}).get("phrases") or {})
        polled = Polled()
        state: dict[str, Any] = {}
        for phrase in options.phrases:
            url = f"{options.base_url}/web/search?" + urlencode(_query(phrase, options))
            body = _get_json(fetcher, url, key)
            results = _results(body, phrase, polled)
            before = previous.get(phrase) or {}
            if not results and before.get("ranked"):
                # an engine's hiccup, most likely: dropping the whole page would make every
                # result "enter again" tomorrow, a burst of false alerts
                polled.problems.append(
                    Problem(f"“{phrase}”", "no results today: the previous page is kept")
                )
                state[phrase] = dict(before)
            else:
                state[phrase] = _compare(
                    phrase, results, before, day, now.isoformat(), config, polled
                )
            context.keep_alive()
        polled.cursor = {"phrases": state}
        return polled


def _query(phrase: str, options: SearchWatchOptions) -> dict[str, str]:
    query = {"q": phrase, "count": str(options.count), "result_filter": "web"}
    if options.country:
        query["country"] = options.country.upper()
    if options.search_lang:
        query["search_lang"] = options.search_lang
    return query


def _get_json(fetcher: Any, url: str, key: str) -> Any:
    headers = {"Accept": "application/json", "X-Subscription-Token": key}
    try:
        response = fetcher.get(url, headers=headers)
    except FetchRateLimited as error:
        raise RateLimitedError(
            "Brave Search rate limit or monthly quota reached", retry_after=error.retry_after
        ) from None
    except PrivateAddressError as error:
        raise SourceError(f"search API {error.url}: {error.reason}") from None
    except FetchError as error:
        if error.status in {401, 403}:
            raise SourceError(
                f"Brave Search refused the API key (HTTP {error.status}: wrong, revoked, or "
                "its plan does not include web search)"
            ) from None
        if error.status is not None and error.status < 500:
            raise SourceError(f"Brave Search: {error}") from None
        raise TransientSourceError(f"Brave Search: {error}") from None
    try:
        return json.loads(response.content)
    except ValueError as error:
        raise TransientSourceError(f"Brave Search answered something not JSON: {error}") from None


def _results(body: Any, phrase: str, polled: Polled) -> list[tuple[int, dict[str, str]]]:
    """``[(position, {"url", "title", "snippet"})]`` of the first page; malformed
    results are problems (their position stays taken: ranks are the engine's)."""
    if not isinstance(body, Mapping) or body.get("type") != "search":
        raise TransientSourceError(f"search for “{phrase}”: not a web search answer")
    web = body.get("web")
    items = web.get("results") if isinstance(web, Mapping) else []
    if not isinstance(items, list):
        raise SourceError(f"search for “{phrase}”: 'web.results' is not a list")
    out: list[tuple[int, dict[str, str]]] = []
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        where = f"“{phrase}” result {position}"
        url = item.get("url") if isinstance(item, Mapping) else None
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
            polled.problems.append(Problem(where, f"no http(s) url (got {str(url)[:100]!r})"))
            continue
        url = str(url)
        if url in seen:
            continue
        seen.add(url)
        title = html_to_text(str(item.get("title") or "")).strip()
        snippet = html_to_text(str(item.get("description") or "")).strip()
        out.append((position, {"url": url[:2000], "title": title, "snippet": snippet}))
    return out


def _compare(
    phrase: str,
    results: list[tuple[int, dict[str, str]]],
    before: Mapping[str, Any],
    day: str,
    at: str,
    config: SourceConfig,
    polled: Polled,
) -> dict[str, Any]:
    """The phrase's new state; a record for each result entering the first page."""
    ranked: list[str] = list(before.get("ranked") or [])
    entered: dict[str, str] = dict(before.get("entered") or {})
    gone: dict[str, Any] = dict(before.get("gone") or {})
    entries: dict[str, int] = dict(before.get("entries") or {})
    now_ranked = [r["url"] for _, r in results]
    new_entered: dict[str, str] = {}
    for position, result in results:
        url = result["url"]
        if url in ranked:
            new_entered[url] = entered.get(url, day)
            continue
        new_entered[url] = day
        entries[url] = entries.get(url, 0) + 1
        back = gone.pop(url, None)
        previous = back.get("position") if isinstance(back, Mapping) else None
        polled.records.append(
            _record(phrase, position, result, previous, entries[url], day, at, config)
        )
    for old_position, url in enumerate(ranked, start=1):
        if url not in new_entered:
            gone[url] = {"position": old_position, "left": day}
    gone = dict(list(gone.items())[-MAX_GONE_KEPT:])
    entries = {u: n for u, n in entries.items() if u in new_entered or u in gone}
    return {"ranked": now_ranked, "entered": new_entered, "gone": gone, "entries": entries}


def external_id(phrase: str, url: str, day: str) -> str:
    digest = hashlib.sha256(f"{phrase}\x00{url}".encode()).hexdigest()[:24]
    return f"serp:{digest}:{day}"


def _record(
    phrase: str,
    position: int,
    result: Mapping[str, str],
    previous: Any,
    times: int,
    day: str,
    at: str,
    config: SourceConfig,
) -> dict[str, Any]:
    url = result["url"]
    again = " again" if times > 1 else ""
    line = f"entered{again} position {position} for “{phrase}”"
    head = " — ".join(p for p in (result["title"], result["snippet"]) if p)
    parts = urlsplit(url)
    host = (parts.hostname or "web").removeprefix("www.")
    return {
        "source": config.source,
        "external_id": external_id(phrase, url, day),
        "text": f"{head}\n\n{line}" if head else line,
        "created_at": at,
        "author": {"handle": host[:200], "url": f"{parts.scheme}://{parts.hostname}"},
        "url": url,
        "serp_phrase": phrase,
        "serp_position": position,
        "serp_previous_position": previous if isinstance(previous, int) else None,
        "serp_entries": times,
        "serp_engine": "brave",
    }
