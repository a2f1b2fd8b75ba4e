"""X (Twitter) API v2 (kind ``x``, mention source ``twitter``): recent search and the
mentions of the brand's account, read with an app-only bearer token; replies posted with a
user-context OAuth 2.0 token.

Configuration: secrets ``bearer_token`` (developer portal → the project's app → Keys and
tokens) and, to publish, ``user_token`` (an OAuth 2.0 user access token of the brand's
account with scopes ``tweet.read tweet.write users.read``); options ``query`` (X search
syntax, e.g. ``volta -is:retweet``), ``mentions_user_id`` (the brand account's numeric id),
``max_results`` (10–100 a page), ``max_pages`` (a poll's page cap), ``base_url`` (default
``https://api.x.com``; tests point it at loopback), ``timeout``.

Plain httpx (no SDK: the three endpoints used are small JSON calls, and tweepy would add
requests-oauthlib for nothing we need), every request's host checked by
:func:`clameur.fetch.check_host` (:func:`clameur.sources.guarded.httpx_guard`), no proxies
from the environment, a timeout on every call. The API host is X's own unless
``base_url`` is changed — a changed one is checked like any fetch.

**Streams and cursor.** ``search`` (``GET /2/tweets/search/recent``) and ``mentions``
(``GET /2/users/{id}/mentions``): the cursor keeps, per stream, the newest tweet id seen
(``since_id``); within one poll the pages are followed (``next_token`` /
``pagination_token``) up to ``max_pages`` — past it the poll says so as a problem, since
the older tweets between the cursor and the last page read are not fetched.

**Each tweet → one mention**: ``external_id`` the tweet id, author from the ``users``
expansion (``username``, followers, verified), ``in_reply_to`` the ``replied_to``
referenced tweet, metrics from ``public_metrics``, ``x_conversation_id`` in the raw fields.

**Publishing**: ``POST /2/tweets`` ``{"text", "reply": {"in_reply_to_tweet_id"}}``, public
only (direct messages are another API and tier). Moderation: X's API v2 can hide a reply
to the brand's own tweet (``PUT /2/tweets/:id/hidden``) — offered as ``hide``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clameur.care.channels import (
    ChannelError,
    ModerationRequest,
    OutgoingReply,
    PermanentChannelError,
)
from clameur.clock import Clock
from clameur.config import Settings, get_settings
from clameur.fetch import FetchError, shown
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
from clameur.sources.guarded import httpx_guard, retry_after_of

log = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.x.com"
TWEET_FIELDS: Final = (
    "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,public_metrics,lang"
)
USER_FIELDS: Final = "username,public_metrics,verified"
USER_AGENT: Final = "Clameur/1 (+connector)"


class XOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(default=None, max_length=4096)
    mentions_user_id: str | None = None
    max_results: int = Field(default=100, ge=10, le=100)
    max_pages: int = Field(default=5, ge=1, le=50)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = Field(default=20.0, gt=0, le=120)

    @field_validator("mentions_user_id")
    @classmethod
    def _numeric(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().isdigit():
            raise ValueError("the account's numeric id (GET /2/users/by/username/NAME)")
        return value.strip() if value else None

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("base_url is an http(s) URL, e.g. " + DEFAULT_BASE_URL)
        return url.rstrip("/")

    @model_validator(mode="after")
    def _something(self) -> XOptions:
        self.query = (self.query or "").strip() or None
        if not (self.query or self.mentions_user_id):
            raise ValueError("listen to something: query or mentions_user_id")
        return self


class XConnector(BaseConnector):
    kind: ClassVar[str] = "x"
    default_source: ClassVar[str] = "twitter"
    needs_url: ClassVar[bool] = False
    options_schema: ClassVar[type[BaseModel]] = XOptions
    secret_fields: ClassVar[tuple[str, ...]] = ("bearer_token", "user_token")

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        options = XOptions.model_validate(dict(config.options))
        token = config.secrets.get("bearer_token")
        if not token:
            raise SourceError(f"X source {config.name!r} has no bearer_token secret")
        since: dict[str, str] = dict((cursor or {}).get("since_id") or {})
        polled = Polled()
        streams: list[tuple[str, str, str]] = []  # (name, path, page parameter)
        if options.query:
            streams.append(("search", "/2/tweets/search/recent", "next_token"))
        if options.mentions_user_id:
            path = f"/2/users/{options.mentions_user_id}/mentions"
            streams.append(("mentions", path, "pagination_token"))
        seen: set[str] = set()
        with client(context.settings, options.timeout, token) as http:
            for name, path, page_param in streams:
                newest = _stream(
                    http, options, name, path, page_param, since, context, polled, seen,
                    config.source,
                )  # fmt: skip
                if newest is not None:
                    since[name] = newest
        polled.records.sort(key=lambda r: (len(r["external_id"]), r["external_id"]))
        polled.cursor = {"since_id": since}
        return polled

    def channel(self, config: SourceConfig, settings: Settings | None = None) -> XChannel:
        return XChannel(config, settings or get_settings())


def _stream(
    http: httpx.Client,
    options: XOptions,
    name: str,
    path: str,
    page_param: str,
    since: Mapping[str, str],
    context: PollContext,
    polled: Polled,
    seen: set[str],
    source: str,
) -> str | None:
    params: dict[str, str] = {
        "max_results": str(options.max_results),
        "tweet.fields": TWEET_FIELDS,
        "expansions": "author_id",
        "user.fields": USER_FIELDS,
    }
    if name == "search" and options.query:
        params["query"] = options.query
    if since.get(name):
        params["since_id"] = since[name]
    newest: str | None = None
    for page in range(1, options.max_pages + 1):
        body = _read(send(http, "GET", options.base_url + path, params=params), context.clock)
        found = body.get("meta")
        meta: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        if newest is None and meta.get("newest_id"):
            newest = str(meta["newest_id"])
        users = _users(body)
        for number, tweet in enumerate(body.get("data") or [], start=1):
            tweet_id = tweet.get("id") if isinstance(tweet, Mapping) else None
            where = f"{name} page {page} tweet {number}" + (f" ({tweet_id})" if tweet_id else "")
            try:
                record = tweet_record(tweet, users, source, ours=options.mentions_user_id)
            except ValueError as error:
                polled.problems.append(Problem(where, str(error)))
                continue
            if options.mentions_user_id and tweet.get("author_id") == options.mentions_user_id:
                continue  # the brand's own tweet (a published reply)
            if record["external_id"] not in seen:
                seen.add(record["external_id"])
                polled.records.append(record)
        for partial in body.get("errors") or []:
            if isinstance(partial, Mapping) and partial.get("resource_type") == "tweet":
                polled.problems.append(
                    Problem(f"{name} page {page}", str(partial.get("detail") or partial)[:300])
                )
        token = meta.get("next_token")
        if not token:
            return newest
        params[page_param] = str(token)
        context.keep_alive()
    polled.problems.append(
        Problem(
            name,
            f"more than {options.max_pages} pages of new tweets: the older ones were not "
            "fetched (raise max_pages or poll more often)",
        )
    )
    return newest


def _users(body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    includes = body.get("includes")
    users = includes.get("users") if isinstance(includes, Mapping) else None
    return {
        str(u["id"]): u for u in users or [] if isinstance(u, Mapping) and u.get("id") is not None
    }


def tweet_record(
    tweet: Any,
    users: Mapping[str, Mapping[str, Any]],
    source: str = "twitter",
    *,
    ours: str | None = None,
) -> dict[str, Any]:
    """One tweet of API v2 as an import record; ``ValueError`` names what is wrong.

    A reply to one of our tweets (``in_reply_to_user_id`` is ``ours``, the brand account)
    threads under the conversation's root instead — the customer's tweet we answered when
    they started the thread — since our own tweets are no mentions."""
    if not isinstance(tweet, Mapping):
        raise ValueError("not a tweet object")
    tweet_id = str(tweet.get("id") or "")
    if not tweet_id.isdigit():
        raise ValueError("tweet without a numeric id")
    text = tweet.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"tweet {tweet_id}: no text")
    created = tweet.get("created_at")
    if not isinstance(created, str) or not created:
        raise ValueError(f"tweet {tweet_id}: no created_at (tweet.fields must ask for it)")
    user = users.get(str(tweet.get("author_id") or ""))
    if user is None or not user.get("username"):
        raise ValueError(
            f"tweet {tweet_id}: its author {tweet.get('author_id')!r} is not in includes"
        )
    username = str(user["username"])
    author: dict[str, Any] = {"handle": username[:200], "url": f"https://x.com/{username}"}
    if user.get("name"):
        author["name"] = str(user["name"])[:300]
    followers = (user.get("public_metrics") or {}).get("followers_count")
    if isinstance(followers, int):
        author["followers"] = followers
    if isinstance(user.get("verified"), bool):
        author["verified"] = user["verified"]
    metrics = tweet.get("public_metrics") or {}
    record: dict[str, Any] = {
        "source": source,
        "external_id": tweet_id,
        "text": text,
        "created_at": created,
        "author": author,
        "url": f"https://x.com/{username}/status/{tweet_id}",
        "metrics": {
            key: metrics[name]
            for key, name in (
                ("likes", "like_count"),
                ("shares", "retweet_count"),
                ("replies", "reply_count"),
                ("quotes", "quote_count"),
            )
            if isinstance(metrics, Mapping) and isinstance(metrics.get(name), int)
        },
    }
    for ref in tweet.get("referenced_tweets") or []:
        if isinstance(ref, Mapping) and ref.get("type") == "replied_to" and ref.get("id"):
            record["in_reply_to"] = str(ref["id"])
    root = str(tweet.get("conversation_id") or "")
    to_us = bool(ours) and str(tweet.get("in_reply_to_user_id") or "") == ours
    if to_us and root.isdigit() and root != tweet_id and "in_reply_to" in record:
        record["in_reply_to"] = root
    lang = tweet.get("lang")
    if isinstance(lang, str) and 2 <= len(lang) <= 3 and lang not in {"und", "qme", "zxx"}:
        record["lang"] = lang
    if tweet.get("conversation_id"):
        record["x_conversation_id"] = str(tweet["conversation_id"])
    return record


# -- HTTP ------------------------------------------------------------------------------


def client(settings: Settings, timeout: float, token: str) -> httpx.Client:
    """An httpx client checking every request's host, no environment proxies."""
    return httpx.Client(
        headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
        timeout=httpx.Timeout(timeout),
        trust_env=False,
        follow_redirects=False,
        event_hooks={"request": [httpx_guard(settings.allow_private_fetch)]},
    )


def send(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request; a refused address is a :class:`SourceError` naming it, a network
    failure a :class:`TransientSourceError` (URLs shown without their query)."""
    try:
        return http.request(method, url, **kwargs)
    except FetchError as error:
        raise SourceError(f"{shown(url)}: {error.reason}") from None
    except httpx.HTTPError as error:
        raise TransientSourceError(
            f"{method} {shown(url)}: {type(error).__name__}: {error}"
        ) from None


def _json(response: httpx.Response) -> Any:
    """The JSON body; None when there is none or it is not JSON."""
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


def _said(body: Any) -> str:
    """What X said: ``detail``/``title`` (problem JSON) or the first of ``errors``."""
    if isinstance(body, Mapping):
        for key in ("detail", "title", "error_description", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])[:300]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            first = errors[0]
            return str(first.get("message") or first.get("detail") or first)[:300]
    return "no detail"


def reset_after(response: httpx.Response, clock: Clock) -> float | None:
    """Seconds until ``x-rate-limit-reset`` (an epoch), from the answer's ``Date``; else
    the ``Retry-After``."""
    reset = response.headers.get("x-rate-limit-reset")
    try:
        epoch = float(reset) if reset else None
    except ValueError:
        epoch = None
    if epoch is None:
        return retry_after_of(response.headers)  # a Retry-After, if X or a proxy sent one
    try:
        now = parsedate_to_datetime(response.headers["date"]).timestamp()
    except (KeyError, TypeError, ValueError):
        now = clock.now().timestamp()
    return max(0.0, epoch - now)


def _read(response: httpx.Response, clock: Clock) -> dict[str, Any]:
    status = response.status_code
    body = _json(response)
    if status == 429:
        raise RateLimitedError(
            f"X rate limit reached: {_said(body)}", retry_after=reset_after(response, clock)
        )
    if status == 401:
        raise SourceError(f"X refused the bearer token (revoked or wrong?): {_said(body)}")
    if status == 403:
        raise SourceError(
            f"X refused the request (403: the app's access tier or the token's scopes do not "
            f"include it): {_said(body)}"
        )
    if status >= 500:
        raise TransientSourceError(f"X server error {status}: {_said(body)}")
    if status >= 400:
        raise SourceError(f"X API error {status}: {_said(body)}")
    if not isinstance(body, dict):
        raise TransientSourceError(f"X answered HTTP {status} with no JSON object")
    return body


# -- publishing ------------------------------------------------------------------------


class XChannel:
    """Replies as tweets in reply to the customer's tweet, with the brand's user token."""

    name = "x"
    supports_public = True
    supports_private = False
    moderation_actions: frozenset[str] = frozenset({"hide"})

    def __init__(self, config: SourceConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.options = XOptions.model_validate(dict(config.options or {"query": "-"}))

    def _client(self) -> httpx.Client:
        token = self.config.secrets.get("user_token")
        if not token:
            raise PermanentChannelError(
                f"X source {self.config.name!r} has no user_token secret: replies need a "
                "user-context OAuth 2.0 token (tweet.write)"
            )
        return client(self.settings, 30.0, token)

    def _send(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._client() as http:
            try:
                response = send(http, method, self.options.base_url + path, json=body)
            except TransientSourceError as error:
                raise ChannelError(str(error)) from None
            except SourceError as error:
                raise PermanentChannelError(str(error)) from None
        status, answer = response.status_code, _json(response)
        said = _said(answer)
        if 400 <= status < 500 and status != 429:
            duplicate = " (a duplicate of a tweet already posted?)" if "duplicate" in said else ""
            raise PermanentChannelError(
                f"X refused {method} {path} (HTTP {status}){duplicate}: {said}"
            )
        if status >= 400:
            raise ChannelError(f"X {method} {path}: HTTP {status}: {said}")
        return answer if isinstance(answer, dict) else {}

    def publish(self, reply: OutgoingReply) -> str:
        if reply.visibility != "public":
            raise PermanentChannelError("X replies are public (direct messages are not supported)")
        body: dict[str, Any] = {"text": reply.text.strip()}
        if reply.in_reply_to:
            if not reply.in_reply_to.isdigit():
                raise PermanentChannelError(f"{reply.in_reply_to!r} is not a tweet id")
            body["reply"] = {"in_reply_to_tweet_id": reply.in_reply_to}
        answer = self._send("POST", "/2/tweets", body)
        data = answer.get("data")
        if not isinstance(data, Mapping) or not data.get("id"):
            raise ChannelError("X accepted the tweet but returned no id")
        return str(data["id"])

    def moderate(self, request: ModerationRequest) -> None:
        if request.action != "hide":
            raise PermanentChannelError(f"X cannot {request.action} a tweet of another account")
        if not request.external_id.isdigit():
            raise PermanentChannelError(f"{request.external_id!r} is not a tweet id")
        self._send("PUT", f"/2/tweets/{request.external_id}/hidden", {"hidden": True})
