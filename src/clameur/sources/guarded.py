"""The SSRF rule for the connectors that talk through a network's own SDK (Mastodon.py and
PRAW over requests, atproto over httpx) instead of :class:`clameur.fetch.Fetcher`.

Every request those libraries send — the first and each redirect hop — has its host
checked by :func:`clameur.fetch.check_host` first: loopback, private, link-local and
reserved addresses are refused unless ``CLAMEUR_ALLOW_PRIVATE_FETCH=1``, and the refusal
names the address and the setting. Proxies, ``.netrc`` and other environment settings are
not used.

Limit: unlike the fetcher, the connection is not pinned to the checked address — the SDK
resolves the name again when it connects, so a DNS answer changing in between (rebinding)
is not caught. The APIs' hosts are usually well-known (bsky.social, oauth.reddit.com, a
Mastodon instance the tenant chose).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests

from clameur.fetch import FetchError, PrivateAddressError, check_host


def check_url_host(url: str, *, allow_private: bool) -> None:
    """Refuse ``url`` unless http(s) and its host passes :func:`check_host`
    (:class:`FetchError`, :class:`PrivateAddressError`)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FetchError("only http:// and https:// URLs are fetched", url=url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    check_host(parts.hostname, port, allow_private=allow_private)


class GuardedSession(requests.Session):
    """A requests session checking the host of every request it sends (redirects too),
    keeping the last response for its headers (rate limits)."""

    def __init__(self, *, allow_private: bool, user_agent: str | None = None) -> None:
        super().__init__()
        self.trust_env = False  # no proxies nor .netrc from the environment
        self.allow_private = allow_private
        self.max_redirects = 5
        self.last_response: requests.Response | None = None
        if user_agent:
            self.headers["User-Agent"] = user_agent

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        check_url_host(str(request.url or ""), allow_private=self.allow_private)
        response = super().send(request, **kwargs)
        self.last_response = response
        return response


def httpx_guard(allow_private: bool) -> Callable[[httpx.Request], None]:
    """An httpx ``request`` event hook applying the same check (called on every hop)."""

    def check(request: httpx.Request) -> None:
        check_url_host(str(request.url), allow_private=allow_private)

    return check


def refusal(error: BaseException) -> FetchError | None:
    """The address refusal (or other fetch error) behind an SDK's wrapped exception: in
    its chain of causes, or among its arguments."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FetchError):
            return current
        for arg in current.args:
            if isinstance(arg, FetchError):
                return arg
        current = current.__cause__ or current.__context__
    return None


def is_refusal(error: BaseException) -> bool:
    return isinstance(refusal(error), PrivateAddressError)


def retry_after_of(headers: Any) -> float | None:
    """Seconds to wait from a ``Retry-After`` (seconds or an HTTP date, relative to the
    answer's ``Date``), else ``X-RateLimit-Reset``/``ratelimit-reset`` (an epoch, seconds
    to go, or an ISO date, relative to ``Date``) — never from our own clock."""
    if headers is None:
        return None
    from email.utils import parsedate_to_datetime

    from clameur.mentions.schemas import parse_datetime

    lower = {str(k).lower(): v for k, v in headers.items()}

    def header(name: str) -> str | None:
        value = lower.get(name.lower())
        return str(value).strip() if value is not None else None

    date_text = header("Date")
    server_now = None
    if date_text:
        try:
            server_now = parsedate_to_datetime(date_text)
        except (TypeError, ValueError):
            server_now = None
    retry = header("Retry-After")
    if retry:
        try:
            return max(0.0, float(retry))
        except ValueError:
            try:
                when = parsedate_to_datetime(retry)
            except (TypeError, ValueError):
                when = None
            if when is not None and server_now is not None:
                return max(0.0, (when - server_now).total_seconds())
    for name in ("X-RateLimit-Reset", "ratelimit-reset"):
        reset = header(name)
        if not reset:
            continue
        try:
            number = float(reset)
        except ValueError:
            try:
                when = parse_datetime(reset, name)
            except ValueError:
                continue
            if server_now is not None:
                return max(0.0, (when - server_now).total_seconds())
            continue
        if number > 1e9:  # an epoch
            if server_now is not None:
                return max(0.0, number - server_now.timestamp())
            continue
        return max(0.0, number)  # seconds to go (Reddit, Bluesky)
    return None
