"""Outbound HTTP for connectors, safe against SSRF, oversized bodies and slow servers.

Every hop of a fetch (the first URL and each redirect, followed by hand) is resolved and its
addresses checked by :func:`check_host`: loopback, private, link-local, shared, reserved and
multicast addresses — also hidden in IPv4-mapped, NAT64, 6to4 or Teredo IPv6 forms — are
refused unless ``CLAMEUR_ALLOW_PRIVATE_FETCH=1``. The connection is then made to the checked
address itself (the URL's host is kept for the ``Host`` header and TLS SNI and certificate
check), so a DNS answer cannot change between the check and the connection. Proxies from the
environment are not used.

The body is read streamed and decompressed here (gzip, deflate), counted after decompression,
and stopped one byte past ``max_bytes``: a decompression bomb costs at most that much memory.
``timeout`` is a deadline over the whole fetch — every hop's connection, headers and body —
enforced by a watchdog that shuts the socket down when it passes, so a server dripping one
byte at a time cannot hold a connector. URLs in errors and logs have no query string and no
credentials.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any, Final

import httpx

from clameur.config import Settings
from clameur.errors import ClameurError

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> addresses``: how a host name is resolved (tests inject their own)."""

REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_CHUNK: Final = 64 * 1024
_CREDENTIALS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})


class FetchError(ClameurError):
    """A fetch failed: refused address, HTTP error status, too big, too slow, bad URL.

    ``url`` is the URL shown without query and credentials; ``status`` the HTTP status
    when the server answered one."""

    def __init__(self, reason: str, *, url: str, status: int | None = None) -> None:
        self.reason = reason
        self.url = url
        self.status = status
        super().__init__(f"{url}: {reason}" if url else reason)


class PrivateAddressError(FetchError):
    """The host resolves to a loopback, private, link-local or otherwise non-public address."""

    def __init__(self, reason: str, *, url: str, host: str, address: str) -> None:
        self.host = host
        self.address = address
        super().__init__(reason, url=url)


class RateLimitedError(FetchError):
    """429, or 503 with ``Retry-After``: ``retry_after`` seconds to wait, when given."""

    def __init__(self, reason: str, *, url: str, status: int, retry_after: float | None) -> None:
        self.retry_after = retry_after
        super().__init__(reason, url=url, status=status)


@dataclass(frozen=True)
class FetchResponse:
    """What a fetch brought back. ``url`` is the final URL (after redirects, without
    credentials); ``headers`` have lower-case keys (repeated ones joined with ``", "``)."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        """The conditional GET's answer: nothing changed since ``etag``/``last_modified``."""
        return self.status == 304


# -- the address check -----------------------------------------------------------------


def check_host(
    host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None
) -> list[str]:
    """The addresses ``host`` resolves to, to connect to; :class:`PrivateAddressError`
    unless every one of them is public (or ``allow_private``), :class:`FetchError` when it
    does not resolve."""
    return _checked(host, port, allow_private, resolver or _getaddrinfo, url=host)


def _checked(
    host: str, port: int, allow_private: bool, resolver: Resolver, *, url: str
) -> list[str]:
    if _literal(host):
        addresses = [host]  # an address is not looked up (nor rewritten)
    else:
        try:
            addresses = list(dict.fromkeys(resolver(host, port)))
        except OSError as exc:
            raise FetchError(f"cannot resolve host {host}: {exc}", url=url) from None
    if not addresses:
        raise FetchError(f"host {host} resolves to no address", url=url)
    for text in [] if allow_private else addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise FetchError(f"host {host} resolves to {text!r}, not an address", url=url) from None
        if not _public(address):
            raise PrivateAddressError(
                f"refusing to connect to {host}: {text} is a loopback, private or link-local "
                "address (set CLAMEUR_ALLOW_PRIVATE_FETCH=1 to allow it)",
                url=url,
                host=host,
                address=text,
            )
    return addresses


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global unicast, and so is every IPv4 address it carries."""
    return all(a.is_global and not a.is_multicast for a in _reached(address))


def _getaddrinfo(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


_NAT64: Final = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # RFC 6052 well-known prefix
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # RFC 8215 local-use prefix
)


def _reached(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[Any]:
    """The address and every IPv4 address it carries, which a translator or relay on the
    way would reach instead: IPv4-mapped (``::ffff:a.b.c.d``), NAT64 (``64:ff9b::a.b.c.d``),
    6to4 (``2002:AABB:CCDD::``), Teredo (its server and client). ``is_global`` alone takes
    ``64:ff9b::7f00:1`` and ``2002:7f00:1::1`` — loopback underneath — for public."""
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    out: list[Any] = [address]
    if address.ipv4_mapped is not None:
        out.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        out.append(address.sixtofour)
    if address.teredo is not None:
        out.extend(address.teredo)
    if any(address in net for net in _NAT64):
        out.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return out


def shown(url: httpx.URL | str) -> str:
    """The URL without its query and credentials, which may hold tokens."""
    url = httpx.URL(url) if isinstance(url, str) else url
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"


# -- the fetcher -----------------------------------------------------------------------


class Fetcher:
    """GET (and POST) with the SSRF check on every hop, a size limit and a total deadline.

    One fetcher may be shared by a connector's polls; each call opens its own connections.
    ``resolver`` replaces DNS (tests: a public-looking name resolving to loopback)."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_bytes: int = 10 * 2**20,
        timeout: float = 20.0,
        max_redirects: int = 5,
        user_agent: str = "Clameur/1 (+connector)",
        resolver: Resolver | None = None,
    ) -> None:
        self.allow_private = settings.allow_private_fetch
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self._resolver = resolver or _getaddrinfo
        self._tls = httpx.create_ssl_context()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResponse:
        """GET ``url``, following redirects; conditional when ``etag``/``last_modified`` are
        given (a 304 comes back as ``not_modified``). Raises :class:`FetchError` for a 4xx or
        5xx answer, a body over ``max_bytes``, the deadline, a refused address or scheme, or
        more than ``max_redirects`` redirects."""
        sent = dict(headers or {})
        if etag:
            sent["If-None-Match"] = etag
        if last_modified:
            sent["If-Modified-Since"] = last_modified
        return self._fetch("GET", url, None, sent)

    def post(
        self,
        url: str,
        *,
        content: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResponse:
        """POST ``content``; same checks as :meth:`get`. A 307/308 redirect re-posts the
        body, a 301/302/303 continues with a GET (as browsers do)."""
        return self._fetch("POST", url, content, dict(headers or {}))

    # -- one fetch, hop by hop ---------------------------------------------------------

    def _fetch(
        self, method: str, url: str, content: bytes | None, headers: dict[str, str]
    ) -> FetchResponse:
        deadline = time.monotonic() + self.timeout
        try:
            current = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchError(f"not a URL: {exc}", url="") from None
        for _ in range(self.max_redirects + 1):
            answer = self._hop(method, current, content, headers, deadline)
            if isinstance(answer, FetchResponse):
                return answer
            status, location = answer
            try:
                target = current.join(location)
            except httpx.InvalidURL as exc:
                raise FetchError(
                    f"HTTP {status} to an invalid Location: {exc}", url=shown(current)
                ) from None
            log.debug("redirected", extra={"url": shown(current), "to": shown(target)})
            if target.raw_host != current.raw_host:  # credentials stay with their host
                headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
            if method == "POST" and status in {301, 302, 303}:
                method, content = "GET", None
            current = target
        raise FetchError(f"more than {self.max_redirects} redirects", url=shown(url))

    def _hop(
        self,
        method: str,
        url: httpx.URL,
        content: bytes | None,
        headers: dict[str, str],
        deadline: float,
    ) -> FetchResponse | tuple[int, str]:
        """One request: the response, or the status and ``Location`` of a redirect."""
        where = shown(url)
        if url.scheme not in {"http", "https"} or not url.host:
            raise FetchError("only http:// and https:// URLs are fetched", url=where)
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = _checked(host, port, self.allow_private, self._resolver, url=where)
        sent = {
            "User-Agent": self.user_agent,
            "Accept-Encoding": "gzip, deflate",
            **headers,
            "Host": url.netloc.decode("ascii"),
        }
        watchdog = _Watchdog(deadline)
        try:
            with httpx.Client(verify=self._tls, follow_redirects=False, trust_env=False) as client:
                return self._exchange(client, method, url, addresses, content, sent, watchdog)
        except FetchError:
            raise
        except (httpx.HTTPError, OSError, ValueError) as exc:
            if watchdog.expired or isinstance(exc, httpx.TimeoutException):
                raise self._too_slow(where) from None
            raise FetchError(f"{method} failed: {type(exc).__name__}: {exc}", url=where) from None
        finally:
            watchdog.stop()

    def _exchange(
        self,
        client: httpx.Client,
        method: str,
        url: httpx.URL,
        addresses: list[str],
        content: bytes | None,
        headers: dict[str, str],
        watchdog: _Watchdog,
    ) -> FetchResponse | tuple[int, str]:
        """The request sent to each checked address in turn until one accepts it."""
        where = shown(url)
        for index, address in enumerate(addresses):
            remaining = watchdog.remaining()
            if remaining <= 0:
                raise self._too_slow(where)
            extensions: dict[str, Any] = {"trace": watchdog.trace}
            if url.scheme == "https":
                extensions["sni_hostname"] = url.raw_host.decode("ascii")
            request = client.build_request(
                method,
                url.copy_with(host=address),
                content=content,
                headers=headers,
                timeout=httpx.Timeout(remaining),
                extensions=extensions,
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
                continue
            try:
                return self._answer(url, response, watchdog)
            finally:
                response.close()
        raise FetchError(f"host {url.host} resolves to no address", url=where)

    def _answer(
        self, url: httpx.URL, response: httpx.Response, watchdog: _Watchdog
    ) -> FetchResponse | tuple[int, str]:
        where = shown(url)
        status = response.status_code
        location = response.headers.get("location")
        if status in REDIRECTS and location:
            return status, location
        headers = MappingProxyType({k.lower(): v for k, v in response.headers.items()})
        if status == 429 or (status == 503 and "retry-after" in headers):
            retry_after = _retry_after(headers.get("retry-after"), headers.get("date"))
            raise RateLimitedError(
                f"HTTP {status}, rate limited"
                + (f" (retry after {retry_after:g} s)" if retry_after is not None else ""),
                url=where,
                status=status,
                retry_after=retry_after,
            )
        if status >= 400:
            raise FetchError(f"HTTP {status}", url=where, status=status)
        body = b"" if status == 304 else self._read(response, where, watchdog)
        if watchdog.expired:
            raise self._too_slow(where)
        log.debug("fetched", extra={"url": where, "status": status, "bytes": len(body)})
        return FetchResponse(
            url=str(url.copy_with(username=None, password=None)) if url.userinfo else str(url),
            status=status,
            headers=headers,
            content=body,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
        )

    def _read(self, response: httpx.Response, where: str, watchdog: _Watchdog) -> bytes:
        """The decoded body, stopped one byte past the limit (counted after decompression,
        each inflation step bounded by what is left of it)."""
        encodings = [
            e.strip().lower()
            for e in response.headers.get("content-encoding", "").split(",")
            if e.strip() and e.strip().lower() != "identity"
        ]
        if len(encodings) > 1 or (encodings and encodings[0] not in _INFLATE):
            raise FetchError(f"unsupported Content-Encoding {', '.join(encodings)!r}", url=where)
        decoder = _Decoder(encodings[0], where) if encodings else None
        limit = self.max_bytes
        out = bytearray()
        raw_read = 0
        for chunk in response.iter_raw(_CHUNK):
            raw_read += len(chunk)
            if raw_read > limit:
                raise self._too_big(where)
            if decoder is None:
                out += chunk
            else:
                data = chunk
                while data and len(out) <= limit:
                    out += decoder.feed(data, limit + 1 - len(out))
                    data = decoder.tail
            if len(out) > limit:
                raise self._too_big(where)
            if watchdog.remaining() <= 0:
                raise self._too_slow(where)
        if decoder is not None:
            out += decoder.finish(limit + 1 - len(out))
            if len(out) > limit:
                raise self._too_big(where)
        return bytes(out)

    def _too_big(self, where: str) -> FetchError:
        return FetchError(f"response body is larger than {self.max_bytes} bytes", url=where)

    def _too_slow(self, where: str) -> FetchError:
        return FetchError(f"no complete answer within {self.timeout:g} s", url=where)


# -- decoding with a bound -------------------------------------------------------------

_INFLATE: Final = frozenset({"gzip", "x-gzip", "deflate"})


class _Decoder:
    """The one Content-Encoding layer, inflating at most what is asked for per call."""

    def __init__(self, name: str, where: str) -> None:
        self.name = name
        self.where = where
        gzip = name != "deflate"
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
        self._fallback = not gzip  # some servers send deflate without its zlib header
        self._started = False

    def feed(self, data: bytes, max_length: int) -> bytes:
        try:
            out = self._z.decompress(data, max_length)
        except zlib.error as exc:
            if not (self._fallback and not self._started):
                raise FetchError(f"corrupt {self.name} body: {exc}", url=self.where) from None
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            self._fallback = False
            return self.feed(data, max_length)
        self._started = True
        return out

    @property
    def tail(self) -> bytes:
        return self._z.unconsumed_tail

    def finish(self, max_length: int) -> bytes:
        """What zlib still holds (at most its window), the stream being over."""
        if not self._z.eof:
            raise FetchError(f"truncated {self.name} body", url=self.where)
        return self._z.flush()[:max_length]


# -- the deadline ----------------------------------------------------------------------


class _Watchdog:
    """Shuts the connection's socket down when the deadline passes, wherever the fetch is
    waiting (connecting, TLS, headers or body): per-read timeouts alone let a server that
    sends one byte at a time hold the fetch for ever."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._cut)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def trace(self, name: str, info: Mapping[str, Any]) -> None:
        """httpcore's trace hook: remember each connection's socket as it is made."""
        if name.endswith(("connect_tcp.complete", "start_tls.complete")):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with self._lock:
                    self._sockets.append(sock)
                    if self.expired:
                        _shutdown(sock)

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def stop(self) -> None:
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the plain socket's: it wakes a blocked recv, TLS too
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _retry_after(value: str | None, date: str | None) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date taken against the response's
    own ``Date`` (the server's clock), else against now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(date) or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str | None) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None
