"""Mastodon (kind ``mastodon``) with Mastodon.py: hashtags, search and mentions of the
brand's account on one instance; replies published back as statuses.

Configuration: ``--url https://instance.example`` (the brand account's instance), secret
``access_token`` (the instance's Preferences → Development → New application, scopes
``read:statuses read:notifications read:search read:accounts write:statuses``), options
``hashtags`` (without ``#``), ``search`` (terms; full-text search of statuses depends on
the instance: many only find hashtags and the account's own posts), ``mentions`` (the
account's notifications of type ``mention`` and ``update``), ``limit``, ``timeout``.

The instance host is checked like every outbound fetch (:mod:`clameur.sources.guarded`):
before each poll and publish, and on every request the library sends.

**Streams and cursor.** Each hashtag, search term and the mentions are one stream; the
cursor keeps, per stream, the newest id seen, and a poll asks for what follows it
(``min_id``: the page *immediately* after the cursor — ``since_id`` would give the newest
page and skip what lies between when more than ``limit`` arrived). Search takes no cursor
here: its newest page is read and what is not newer than the cursor dropped.

**Each status → one mention**: ``external_id`` is the status' ``uri`` — its ActivityPub id,
the same whichever instance shows it (the local ``id`` differs on every instance, so two
sources on two instances store one mention); ``text`` the content's HTML reduced to plain
text, after the content warning; ``author.handle`` ``user@instance`` with followers;
``in_reply_to`` the parent's ``uri`` (looked up by its local id when it is not in the same
poll — at most :data:`MAX_PARENT_LOOKUPS` a poll, remembered in the cursor); ``created_at``
the status' time; ``mastodon_id`` (the local id) and ``edited_at`` kept in the raw fields.
An answer to one of our statuses threads under the status we answered (our status is no
mention), ``answers_our_status`` keeping ours.
An edited status seen again (an ``update`` notification, a search page) updates its
mention. The account's own statuses (our published replies) are skipped.

**Publishing**: a reply is a status ``in_reply_to`` the customer's status (resolved on our
instance from its ``uri``), addressed to its author (``@user@instance`` first), visibility
``public`` or, for a private reply, ``direct``; an ``Idempotency-Key`` per reply, so a retry
after a lost answer does not post twice. Moderation: none — Mastodon lets an account hide
or delete only its own statuses (an instance's moderators use the admin API, not this).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Final, TypeVar
from urllib.parse import urlsplit

from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)
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
from clameur.sources.html_text import html_to_text

log = logging.getLogger(__name__)

MAX_PARENT_LOOKUPS: Final = 20
MAX_PARENTS_KEPT: Final = 500
MAX_TEXT_CHARS: Final = 100_000
USER_AGENT: Final = "Clameur (Mastodon.py)"
T = TypeVar("T")


class MastodonOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashtags: list[str] = Field(default=[], max_length=20)
    search: list[str] = Field(default=[], max_length=20)
    mentions: bool = False
    limit: int = Field(default=40, ge=1, le=40)
    """Statuses asked for per stream and poll (Mastodon's maximum is 40)."""
    timeout: float = Field(default=20.0, gt=0, le=120)

    @model_validator(mode="after")
    def _something(self) -> MastodonOptions:
        self.hashtags = [t.strip().lstrip("#") for t in self.hashtags if t.strip().lstrip("#")]
        for tag in self.hashtags:
            if not all(c.isalnum() or c == "_" for c in tag):
                raise ValueError(f"a hashtag is letters, digits and _, not {tag!r}")
        self.search = [q.strip() for q in self.search if q.strip()]
        if not (self.hashtags or self.search or self.mentions):
            raise ValueError("listen to something: hashtags, search or mentions")
        return self


def _ordered(value: str) -> tuple[int, str]:
    """Mastodon ids are numeric strings (Pleroma's fixed-length flakes): compare so."""
    return (len(value), value)


class MastodonConnector(BaseConnector):
    kind: ClassVar[str] = "mastodon"
    default_source: ClassVar[str] = "mastodon"
    options_schema: ClassVar[type[BaseModel]] = MastodonOptions
    secret_fields: ClassVar[tuple[str, ...]] = ("access_token",)

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidInputError("the instance URL is https://instance.example", where="url")
        if parts.path.strip("/") or parts.query:
            raise InvalidInputError("the instance URL has no path nor query", where="url")

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        options = MastodonOptions.model_validate(dict(config.options))
        api, session = client(config, context.settings, options.timeout)
        previous = dict(cursor or {})
        streams: dict[str, str] = dict(previous.get("streams") or {})
        parents: dict[str, str] = dict(previous.get("parents") or {})
        me = previous.get("me") or str(
            _call(lambda: api.account_verify_credentials(), session)["id"]
        )
        polled = Polled()
        found: list[tuple[str, Any]] = []  # (where, status)

        for name, fetch, pick in _streams(api, options):
            since = streams.get(name)
            page = _call(partial(fetch, since), session)
            newest = streams.get(name)
            for number, item in enumerate(list(page or []), start=1):
                item_id = _get(item, "id")
                if since and item_id is not None and _ordered(str(item_id)) <= _ordered(since):
                    continue  # seen already (a search answers its newest page)
                if item_id is not None and (
                    newest is None or _ordered(str(item_id)) > _ordered(newest)
                ):
                    newest = str(item_id)
                where = f"{name} item {number}" + (f" ({item_id})" if item_id else "")
                found.append((where, pick(item)))
            if newest is not None:
                streams[name] = newest

        by_local: dict[str, str] = {}
        for _, status in found:
            local, uri = _get(status, "id"), _get(status, "uri")
            ours = str(_get(_get(status, "account"), "id")) == me
            if local is not None and isinstance(uri, str) and not ours:
                by_local[str(local)] = uri
        lookups = 0
        seen: set[str] = set()
        for where, status in found:
            try:
                record = status_record(status, config.source, _host(config.url))
            except ValueError as error:
                polled.problems.append(Problem(where, str(error)))
                continue
            if record["external_id"] in seen:
                continue
            seen.add(record["external_id"])
            account = _get(status, "account")
            if str(_get(account, "id")) == me:
                continue  # our own status (a published reply)
            parent = _get(status, "in_reply_to_id")
            if parent is not None:
                parent = str(parent)
                uri = by_local.get(parent) or parents.get(parent)
                if uri is None and lookups < MAX_PARENT_LOOKUPS:
                    lookups += 1
                    found = _parent(api, session, parent, where, polled)
                    uri = _get(found, "uri")
                    above = _get(found, "in_reply_to_id")
                    if str(_get(_get(found, "account"), "id")) == me and above is not None:
                        # an answer to our reply: thread it under what we answered
                        above = str(above)
                        target = by_local.get(above) or parents.get(above)
                        if target is None and lookups < MAX_PARENT_LOOKUPS:
                            lookups += 1
                            target = _get(_parent(api, session, above, where, polled), "uri")
                        if isinstance(target, str):
                            record["answers_our_status"], uri = uri, target
                if isinstance(uri, str):
                    parents[parent] = uri
                    record["in_reply_to"] = uri
            polled.records.append(record)
        # oldest first: a parent is stored before its replies, which then join its thread
        polled.records.sort(key=lambda r: datetime.fromisoformat(r["created_at"]))
        kept = dict(list(parents.items())[-MAX_PARENTS_KEPT:])
        polled.cursor = {"streams": streams, "me": me, "parents": kept}
        return polled

    def channel(self, config: SourceConfig, settings: Settings | None = None) -> MastodonChannel:
        return MastodonChannel(config, settings or get_settings())


Stream = tuple[str, Callable[[str | None], Any], Callable[[Any], Any]]
"""A stream's cursor name, how to fetch what follows an id, and the status of an item."""


def _streams(api: Mastodon, options: MastodonOptions) -> list[Stream]:
    limit = options.limit

    def tag(name: str) -> Callable[[str | None], Any]:
        return lambda since: api.timeline_hashtag(name, min_id=since, limit=limit)

    def search(query: str) -> Callable[[str | None], Any]:
        # no min_id, exclude_unreviewed off (it only filters hashtags): either would make
        # Mastodon.py read the instance's version first (and loop on servers without
        # /api/v2/instance); what is not newer than the cursor is dropped below
        return lambda since: api.search_v2(
            query, resolve=False, result_type="statuses", limit=limit, exclude_unreviewed=False
        )["statuses"]

    def mentions(since: str | None) -> Any:
        return api.notifications(types=["mention", "update"], min_id=since, limit=min(limit, 30))

    def itself(item: Any) -> Any:
        return item

    out: list[Stream] = [(f"tag:{t}", tag(t), itself) for t in options.hashtags]
    out += [(f"search:{q}", search(q), itself) for q in options.search]
    if options.mentions:
        out.append(("mentions", mentions, lambda n: _get(n, "status")))
    return out


def _parent(api: Mastodon, session: GuardedSession, parent: str, where: str, polled: Polled) -> Any:
    """The status ``parent`` (a local id), or None when it is gone (a problem says so)."""
    try:
        return _call(lambda: api.status(parent), session)
    except SourceError as error:
        if isinstance(error.__cause__, MastodonNotFoundError) or "not found" in str(error):
            polled.problems.append(
                Problem(where, f"its parent status {parent} is gone: kept outside its thread")
            )
            return None
        raise


def client(
    config: SourceConfig, settings: Settings, timeout: float
) -> tuple[Mastodon, GuardedSession]:
    """A Mastodon.py client for the source's instance, its host checked first."""
    if not config.url:
        raise SourceError(f"Mastodon source {config.name!r} has no instance URL")
    token = config.secrets.get("access_token")
    if not token:
        raise SourceError(f"Mastodon source {config.name!r} has no access_token secret")
    try:
        check_url_host(config.url, allow_private=settings.allow_private_fetch)
    except FetchError as error:
        raise SourceError(f"Mastodon instance {config.url}: {error.reason}") from None
    session = GuardedSession(allow_private=settings.allow_private_fetch)
    api = Mastodon(
        access_token=token,
        api_base_url=config.url.rstrip("/"),
        ratelimit_method="throw",  # never sleep in a poller: the scheduler waits
        request_timeout=timeout,
        session=session,
        user_agent=USER_AGENT,
        version_check_mode="none",
    )
    return api, session


def _call(run: Callable[[], T], session: GuardedSession) -> T:
    """Run one API call, its failures as the framework's typed errors."""
    try:
        return run()
    except MastodonRatelimitError:
        headers = session.last_response.headers if session.last_response is not None else None
        raise RateLimitedError(
            "Mastodon rate limit reached", retry_after=retry_after_of(headers)
        ) from None
    except MastodonUnauthorizedError as error:
        raise SourceError(
            f"Mastodon refused the access token (revoked or expired?): {_said(error)}"
        ) from None
    except MastodonNotFoundError as error:
        raise SourceError(f"Mastodon: not found: {_said(error)}") from error
    except MastodonServerError as error:
        raise TransientSourceError(f"Mastodon server error: {_said(error)}") from None
    except MastodonAPIError as error:
        status = error.args[1] if len(error.args) > 1 else "?"
        if status == 403:
            raise SourceError(
                f"Mastodon refused the request (403: the token lacks a scope?): {_said(error)}"
            ) from None
        raise SourceError(f"Mastodon API error {status}: {_said(error)}") from None
    except MastodonNetworkError as error:
        refused = refusal(error)
        if refused is not None:
            raise SourceError(f"Mastodon: {refused}") from None
        raise TransientSourceError(f"Mastodon network error: {error}") from None
    except MastodonError as error:
        raise SourceError(f"Mastodon: {type(error).__name__}: {error}") from None


def _said(error: MastodonError) -> str:
    """What the server said (``error`` of the JSON body), else the status and reason."""
    args = error.args
    if len(args) >= 4 and args[3]:
        return str(args[3])[:300]
    if len(args) >= 3:
        return f"{args[1]} {args[2]}"
    return str(error)[:300]


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else None


def _host(url: str | None) -> str:
    return (urlsplit(url).hostname or "") if url else ""


def _iso(value: Any, what: str) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{what} has no time zone")
        return value.isoformat()
    if isinstance(value, str) and value:
        return value
    raise ValueError(f"no {what}")


def status_record(status: Any, source: str, instance: str) -> dict[str, Any]:
    """One status as an import record; ``ValueError`` names what is wrong with it."""
    if not isinstance(status, Mapping):
        raise ValueError("not a status object")
    if isinstance(status.get("reblog"), Mapping):
        status = status["reblog"]  # a boost: the boosted status is the mention
    uri = status.get("uri")
    if not isinstance(uri, str) or not uri.strip():
        raise ValueError("status without a uri (nor id): cannot tell it from others")
    if status.get("id") is None:
        raise ValueError("status without an id")
    account = status.get("account")
    if not isinstance(account, Mapping):
        raise ValueError(f"status {uri}: 'account' is not an account object")
    acct = str(account.get("acct") or account.get("username") or "").strip()
    if not acct:
        raise ValueError(f"status {uri}: its account has no acct")
    if "@" not in acct:
        acct = f"{acct}@{_host(str(account.get('url') or '')) or instance}"
    body = html_to_text(str(status.get("content") or ""))
    warning = " ".join(str(status.get("spoiler_text") or "").split())
    text = f"{warning}\n\n{body}" if warning and body else (warning or body)
    if not text:
        media = [str(m.get("description") or "") for m in status.get("media_attachments") or []
                 if isinstance(m, Mapping)]  # fmt: skip
        text = "\n".join(d for d in media if d)
    if not text:
        raise ValueError(f"status {uri}: no text (media without description)")
    author: dict[str, Any] = {"handle": acct[:200]}
    if account.get("display_name"):
        author["name"] = str(account["display_name"])[:200]
    if isinstance(account.get("followers_count"), int):
        author["followers"] = account["followers_count"]
    if account.get("url"):
        author["url"] = str(account["url"])[:2000]
    record: dict[str, Any] = {
        "source": source,
        "external_id": uri[:300],
        "text": text[:MAX_TEXT_CHARS],
        "created_at": _iso(status.get("created_at"), f"created_at of status {uri}"),
        "author": author,
        "url": str(status.get("url") or uri)[:2000],
        "mastodon_id": str(status["id"]),
        "metrics": {
            "likes": _count(status.get("favourites_count")),
            "shares": _count(status.get("reblogs_count")),
            "replies": _count(status.get("replies_count")),
        },
    }
    language = status.get("language")
    if isinstance(language, str) and 2 <= len(language) <= 3:
        record["lang"] = language.lower()
    if status.get("edited_at"):
        record["edited_at"] = _iso(status["edited_at"], "edited_at")
    return record


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


# -- publishing ------------------------------------------------------------------------


class MastodonChannel:
    """Replies as statuses on the source's instance (public, or ``direct`` for private)."""

    name = "mastodon"
    supports_public = True
    supports_private = True
    moderation_actions: frozenset[str] = frozenset()

    def __init__(self, config: SourceConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings

    def publish(self, reply: OutgoingReply) -> str:
        try:
            api, session = client(self.config, self.settings, 30.0)
        except SourceError as error:
            raise PermanentChannelError(str(error)) from None
        try:
            parent_id = (
                self._local_id(api, session, reply.in_reply_to) if reply.in_reply_to else None
            )
            text = reply.text.strip()
            handle = reply.recipient_handle.lstrip("@")
            if handle and f"@{handle.lower()}" not in text.lower():
                text = f"@{handle} {text}"
            posted = _call(
                lambda: api.status_post(
                    text,
                    in_reply_to_id=parent_id,
                    visibility="public" if reply.visibility == "public" else "direct",
                    idempotency_key=f"clameur-{reply.tenant_id}-{reply.reply_id}",
                ),
                session,
            )
        except (RateLimitedError, TransientSourceError) as error:
            raise ChannelError(str(error)) from None
        except SourceError as error:
            raise PermanentChannelError(str(error)) from None
        uri = _get(posted, "uri") or _get(posted, "id")
        if not uri:
            raise ChannelError("Mastodon answered the post without its uri")
        return str(uri)

    def _local_id(self, api: Mastodon, session: GuardedSession, target: str) -> str:
        """The id on our instance of the status ``target`` (a uri; a bare id as is)."""
        if not target.startswith(("http://", "https://")):
            return target
        found = _call(
            lambda: api.search_v2(
                target, resolve=True, result_type="statuses", exclude_unreviewed=False
            ),
            session,
        )
        statuses = list(_get(found, "statuses") or [])
        if not statuses:
            raise PermanentChannelError(
                f"the status {target} cannot be found from {self.config.url} (deleted?)"
            )
        return str(statuses[0]["id"])

    def moderate(self, request: ModerationRequest) -> None:
        raise PermanentChannelError(
            "Mastodon has no moderation of others' statuses for an account (only an "
            "instance's moderators, through its admin API)"
        )
