"""Reddit (kind ``reddit``) with PRAW: new posts and comments of chosen subreddits and
search results; replies published back as comments.

Configuration: a Reddit app (https://www.reddit.com/prefs/apps, type *script* for the
brand's own account): secrets ``client_id``, ``client_secret`` and either ``username`` +
``password`` or a ``refresh_token`` (scopes ``read``, ``submit``, ``identity``, and
``modposts`` to hide); options ``subreddits`` (names, without ``r/``), ``comments`` (also
their new comments), ``search`` (queries over all of Reddit, newest first), ``user_agent``
(Reddit asks for ``platform:app:version (by /u/name)``), ``limit``, ``timeout``. ``--url``
replaces both of Reddit's endpoints (``oauth_url``, ``reddit_url``: tests, proxies); its
host is checked like every fetch, on every request (:mod:`clameur.sources.guarded`).

Listings are read as plain JSON through PRAW (``Reddit.request``: its OAuth and rate limit
bookkeeping, not its objects), so one malformed item is a reported problem. PRAW's own
retries (which sleep) are turned off: the scheduler backs off.

**Cursor**, per stream: the newest fullname and its ``created_utc``. A poll asks ``before``
that fullname (what is newer); when that item was deleted Reddit answers an empty page, so
an empty answer is checked once without ``before``, filtered by ``created_utc``.

**Each submission or comment → one mention**: ``external_id`` its fullname (``t3_…``,
``t1_…``), ``in_reply_to`` a comment's ``parent_id``, ``author`` the username, ``text`` the
title and self text (or the link) or the comment's body (Markdown as written), ``url`` the
permalink, ``created_at`` ``created_utc``; ``edited`` (a time) kept as ``edited_at``: an
edited item seen again updates its mention. An answer to one of our comments threads under
what our comment answered (parents read with ``/api/info``). Deleted or removed items are
reported, not stored; the account's own items are skipped.

**Publishing**: ``comment.reply()`` / ``submission.reply()`` on the mention's fullname,
public only. Moderation: ``hide`` removes the item (``mod.remove()``), which works only when
the account moderates that subreddit; nobody but the author can delete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, Final, TypeVar
from urllib.parse import urlsplit

import praw
import prawcore
from praw.exceptions import PRAWException, RedditAPIException
from prawcore.rate_limit import RateLimiter
from prawcore.sessions import FiniteRetryStrategy
from pydantic import BaseModel, ConfigDict, Field, model_validator

from clameur.care.channels import (
    ChannelError,
    ModerationRequest,
    OutgoingReply,
    PermanentChannelError,
)
from clameur.config import Settings, get_settings
from clameur.errors import InvalidInputError
from clameur.fetch import FetchError
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
from clameur.sources.guarded import GuardedSession, check_url_host, refusal, retry_after_of

log = logging.getLogger(__name__)

MAX_TEXT_CHARS: Final = 100_000
DEFAULT_USER_AGENT: Final = "clameur:community-center:0.1 (self-hosted)"
GONE: Final = frozenset({"[deleted]", "[removed]"})
RETRYABLE_API_ERRORS: Final = frozenset({"RATELIMIT"})
MAX_PACING: Final = 5.0
"""Seconds PRAW's rate limiter may wait between two requests; past that the poll stops
with :class:`RateLimitedError` (a poller does not sit on its lease for minutes)."""
T = TypeVar("T")


class RedditOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subreddits: list[str] = Field(default=[], max_length=50)
    comments: bool = True
    search: list[str] = Field(default=[], max_length=20)
    user_agent: str = Field(default=DEFAULT_USER_AGENT, min_length=10, max_length=200)
    limit: int = Field(default=100, ge=1, le=100)
    timeout: float = Field(default=20.0, gt=0, le=120)

    @model_validator(mode="after")
    def _something(self) -> RedditOptions:
        names = [s.strip().removeprefix("/").removeprefix("r/") for s in self.subreddits]
        self.subreddits = [n for n in names if n]
        for name in self.subreddits:
            if not all(c.isalnum() or c == "_" for c in name):
                raise ValueError(f"a subreddit name is letters, digits and _, not {name!r}")
        self.search = [q.strip() for q in self.search if q.strip()]
        if not (self.subreddits or self.search):
            raise ValueError("listen to something: subreddits or search")
        return self


@dataclass(frozen=True)
class _NoRetry(FiniteRetryStrategy):
    """No retry, no sleep: a failed request fails the poll, the scheduler backs off."""

    DEFAULT_RETRIES: ClassVar[int] = 0
    retries: int = 0


class _ShortWaits(RateLimiter):
    """PRAW's rate limiter (it spreads requests over Reddit's window from the
    ``x-ratelimit-*`` headers), refusing to wait longer than :data:`MAX_PACING`."""

    def delay(self) -> None:
        if self.next_request_timestamp_ns is not None:
            wait = (self.next_request_timestamp_ns - time.monotonic_ns()) / 1e9
            if wait > MAX_PACING:
                raise RateLimitedError(
                    "Reddit's request budget for this window is spent", retry_after=wait
                )
        super().delay()


class RedditConnector(BaseConnector):
    kind: ClassVar[str] = "reddit"
    default_source: ClassVar[str] = "reddit"
    needs_url: ClassVar[bool] = False
    options_schema: ClassVar[type[BaseModel]] = RedditOptions
    secret_fields: ClassVar[tuple[str, ...]] = (
        "client_id",
        "client_secret",
        "username",
        "password",
        "refresh_token",
    )

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
            raise InvalidInputError("the endpoint URL is https://host", where="url")

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        options = RedditOptions.model_validate(dict(config.options))
        reddit = client(config, context.settings, options)
        streams: dict[str, dict[str, Any]] = dict((cursor or {}).get("streams") or {})
        own = (config.secrets.get("username") or "").lower()
        polled = Polled()
        found: list[tuple[str, Any]] = []
        for name, path, params in _streams(options):
            items, streams[name] = _stream(reddit, name, path, params, streams.get(name) or {})
            found += items
        seen: set[str] = set()
        ours: dict[str, str] = {}  # our comment's fullname -> what it answered
        for where, item in found:
            try:
                record = thing_record(item, config.source)
            except ValueError as error:
                polled.problems.append(Problem(where, str(error)))
                continue
            if own and record["author"]["handle"].lower() == own:
                if record.get("in_reply_to"):
                    ours[record["external_id"]] = record["in_reply_to"]
                continue
            if record["external_id"] in seen:
                continue
            seen.add(record["external_id"])
            polled.records.append(record)
        if own:
            _through_ours(reddit, polled, ours, own, seen)
        polled.records.sort(key=lambda r: datetime.fromisoformat(r["created_at"]))
        polled.cursor = {"streams": {k: v for k, v in streams.items() if v}}
        return polled

    def channel(self, config: SourceConfig, settings: Settings | None = None) -> RedditChannel:
        return RedditChannel(config, settings or get_settings())


def _through_ours(
    reddit: praw.Reddit, polled: Polled, ours: dict[str, str], own: str, seen: set[str]
) -> None:
    """Thread an answer to one of our comments under what our comment answered (ours is
    no mention): the parents not in this poll are read with ``/api/info`` (100 a request);
    a failure is a problem, the records are kept as they are."""
    unknown = sorted(
        {
            parent
            for r in polled.records
            if (parent := r.get("in_reply_to", "")).startswith("t1_")
            and parent not in seen
            and parent not in ours
        }
    )
    for start in range(0, len(unknown), 100):
        params: dict[str, str | int] = {"id": ",".join(unknown[start : start + 100]), "raw_json": 1}
        try:
            info = _call(partial(reddit.request, method="GET", path="/api/info", params=params))
            children = _children(info, "/api/info")
        except SourceError as error:
            polled.problems.append(Problem("parents", f"replies' parents not read: {error}"))
            break
        for child in children:
            data = _mapping(_mapping(child).get("data"))
            author, parent = str(data.get("author") or "").lower(), data.get("parent_id")
            if author == own and isinstance(parent, str) and isinstance(data.get("name"), str):
                ours[data["name"]] = parent
    for record in polled.records:
        answered = ours.get(record.get("in_reply_to", ""))
        if answered is not None:
            record["answers_our_comment"], record["in_reply_to"] = record["in_reply_to"], answered


def _streams(options: RedditOptions) -> list[tuple[str, str, dict[str, str]]]:
    limit = str(options.limit)
    out = [(f"new:{s}", f"/r/{s}/new", {"limit": limit}) for s in options.subreddits]
    if options.comments:
        out += [(f"comments:{s}", f"/r/{s}/comments", {"limit": limit}) for s in options.subreddits]
    out += [
        (f"search:{q}", "/search", {"q": q, "sort": "new", "type": "link", "limit": limit})
        for q in options.search
    ]
    return out


def _stream(
    reddit: praw.Reddit, name: str, path: str, params: dict[str, str], last: Mapping[str, Any]
) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """The items of one listing newer than ``last`` and the stream's new cursor."""
    before = last.get("fullname")
    newest_utc = float(last.get("created_utc") or 0)
    asked: dict[str, str | int] = {**params, "raw_json": 1}
    if before:
        asked["before"] = str(before)
    plain: dict[str, str | int] = dict(params)
    children = _children(_call(lambda: reddit.request(method="GET", path=path, params=asked)), name)
    if not children and before:  # nothing newer, or the anchor was deleted: look once
        fresh = _children(
            _call(lambda: reddit.request(method="GET", path=path, params=plain)), name
        )
        children = [c for c in fresh if _utc(c) > newest_utc]
    items: list[tuple[str, Any]] = []
    cursor = dict(last)
    for number, child in enumerate(children, start=1):
        data = _mapping(_mapping(child).get("data"))
        fullname = data.get("name")
        where = f"{name} item {number}" + (f" ({fullname})" if isinstance(fullname, str) else "")
        items.append((where, child))
        stamp = _utc(child)
        if isinstance(fullname, str) and stamp >= float(cursor.get("created_utc") or 0):
            cursor = {"fullname": fullname, "created_utc": stamp}
    return items, cursor


def _utc(child: Any) -> float:
    value = _mapping(_mapping(child).get("data")).get("created_utc")
    return float(value) if isinstance(value, int | float) else 0.0


def _children(answer: Any, where: str) -> list[Any]:
    children = _mapping(_mapping(answer).get("data")).get("children")
    if not isinstance(children, list):
        raise SourceError(f"Reddit {where}: the answer is not a listing")
    return children


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def client(config: SourceConfig, settings: Settings, options: RedditOptions) -> praw.Reddit:
    """A PRAW client for the source's app and account, its endpoints' hosts checked."""
    secrets = config.secrets
    if not secrets.get("client_id") or not secrets.get("client_secret"):
        raise SourceError(f"Reddit source {config.name!r} needs client_id and client_secret")
    login: dict[str, str] = {}
    if secrets.get("refresh_token"):
        login["refresh_token"] = secrets["refresh_token"]
    elif secrets.get("username") and secrets.get("password"):
        login = {"username": secrets["username"], "password": secrets["password"]}
    else:
        raise SourceError(f"Reddit source {config.name!r} needs username+password or refresh_token")
    endpoints: dict[str, str] = {}
    if config.url:
        base = config.url.rstrip("/")
        endpoints = {"oauth_url": base, "reddit_url": base, "short_url": base}
    for url in endpoints.values() or ["https://oauth.reddit.com", "https://www.reddit.com"]:
        try:
            check_url_host(url, allow_private=settings.allow_private_fetch)
        except FetchError as error:
            raise SourceError(f"Reddit {url}: {error.reason}") from None
    session = GuardedSession(allow_private=settings.allow_private_fetch)
    settings_kw: dict[str, Any] = {**endpoints, **login}
    reddit = praw.Reddit(
        client_id=secrets["client_id"],
        client_secret=secrets["client_secret"],
        user_agent=options.user_agent,
        requestor_kwargs={"session": session},
        check_for_updates=False,
        check_for_async=False,
        ratelimit_seconds=0,  # never sleep on Reddit's RATELIMIT: a retryable failure
        timeout=int(options.timeout),
        **settings_kw,
    )
    for core in (reddit._core, reddit._authorized_core, reddit._read_only_core):
        if core is not None:  # PRAW's retries sleep: the scheduler backs off instead
            core._retry_strategy_class = _NoRetry
            core._rate_limiter = _ShortWaits(window_size=core._rate_limiter.window_size)
    return reddit


def _call(run: Callable[[], T]) -> T:
    """One Reddit request, its failures as the framework's typed errors."""
    try:
        return run()
    except RedditAPIException:
        raise  # errors in Reddit's answer (RATELIMIT, DELETED_COMMENT…): the caller's
    except prawcore.exceptions.TooManyRequests as error:
        raise RateLimitedError(
            "Reddit rate limit reached", retry_after=retry_after_of(error.response.headers)
        ) from None
    except prawcore.exceptions.OAuthException as error:
        raise SourceError(
            f"Reddit refused the login ({error.error}: {error.description or 'wrong password, '}"
            "or the app is not a script app?)"
        ) from None
    except (prawcore.exceptions.InvalidToken, prawcore.exceptions.InsufficientScope) as error:
        raise SourceError(
            f"Reddit refused the token ({type(error).__name__}: revoked, or a scope missing?)"
        ) from None
    except prawcore.exceptions.Forbidden as error:
        raise SourceError(f"Reddit refused the request (403 Forbidden): {_url(error)}") from None
    except prawcore.exceptions.ServerError as error:
        status = error.response.status_code
        raise TransientSourceError(f"Reddit server error {status}: {_url(error)}") from None
    except prawcore.exceptions.ResponseException as error:
        status = error.response.status_code
        if status == 401:
            raise SourceError(
                "Reddit refused the app's credentials (401: client_id or client_secret wrong, "
                "or the app deleted?)"
            ) from None
        if status >= 500:
            raise TransientSourceError(f"Reddit server error {status}: {_url(error)}") from None
        raise SourceError(f"Reddit answered {status}: {_url(error)}") from None
    except prawcore.exceptions.RequestException as error:
        refused = refusal(error.original_exception) or refusal(error)
        if refused is not None:
            raise SourceError(f"Reddit: {refused}") from None
        raise TransientSourceError(f"Reddit network error: {error.original_exception}") from None
    except (prawcore.exceptions.PrawcoreException, PRAWException) as error:
        raise SourceError(f"Reddit: {type(error).__name__}: {error}") from None


def _url(error: prawcore.exceptions.ResponseException) -> str:
    url = str(error.response.url or "")
    return url.split("?", 1)[0]


def thing_record(child: Any, source: str) -> dict[str, Any]:
    """A listing child (``t3`` submission or ``t1`` comment) as an import record;
    ``ValueError`` names what is wrong with it."""
    kind = _mapping(child).get("kind")
    data = _mapping(_mapping(child).get("data"))
    if kind not in {"t1", "t3"}:
        raise ValueError(f"not a post nor a comment (kind {kind!r})")
    fullname = data.get("name")
    if not isinstance(fullname, str) or not fullname.startswith(f"{kind}_"):
        raise ValueError("no fullname (name): cannot tell it from others")
    stamp = data.get("created_utc")
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        raise ValueError(f"{fullname}: created_utc is not a time ({stamp!r})")
    author = data.get("author")
    if not isinstance(author, str) or not author:
        raise ValueError(f"{fullname}: no author")
    if kind == "t3":
        title = str(data.get("title") or "").strip()
        body = str(data.get("selftext") or "").strip()
        if not body and not data.get("is_self") and data.get("url"):
            body = str(data["url"])
        if body in GONE and not title:
            raise ValueError(f"{fullname}: deleted or removed")
        text = f"{title}\n\n{body}" if title and body and body not in GONE else title or body
    else:
        text = str(data.get("body") or "").strip()
        if text in GONE or author in GONE:
            raise ValueError(f"{fullname}: deleted or removed")
    if not text:
        raise ValueError(f"{fullname}: no text")
    record: dict[str, Any] = {
        "source": source,
        "external_id": fullname,
        "text": text[:MAX_TEXT_CHARS],
        "created_at": datetime.fromtimestamp(float(stamp), tz=UTC).isoformat(),
        "author": {"handle": author[:200], "url": f"https://www.reddit.com/user/{author}"},
        "subreddit": str(data.get("subreddit") or ""),
        "metrics": {
            "likes": max(0, data["score"]) if isinstance(data.get("score"), int) else 0,
            "replies": _count(data.get("num_comments")),
        },
    }
    permalink = data.get("permalink")
    if isinstance(permalink, str) and permalink.startswith("/"):
        record["url"] = f"https://www.reddit.com{permalink}"
    parent = data.get("parent_id")
    if kind == "t1" and isinstance(parent, str) and parent[:3] in {"t1_", "t3_"}:
        record["in_reply_to"] = parent
    edited = data.get("edited")
    if isinstance(edited, int | float) and not isinstance(edited, bool) and edited > 0:
        record["edited_at"] = datetime.fromtimestamp(float(edited), tz=UTC).isoformat()
    return record


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


# -- publishing ------------------------------------------------------------------------


class RedditChannel:
    """Replies as comments of the source's account; ``hide`` removes as a moderator."""

    name = "reddit"
    supports_public = True
    supports_private = False
    moderation_actions: frozenset[str] = frozenset({"hide"})

    def __init__(self, config: SourceConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings

    def _thing(self, fullname: str | None) -> tuple[praw.Reddit, Any]:
        if not fullname or fullname[:3] not in {"t1_", "t3_"}:
            raise PermanentChannelError(f"not a Reddit post or comment: {fullname!r}")
        options = RedditOptions.model_validate(dict(self.config.options))
        try:
            reddit = client(self.config, self.settings, options)
        except SourceError as error:
            raise PermanentChannelError(str(error)) from None
        if fullname.startswith("t1_"):
            return reddit, reddit.comment(id=fullname[3:])
        return reddit, reddit.submission(id=fullname[3:])

    def publish(self, reply: OutgoingReply) -> str:
        if reply.visibility != "public":
            raise PermanentChannelError("Reddit replies are public only")
        _, thing = self._thing(reply.in_reply_to)
        posted = self._run(lambda: thing.reply(reply.text))
        if posted is None:
            raise PermanentChannelError(f"Reddit did not post the reply to {reply.in_reply_to}")
        return str(posted.fullname)

    def moderate(self, request: ModerationRequest) -> None:
        if request.action != "hide":
            raise PermanentChannelError(f"Reddit cannot {request.action} for an account")
        _, thing = self._thing(request.external_id)
        self._run(lambda: thing.mod.remove())

    def _run(self, action: Callable[[], T]) -> T:
        try:
            return _call(action)
        except RedditAPIException as error:
            codes = {item.error_type for item in error.items}
            text = "; ".join(f"{i.error_type}: {i.message}" for i in error.items)
            if codes & RETRYABLE_API_ERRORS:
                raise ChannelError(f"Reddit: {text}") from None
            raise PermanentChannelError(f"Reddit refused: {text}") from None
        except (RateLimitedError, TransientSourceError) as error:
            raise ChannelError(str(error)) from None
        except SourceError as error:
            raise PermanentChannelError(str(error)) from None
