"""Bluesky (kind ``bluesky``) with the atproto SDK: search and mentions of the brand's
account; replies published back as posts.

Configuration: ``--url`` the account's PDS or entryway (default ``https://bsky.social``),
secrets ``handle`` and ``app_password`` (Settings → Privacy and security → App passwords;
no "direct messages" access needed), options ``search`` (terms for
``app.bsky.feed.searchPosts``), ``mentions`` (``app.bsky.notification.listNotifications``,
reasons ``mention``, ``reply`` and ``quote``), ``limit``, ``timeout``. A poll opens a session
(``com.atproto.server.createSession``): the app password is never stored elsewhere and the
session's tokens are not kept. Every request's host is checked (:mod:`clameur.sources.guarded`),
also the PDS the session moves to.

Responses are read as plain JSON (``invoke_query``), not the SDK's strict models, so one
malformed post is a reported problem, not a failed poll.

**Cursor**, per stream: the newest ``indexedAt`` seen. Search asks ``since`` it (sorted
``latest``; the bound is inclusive, idempotence absorbs the post seen again); notifications
have no such parameter, so the newest page is read and what is not newer than the cursor
dropped, paging back (``cursor``) up to :data:`MAX_PAGES` while everything was new.

**Each post → one mention**: ``external_id`` its ``at://`` URI; ``text`` the record's text;
``author`` the handle, display name, profile URL and followers (``getProfiles``);
``created_at`` the record's ``createdAt`` — the author's event time — unless it is missing or
later than ``indexedAt`` (a wrong or forged clock), then ``indexedAt``; ``in_reply_to``
``record.reply.parent.uri``; ``url`` ``https://bsky.app/profile/<handle>/post/<rkey>``;
``cid`` and ``reply_root`` kept in the raw fields; a reply to one of our posts threads under
its thread's root when that is someone else's (the customer's post we answered). A record
rewritten under the same URI (a new ``cid``) updates its mention. The account's own posts
are skipped.

**Publishing**: a post with ``reply: {root, parent}`` strong refs (URI + CID) — the parent's
CID and thread root read with ``app.bsky.feed.getPosts``; public only (Bluesky has no
private replies; its DMs are another service). No moderation: an account can only delete its
own posts (hiding replies with a threadgate is left for later).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Final, TypeVar
from urllib.parse import quote, urlsplit

from atproto import Client, models
from atproto_client.exceptions import (
    AtProtocolError,
    InvokeTimeoutError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from clameur.care.channels import (
    ChannelError,
    ModerationRequest,
    OutgoingReply,
    PermanentChannelError,
)
from clameur.clock import SystemClock
from clameur.config import Settings, get_settings
from clameur.errors import InvalidInputError
from clameur.fetch import FetchError
from clameur.mentions.schemas import parse_datetime
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
from clameur.sources.guarded import check_url_host, httpx_guard, refusal, retry_after_of

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "https://bsky.social"
MAX_PAGES: Final = 5
PROFILES_PER_REQUEST: Final = 25
MAX_TEXT_CHARS: Final = 100_000
NOTIFICATION_REASONS: Final = ("mention", "reply", "quote")
T = TypeVar("T")


class BlueskyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search: list[str] = Field(default=[], max_length=20)
    mentions: bool = False
    limit: int = Field(default=50, ge=1, le=100)
    timeout: float = Field(default=20.0, gt=0, le=120)

    @model_validator(mode="after")
    def _something(self) -> BlueskyOptions:
        self.search = [q.strip() for q in self.search if q.strip()]
        if not (self.search or self.mentions):
            raise ValueError("listen to something: search or mentions")
        return self


class BlueskyConnector(BaseConnector):
    kind: ClassVar[str] = "bluesky"
    default_source: ClassVar[str] = "bluesky"
    needs_url: ClassVar[bool] = False
    options_schema: ClassVar[type[BaseModel]] = BlueskyOptions
    secret_fields: ClassVar[tuple[str, ...]] = ("handle", "app_password")

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
            raise InvalidInputError("the PDS URL is https://host (bsky.social)", where="url")

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        options = BlueskyOptions.model_validate(dict(config.options))
        api, me = session(config, context.settings, options.timeout)
        streams: dict[str, str] = dict((cursor or {}).get("streams") or {})
        polled = Polled()
        found: list[tuple[str, Any]] = []
        for query in options.search:
            name = f"search:{query}"
            since = streams.get(name)
            params = models.AppBskyFeedSearchPosts.Params(
                q=query, limit=options.limit, sort="latest", since=since
            )
            page = _call(partial(api.invoke_query, "app.bsky.feed.searchPosts", params=params))
            posts = _list(page, "posts", name)
            found += [(f"{name} item {n}", post) for n, post in enumerate(posts, start=1)]
            streams[name] = _newest(posts, since)
        if options.mentions:
            name = "mentions"
            since = streams.get(name)
            items = _notifications(api, options.limit, since)
            kept = [n for n in items if _mapping(n).get("reason") in NOTIFICATION_REASONS]
            found += [(f"{name} item {n}", item) for n, item in enumerate(kept, start=1)]
            streams[name] = _newest(items, since)
        seen: set[str] = set()
        for where, post in found:
            try:
                record = post_record(post, config.source)
            except ValueError as error:
                uri = _mapping(post).get("uri")
                where = f"{where} ({uri})" if isinstance(uri, str) else where
                polled.problems.append(Problem(where, str(error)))
                continue
            if record["external_id"] in seen or record["bluesky_did"] == me:
                continue
            seen.add(record["external_id"])
            ours = f"at://{me}/"
            parent, root = record.get("in_reply_to", ""), record.get("reply_root", "")
            if parent.startswith(ours) and root and not root.startswith(ours):
                # an answer to our reply: thread it under the customer's post we answered
                record["in_reply_to"], record["answers_our_post"] = root, parent
            polled.records.append(record)
        _followers(api, polled)
        polled.records.sort(key=lambda r: datetime.fromisoformat(r["created_at"]))
        polled.cursor = {"streams": {k: v for k, v in streams.items() if v}}
        return polled

    def channel(self, config: SourceConfig, settings: Settings | None = None) -> BlueskyChannel:
        return BlueskyChannel(config, settings or get_settings())


def _followers(api: Client, polled: Polled) -> None:
    """Fill ``author.followers`` from ``app.bsky.actor.getProfiles`` (post views carry no
    follower count), 25 authors a request. A failure is a problem: the records are kept."""
    dids = list(dict.fromkeys(r["bluesky_did"] for r in polled.records if r["bluesky_did"]))
    counts: dict[str, int] = {}
    for start in range(0, len(dids), PROFILES_PER_REQUEST):
        batch = dids[start : start + PROFILES_PER_REQUEST]
        params = models.AppBskyActorGetProfiles.Params(actors=batch)
        try:
            page = _call(partial(api.invoke_query, "app.bsky.actor.getProfiles", params=params))
        except SourceError as error:
            polled.problems.append(Problem("authors", f"followers not read: {error}"))
            return
        for profile in _mapping(_content(page)).get("profiles") or []:
            did, followers = _mapping(profile).get("did"), _mapping(profile).get("followersCount")
            if isinstance(did, str) and isinstance(followers, int) and followers >= 0:
                counts[did] = followers
    for record in polled.records:
        if record["bluesky_did"] in counts:
            record["author"]["followers"] = counts[record["bluesky_did"]]


def _notifications(api: Client, limit: int, since: str | None) -> list[Any]:
    """The notifications newer than ``since`` (all of the newest page when None)."""
    out: list[Any] = []
    page_cursor: str | None = None
    for _ in range(MAX_PAGES):
        params = models.AppBskyNotificationListNotifications.Params(
            limit=limit, cursor=page_cursor, reasons=list(NOTIFICATION_REASONS)
        )
        page = _call(
            partial(api.invoke_query, "app.bsky.notification.listNotifications", params=params)
        )
        items = _list(page, "notifications", "mentions")
        fresh = [n for n in items if since is None or _indexed(n) > (since or "")]
        out += fresh
        page_cursor = _mapping(_content(page)).get("cursor")
        if since is None or len(fresh) < len(items) or not items or not page_cursor:
            break
    return out


def session(config: SourceConfig, settings: Settings, timeout: float) -> tuple[Client, str]:
    """A logged-in client for the source (host checked first) and the account's DID."""
    url = (config.url or DEFAULT_URL).rstrip("/")
    handle, password = config.secrets.get("handle"), config.secrets.get("app_password")
    if not handle or not password:
        raise SourceError(f"Bluesky source {config.name!r} needs the handle and app_password")
    try:
        check_url_host(url, allow_private=settings.allow_private_fetch)
    except FetchError as error:
        raise SourceError(f"Bluesky {url}: {error.reason}") from None
    request = Request(
        timeout=timeout,
        trust_env=False,
        event_hooks={"request": [httpx_guard(settings.allow_private_fetch)]},
    )
    api = Client(base_url=url, request=request)
    profile = _call(lambda: api.login(handle, password), login=handle)
    if profile is None:
        raise SourceError(f"Bluesky: no profile for {handle}")
    return api, str(profile.did)


def _call(run: Callable[[], T], *, login: str | None = None) -> T:
    """One XRPC call, its failures as the framework's typed errors."""
    try:
        return run()
    except FetchError as error:
        raise SourceError(f"Bluesky: {error}") from None
    except RateLimitExceededError as error:
        headers = error.response.headers if error.response is not None else None
        raise RateLimitedError(
            "Bluesky rate limit reached", retry_after=retry_after_of(headers)
        ) from None
    except UnauthorizedError as error:
        who = f" for {login}" if login else ""
        raise SourceError(
            f"Bluesky refused the app password{who} (revoked, or the handle changed?): "
            f"{_said(error)}"
        ) from None
    except (NetworkError, InvokeTimeoutError) as error:
        refused = refusal(error)
        if refused is not None:
            raise SourceError(f"Bluesky: {refused}") from None
        raise TransientSourceError(f"Bluesky network error: {_said(error)}") from None
    except RequestErrorBase as error:
        status = error.response.status_code if error.response is not None else 0
        if status >= 500:
            raise TransientSourceError(f"Bluesky server error: {_said(error)}") from None
        raise SourceError(f"Bluesky refused the request: {_said(error)}") from None
    except AtProtocolError as error:
        raise SourceError(f"Bluesky: {type(error).__name__}: {error}") from None


def _said(error: RequestErrorBase) -> str:
    text = str(error) or type(error).__name__
    return " ".join(text.split())[:300]


def _content(page: Any) -> Any:
    return getattr(page, "content", page)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(page: Any, key: str, where: str) -> list[Any]:
    items = _mapping(_content(page)).get(key)
    if not isinstance(items, list):
        raise SourceError(f"Bluesky {where}: the answer has no {key!r} list")
    return items


def _indexed(item: Any) -> str:
    value = _mapping(item).get("indexedAt")
    return value if isinstance(value, str) else ""


def _newest(items: list[Any], since: str | None) -> str:
    return max([since or "", *(_indexed(i) for i in items)])


def _time(value: Any, label: str) -> datetime | None:
    try:
        return parse_datetime(value, label) if isinstance(value, str) else None
    except ValueError:
        return None


def post_record(post: Any, source: str) -> dict[str, Any]:
    """A post view (or a notification of a post) as an import record; ``ValueError``
    names what is wrong with it."""
    if not isinstance(post, Mapping):
        raise ValueError("not a post object")
    uri = post.get("uri")
    if not isinstance(uri, str) or not uri.startswith("at://"):
        raise ValueError("post without an at:// uri: cannot tell it from others")
    record = post.get("record")
    if not isinstance(record, Mapping):
        raise ValueError(f"post {uri}: 'record' is not a post record")
    author = post.get("author")
    if not isinstance(author, Mapping) or not isinstance(author.get("handle"), str):
        raise ValueError(f"post {uri}: its author has no handle")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"post {uri}: no text")
    handle = author["handle"]
    indexed = _time(post.get("indexedAt"), "indexedAt")
    created = _time(record.get("createdAt"), "createdAt")
    if created is None or (indexed is not None and created > indexed + timedelta(minutes=5)):
        created = indexed
    if created is None:
        raise ValueError(f"post {uri}: neither createdAt nor indexedAt is a date")
    rkey = uri.rsplit("/", 1)[-1]
    profile = f"https://bsky.app/profile/{quote(handle, safe='.:')}"
    person: dict[str, Any] = {"handle": handle[:200], "url": profile}
    if isinstance(author.get("displayName"), str) and author["displayName"].strip():
        person["name"] = author["displayName"].strip()[:200]
    out: dict[str, Any] = {
        "source": source,
        "external_id": uri[:300],
        "text": text[:MAX_TEXT_CHARS],
        "created_at": created.isoformat(),
        "author": person,
        "url": f"{profile}/post/{quote(rkey, safe='')}",
        "cid": str(post.get("cid") or ""),
        "bluesky_did": str(author.get("did") or ""),
        "metrics": {
            "likes": _count(post.get("likeCount")),
            "shares": _count(post.get("repostCount")),
            "replies": _count(post.get("replyCount")),
        },
    }
    reply = _mapping(record.get("reply"))
    parent, root = _mapping(reply.get("parent")), _mapping(reply.get("root"))
    if isinstance(parent.get("uri"), str):
        out["in_reply_to"] = parent["uri"][:300]
    if isinstance(root.get("uri"), str):
        out["reply_root"] = root["uri"]
    langs = record.get("langs")
    if isinstance(langs, list) and langs and isinstance(langs[0], str):
        lang = langs[0].split("-")[0].lower()
        if 2 <= len(lang) <= 3:
            out["lang"] = lang
    return out


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


# -- publishing ------------------------------------------------------------------------


class BlueskyChannel:
    """Replies as posts of the source's account, threaded by strong refs."""

    name = "bluesky"
    supports_public = True
    supports_private = False
    moderation_actions: frozenset[str] = frozenset()

    def __init__(self, config: SourceConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings

    def publish(self, reply: OutgoingReply) -> str:
        if reply.visibility != "public":
            raise PermanentChannelError("Bluesky replies are public only")
        if not reply.in_reply_to or not reply.in_reply_to.startswith("at://"):
            raise PermanentChannelError(
                f"reply {reply.reply_id} answers no Bluesky post ({reply.in_reply_to!r})"
            )
        try:
            api, me = session(self.config, self.settings, 30.0)
            parent, root = self._refs(api, reply.in_reply_to)
            record = models.AppBskyFeedPost.Record(
                text=reply.text,
                created_at=(reply.created_at or SystemClock().now()).isoformat(),
                reply=models.AppBskyFeedPost.ReplyRef(parent=parent, root=root),
            )
            data = models.ComAtprotoRepoCreateRecord.Data(
                repo=me, collection="app.bsky.feed.post", record=record
            )
            created = _call(lambda: api.com.atproto.repo.create_record(data))
        except (RateLimitedError, TransientSourceError) as error:
            raise ChannelError(str(error)) from None
        except SourceError as error:
            raise PermanentChannelError(str(error)) from None
        return str(created.uri)

    def _refs(
        self, api: Client, uri: str
    ) -> tuple[models.ComAtprotoRepoStrongRef.Main, models.ComAtprotoRepoStrongRef.Main]:
        """The strong refs of the parent post and of its thread's root."""
        params = models.AppBskyFeedGetPosts.Params(uris=[uri])
        posts = _list(_call(lambda: api.invoke_query("app.bsky.feed.getPosts", params=params)),
                      "posts", "getPosts")  # fmt: skip
        if not posts or not isinstance(_mapping(posts[0]).get("cid"), str):
            raise PermanentChannelError(f"the post {uri} is gone (deleted?)")
        post = _mapping(posts[0])
        parent = models.ComAtprotoRepoStrongRef.Main(uri=str(post["uri"]), cid=str(post["cid"]))
        root_ref = _mapping(_mapping(_mapping(post.get("record")).get("reply")).get("root"))
        if isinstance(root_ref.get("uri"), str) and isinstance(root_ref.get("cid"), str):
            root = models.ComAtprotoRepoStrongRef.Main(uri=root_ref["uri"], cid=root_ref["cid"])
        else:
            root = parent
        return parent, root

    def moderate(self, request: ModerationRequest) -> None:
        raise PermanentChannelError(
            "Bluesky has no moderation of others' posts for an account (hiding replies "
            "with a threadgate is not supported yet)"
        )
