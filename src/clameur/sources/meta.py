"""Facebook Pages (kind ``facebook``) and Instagram business accounts (kind ``instagram``)
through Meta's Graph API, with a Page access token; replies and moderation published back.

Configuration: secret ``access_token`` (a long-lived Page access token: Meta for Developers
→ the app → Graph API Explorer or the Page's system user; permissions
``pages_show_list pages_read_engagement pages_read_user_content pages_manage_engagement``
for Facebook, ``instagram_basic instagram_manage_comments pages_show_list`` for Instagram);
options ``page_id`` (Facebook) or ``ig_user_id`` (the Instagram business account id),
``tagged`` (also read posts/media the account is tagged in), ``limit``, ``max_pages``,
``api_version`` (``v19.0``), ``base_url`` (``https://graph.facebook.com``; tests point it
at loopback), ``timeout``. Plain httpx with every request's host checked
(:func:`clameur.sources.x.client`), the token sent in the ``Authorization`` header, never in
a URL.

**Facebook**: ``GET /{page-id}/feed`` (the Page's posts and visitors' posts) with each
post's comments, and ``GET /{page-id}/tagged``. **Instagram**: ``GET /{ig-user-id}/media``
with each media's comments and their replies, and ``GET /{ig-user-id}/tags``. The Page's own
posts and comments (ours) are not mentions; visitors' posts, tagged posts and every comment
are. ``in_reply_to`` is the parent comment, else the post or media, so threads become
conversations. The latest ``max_pages`` pages are read each poll (new comments arrive on
old posts, so there is no "since"); the cursor keeps the ids already turned into mentions
(the last :data:`MAX_SEEN`), so a poll returns only what is new.

**Errors**: Graph codes 4, 17, 32, 613 and 80001–80014 are rate limits
(``X-Business-Use-Case-Usage``'s ``estimated_time_to_regain_access`` as the pause), 190 an
expired or revoked token, 10 and 200–299 a missing permission, ``is_transient`` or a 5xx a
transient failure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from clameur.care.channels import (
    ChannelError,
    ModerationRequest,
    OutgoingReply,
    PermanentChannelError,
)
from clameur.config import Settings, get_settings
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
from clameur.sources.guarded import retry_after_of
from clameur.sources.x import client, send

log = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://graph.facebook.com"
MAX_SEEN: Final = 5000
RATE_LIMIT_CODES: Final = frozenset({4, 17, 32, 613, *range(80001, 80015)})
FB_COMMENT: Final = "id,message,created_time,from,parent,permalink_url"
FB_POST: Final = (
    "id,message,created_time,from,permalink_url,"
    f"comments.order(reverse_chronological).limit(100){{{FB_COMMENT}}}"
)
IG_COMMENT: Final = "id,text,timestamp,username,from"
IG_MEDIA: Final = (
    f"id,caption,timestamp,permalink,username,comments.limit(50)"
    f"{{{IG_COMMENT},replies{{{IG_COMMENT}}}}}"
)
IG_TAGGED: Final = "id,caption,timestamp,permalink,username"


class MetaOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tagged: bool = True
    limit: int = Field(default=25, ge=1, le=100)
    max_pages: int = Field(default=2, ge=1, le=20)
    api_version: str = Field(default="v19.0", pattern=r"^v\d{1,2}\.\d$")
    base_url: str = DEFAULT_BASE_URL
    timeout: float = Field(default=20.0, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("base_url is an http(s) URL, e.g. " + DEFAULT_BASE_URL)
        return url.rstrip("/")

    def api(self, path: str) -> str:
        return f"{self.base_url}/{self.api_version}/{path.lstrip('/')}"


class _PageId(BaseModel):
    page_id: str = Field(pattern=r"^\d{1,30}$")


class _IgUserId(BaseModel):
    ig_user_id: str = Field(pattern=r"^\d{1,30}$")


class FacebookOptions(MetaOptions, _PageId):  # the id first in the add form
    pass


class InstagramOptions(MetaOptions, _IgUserId):
    pass


# -- Graph calls -------------------------------------------------------------------------


def graph_error(response: httpx.Response, what: str) -> SourceError | None:
    """The Graph answer's failure as a typed error, or None when it succeeded."""
    status = response.status_code
    if status < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    code = error.get("code")
    said = f"{str(error.get('message') or 'no message')[:300]} (Graph error {code}"
    said += f", subcode {error['error_subcode']})" if error.get("error_subcode") else ")"
    if code in RATE_LIMIT_CODES or status == 429:
        return RateLimitedError(f"{what}: rate limited: {said}", retry_after=_regain(response))
    if code == 190:
        return SourceError(
            f"{what}: the access token has expired or was revoked — make a new Page access "
            f"token and set it again: {said}"
        )
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return SourceError(f"{what}: the token lacks a permission: {said}")
    if status >= 500 or error.get("is_transient") or code in {1, 2}:
        return TransientSourceError(f"{what}: Graph API error (HTTP {status}): {said}")
    return SourceError(f"{what}: Graph API error (HTTP {status}): {said}")


def _regain(response: httpx.Response) -> float | None:
    """``estimated_time_to_regain_access`` (minutes) of ``X-Business-Use-Case-Usage``,
    else a ``Retry-After``."""
    try:
        usage = json.loads(response.headers.get("x-business-use-case-usage") or "{}")
        minutes = [
            float(entry["estimated_time_to_regain_access"])
            for entries in usage.values()
            for entry in entries
            if entry.get("estimated_time_to_regain_access") is not None
        ]
    except (ValueError, TypeError, AttributeError, KeyError):
        return retry_after_of(response.headers)
    return max(minutes) * 60.0 if minutes else retry_after_of(response.headers)


def _pages(
    http: httpx.Client,
    options: MetaOptions,
    path: str,
    fields: str,
    what: str,
    context: PollContext,
) -> Iterator[tuple[int, list[Any]]]:
    """``(page number, items)`` of an edge, following ``paging.cursors.after``."""
    params = {"fields": fields, "limit": str(options.limit)}
    for page in range(1, options.max_pages + 1):
        response = send(http, "GET", options.api(path), params=params)
        failed = graph_error(response, what)
        if failed is not None:
            raise failed
        try:
            body = json.loads(response.content)
        except ValueError:
            raise TransientSourceError(
                f"{what}: the Graph API answered something not JSON"
            ) from None
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, list):
            raise SourceError(f"{what}: the answer has no 'data' list")
        yield page, data
        paging = body.get("paging")
        paging = paging if isinstance(paging, Mapping) else {}
        cursors = paging.get("cursors")
        after = cursors.get("after") if isinstance(cursors, Mapping) else None
        if not paging.get("next") or not after:
            return
        params["after"] = str(after)
        context.keep_alive()


def _edge(item: Mapping[str, Any], name: str) -> list[Any]:
    edge = item.get(name)
    data = edge.get("data") if isinstance(edge, Mapping) else None
    return data if isinstance(data, list) else []


def _required(item: Any, *names: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise ValueError("not an object")
    for name in names:
        if not isinstance(item.get(name), str) or not item[name].strip():
            raise ValueError(f"{item.get('id') or 'item'}: no {name}")
    return item


# -- the connectors --------------------------------------------------------------------


class _MetaConnector(BaseConnector):
    needs_url: ClassVar[bool] = False
    secret_fields: ClassVar[tuple[str, ...]] = ("access_token",)
    label: ClassVar[str] = "Meta"

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        options: Any = self.options_schema.model_validate(dict(config.options))
        token = config.secrets.get("access_token")
        if not token:
            raise SourceError(f"{self.label} source {config.name!r} has no access_token secret")
        seen = list((cursor or {}).get("seen") or [])
        known = set(seen)
        polled = Polled()
        with client(context.settings, options.timeout, token) as http:
            for where, item in self._items(http, options, context):
                try:
                    record = self._record(item, options, config.source)
                except ValueError as error:
                    polled.problems.append(Problem(where, str(error)))
                    continue
                if record is None or record["external_id"] in known:
                    continue
                known.add(record["external_id"])
                seen.append(record["external_id"])
                polled.records.append(record)
        polled.records.sort(key=lambda r: str(r["created_at"]))
        polled.cursor = {"seen": seen[-MAX_SEEN:]}
        return polled

    def _items(
        self, http: httpx.Client, options: Any, context: PollContext
    ) -> Iterator[tuple[str, Any]]:
        raise NotImplementedError

    def _record(self, item: Any, options: Any, source: str) -> dict[str, Any] | None:
        raise NotImplementedError


class FacebookConnector(_MetaConnector):
    kind: ClassVar[str] = "facebook"
    default_source: ClassVar[str] = "facebook"
    options_schema: ClassVar[type[BaseModel]] = FacebookOptions
    label: ClassVar[str] = "Facebook"

    def _items(
        self, http: httpx.Client, options: Any, context: PollContext
    ) -> Iterator[tuple[str, Any]]:
        edges = [("feed", FB_POST)] + ([("tagged", FB_POST)] if options.tagged else [])
        for edge, fields in edges:
            path = f"{options.page_id}/{edge}"
            for page, posts in _pages(http, options, path, fields, f"Facebook {edge}", context):
                for number, post in enumerate(posts, start=1):
                    where = f"{edge} page {page} post {number}"
                    post_id = post.get("id") if isinstance(post, Mapping) else None
                    yield f"{where} ({post_id})" if post_id else where, ("post", post, None)
                    if not isinstance(post, Mapping):
                        continue
                    for c, comment in enumerate(_edge(post, "comments"), start=1):
                        yield f"{where} ({post_id}) comment {c}", ("comment", comment, post)

    def _record(self, item: Any, options: Any, source: str) -> dict[str, Any] | None:
        kind, value, post = item
        if kind == "post":
            post = _required(value, "id", "created_time")
            if _from_id(post) == options.page_id:
                return None  # the Page's own post: where conversations start, not a mention
            return _fb_record(post, source, None, str(post.get("permalink_url") or ""))
        comment = _required(value, "id", "created_time")
        if _from_id(comment) == options.page_id:
            return None  # our own reply
        parent = comment.get("parent")
        in_reply_to = parent.get("id") if isinstance(parent, Mapping) else None
        return _fb_record(
            comment, source, str(in_reply_to or post["id"]), str(post.get("permalink_url") or "")
        )

    def channel(self, config: SourceConfig, settings: Settings | None = None) -> MetaChannel:
        return MetaChannel(config, settings or get_settings(), FacebookOptions, "facebook")


def _from_id(item: Mapping[str, Any]) -> str | None:
    sender = item.get("from")
    return str(sender.get("id")) if isinstance(sender, Mapping) and sender.get("id") else None


def _fb_record(
    item: Mapping[str, Any], source: str, in_reply_to: str | None, post_url: str
) -> dict[str, Any]:
    message = item.get("message")
    if not isinstance(message, str) or not message.strip():
        raise ValueError(f"{item['id']}: no message (a photo or a share without text)")
    found = item.get("from")
    sender: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    # without ``from`` (a user who hid it) each item is its own author, never one shared
    author: dict[str, Any] = {"handle": str(sender.get("id") or f"unknown:{item['id']}")[:200]}
    if sender.get("name"):
        author["name"] = str(sender["name"])[:300]
    url = item.get("permalink_url") or (
        f"{post_url}?comment_id={item['id'].rpartition('_')[2]}" if post_url else None
    )
    record: dict[str, Any] = {
        "source": source,
        "external_id": str(item["id"])[:300],
        "text": message,
        "created_at": item["created_time"],
        "author": author,
    }
    if url:
        record["url"] = str(url)[:2000]
    if in_reply_to:
        record["in_reply_to"] = in_reply_to
    return record


class InstagramConnector(_MetaConnector):
    kind: ClassVar[str] = "instagram"
    default_source: ClassVar[str] = "instagram"
    options_schema: ClassVar[type[BaseModel]] = InstagramOptions
    label: ClassVar[str] = "Instagram"

    def _items(
        self, http: httpx.Client, options: Any, context: PollContext
    ) -> Iterator[tuple[str, Any]]:
        path = f"{options.ig_user_id}/media"
        for page, media in _pages(http, options, path, IG_MEDIA, "Instagram media", context):
            for number, item in enumerate(media, start=1):
                if not isinstance(item, Mapping):
                    yield f"media page {page} item {number}", ("media?", item, None)
                    continue
                where = f"media page {page} item {number} ({item.get('id')})"
                for c, comment in enumerate(_edge(item, "comments"), start=1):
                    yield f"{where} comment {c}", ("comment", comment, item)
                    if isinstance(comment, Mapping):
                        for r, reply in enumerate(_edge(comment, "replies"), start=1):
                            yield f"{where} comment {c} reply {r}", ("reply", reply, comment, item)
        if options.tagged:
            path = f"{options.ig_user_id}/tags"
            for page, media in _pages(http, options, path, IG_TAGGED, "Instagram tags", context):
                for number, item in enumerate(media, start=1):
                    yield f"tags page {page} media {number}", ("tagged", item, None)

    def _record(self, item: Any, options: Any, source: str) -> dict[str, Any] | None:
        kind, value, parent = item[0], item[1], item[2]
        if kind == "media?":
            raise ValueError("not a media object")
        if kind == "tagged":
            media = _required(value, "id", "timestamp", "username")
            caption = media.get("caption")
            if not isinstance(caption, str) or not caption.strip():
                raise ValueError(f"{media['id']}: tagged media without a caption")
            return _ig_record(media, caption, source, None, media.get("permalink"))
        comment = _required(value, "id", "timestamp", "username", "text")
        media = item[3] if kind == "reply" else parent
        if comment["username"] == media.get("username"):
            return None  # the account's own comment or reply (ours)
        in_reply_to = parent["id"] if kind == "reply" else media.get("id")
        return _ig_record(comment, comment["text"], source, in_reply_to, media.get("permalink"))

    def channel(self, config: SourceConfig, settings: Settings | None = None) -> MetaChannel:
        return MetaChannel(config, settings or get_settings(), InstagramOptions, "instagram")


def _ig_record(
    item: Mapping[str, Any], text: str, source: str, in_reply_to: Any, url: Any
) -> dict[str, Any]:
    username = str(item["username"])
    record: dict[str, Any] = {
        "source": source,
        "external_id": str(item["id"])[:300],
        "text": text,
        "created_at": item["timestamp"],
        "author": {"handle": username[:200], "url": f"https://www.instagram.com/{username}/"},
    }
    if isinstance(url, str) and url:
        record["url"] = url[:2000]
    if in_reply_to:
        record["in_reply_to"] = str(in_reply_to)
    return record


# -- publishing and moderation ---------------------------------------------------------


class MetaChannel:
    """Replies as comments (Facebook ``/{id}/comments``, Instagram ``/{id}/replies``);
    hide and delete a comment."""

    supports_public = True
    supports_private = False
    moderation_actions: frozenset[str] = frozenset({"hide", "delete"})

    def __init__(
        self, config: SourceConfig, settings: Settings, schema: type[MetaOptions], name: str
    ) -> None:
        self.config = config
        self.settings = settings
        self.name = name
        try:
            self.options = schema.model_validate(dict(config.options))
        except ValueError:  # a template channel (no source yet): defaults suffice
            self.options = MetaOptions()

    def _call(self, method: str, target: str, data: Mapping[str, str] | None) -> dict[str, Any]:
        token = self.config.secrets.get("access_token")
        if not token:
            raise PermanentChannelError(f"{self.name} source {self.config.name!r} has no token")
        if not target.partition("/")[0].replace("_", "").isdigit():
            raise PermanentChannelError(f"{target!r} is not a Graph object id")
        what = f"{self.name} {method} /{target}"
        with client(self.settings, 30.0, token) as http:
            try:
                response = send(http, method, self.options.api(target), data=data)
            except TransientSourceError as error:
                raise ChannelError(str(error)) from None
            except SourceError as error:
                raise PermanentChannelError(str(error)) from None
        failed = graph_error(response, what)
        if isinstance(failed, TransientSourceError):
            raise ChannelError(str(failed))
        if failed is not None:
            raise PermanentChannelError(str(failed))
        try:
            body = json.loads(response.content)
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {}

    def publish(self, reply: OutgoingReply) -> str:
        if reply.visibility != "public":
            raise PermanentChannelError(f"{self.name} replies are public comments")
        if not reply.in_reply_to:
            raise PermanentChannelError(f"{self.name}: a reply needs the comment it answers")
        edge = "replies" if self.name == "instagram" else "comments"
        answer = self._call("POST", f"{reply.in_reply_to}/{edge}", {"message": reply.text.strip()})
        if not answer.get("id"):
            raise ChannelError(f"{self.name} accepted the reply but returned no id")
        return str(answer["id"])

    def moderate(self, request: ModerationRequest) -> None:
        if request.action == "delete":
            self._call("DELETE", request.external_id, None)
        elif request.action == "hide":
            flag = {"hide": "true"} if self.name == "instagram" else {"is_hidden": "true"}
            self._call("POST", request.external_id, flag)
        else:
            raise PermanentChannelError(f"{self.name} cannot {request.action} a comment")
