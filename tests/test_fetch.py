"""The connectors' fetcher against a real HTTP server on loopback: conditional GET, redirects
checked hop by hop, size and time limits, decompression bombs, rate limits, refused addresses."""

from __future__ import annotations

import gzip
import ipaddress
import shutil
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from clameur import fetch
from clameur.config import Settings
from clameur.fetch import (
    Fetcher,
    FetchError,
    PrivateAddressError,
    RateLimitedError,
    check_host,
)
from tests.conftest import REQUIRE

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Server:
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _server(bind: str) -> Iterator[Server]:
    routes: dict[str, Route] = {}
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            path = self.path.split("?", 1)[0]
            seen.append({"method": self.command, "path": self.path, "headers": self.headers})
            route = routes.get(path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            route(self)

        do_GET = _serve  # noqa: N815
        do_POST = _serve  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((bind, 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Server(httpd.server_address[1], routes, seen)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _server("127.0.0.1")


def reply(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response_only(status)  # no Date unless given
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def redirect(location: str, status: int = 302) -> Route:
    return reply(status, headers={"Location": location})


ALLOWED = Settings(allow_private_fetch=True)
STRICT = Settings(allow_private_fetch=False)


# -- the happy paths -------------------------------------------------------------------


def test_a_plain_get_brings_back_status_headers_and_body(server: Server) -> None:
    server.routes["/feed"] = reply(200, b"<rss/>", {"Content-Type": "application/rss+xml"})
    response = Fetcher(ALLOWED, user_agent="Test/1").get(server.url("/feed?page=2"))
    assert response.status == 200
    assert response.content == b"<rss/>"
    assert response.headers["content-type"] == "application/rss+xml"
    assert response.url == server.url("/feed?page=2")
    assert not response.not_modified
    [request] = server.seen
    assert request["path"] == "/feed?page=2"
    assert request["headers"]["User-Agent"] == "Test/1"


def test_a_conditional_get_answers_not_modified(server: Server) -> None:
    stamp = "Wed, 02 Dec 2026 10:00:00 GMT"

    def feed(handler: BaseHTTPRequestHandler) -> None:
        same = handler.headers.get("If-None-Match") == '"v1"'
        same = same and handler.headers.get("If-Modified-Since") == stamp
        reply(
            304 if same else 200, b"" if same else b"body", {"ETag": '"v1"', "Last-Modified": stamp}
        )(handler)

    server.routes["/feed"] = feed
    fetcher = Fetcher(ALLOWED)
    first = fetcher.get(server.url("/feed"))
    assert (first.status, first.etag, first.last_modified) == (200, '"v1"', stamp)
    second = fetcher.get(server.url("/feed"), etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified
    assert second.content == b""
    assert fetcher.get(server.url("/feed"), etag='"v0"').content == b"body"


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    server: Server,
) -> None:
    server.routes["/feed"] = reply(200, b"ok")
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    response = Fetcher(ALLOWED, resolver=resolver).get(server.url("/feed", host="feeds.example"))
    assert response.content == b"ok"
    assert asked == [("feeds.example", server.port)]
    assert server.seen[0]["headers"]["Host"] == f"feeds.example:{server.port}"


def test_a_redirect_chain_is_followed_with_relative_locations(server: Server) -> None:
    server.routes["/a"] = redirect("/b", 301)
    server.routes["/b"] = redirect("c?x=1", 307)
    server.routes["/c"] = redirect(server.url("/final"), 308)
    server.routes["/final"] = reply(200, b"here")
    response = Fetcher(ALLOWED).get(server.url("/a"))
    assert (response.status, response.content) == (200, b"here")
    assert response.url == server.url("/final")
    assert [r["path"] for r in server.seen] == ["/a", "/b", "/c?x=1", "/final"]


def test_too_many_redirects_are_refused(server: Server) -> None:
    server.routes["/loop"] = redirect("/loop")
    with pytest.raises(FetchError, match="more than 3 redirects"):
        Fetcher(ALLOWED, max_redirects=3).get(server.url("/loop"))
    assert len(server.seen) == 4


def test_a_post_redirected_by_303_continues_with_a_get(server: Server) -> None:
    server.routes["/in"] = redirect("/out", 303)
    server.routes["/out"] = reply(200, b"done")
    response = Fetcher(ALLOWED).post(server.url("/in"), content=b"{}")
    assert response.content == b"done"
    assert [r["method"] for r in server.seen] == ["POST", "GET"]


# -- refused addresses and schemes -----------------------------------------------------


@pytest.fixture
def pretend_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.2 stands for a public server (the test cannot reach a real one); every other
    loopback address stays refused."""
    real = fetch._public

    def public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return str(address) == "127.0.0.2" or real(address)

    monkeypatch.setattr(fetch, "_public", public)


@pytest.fixture
def public_server(pretend_public: None) -> Iterator[Server]:
    yield from _server("127.0.0.2")


def test_a_redirect_to_a_private_address_is_refused_at_its_hop(public_server: Server) -> None:
    names = {"feeds.example": ["127.0.0.2"], "intranet.example": ["127.0.0.1"]}
    public_server.routes["/feed"] = redirect(f"http://intranet.example:{public_server.port}/x")
    public_server.routes["/ok"] = reply(200, b"public")
    fetcher = Fetcher(STRICT, resolver=lambda host, port: names[host])
    assert fetcher.get(public_server.url("/ok", host="feeds.example")).content == b"public"
    with pytest.raises(PrivateAddressError) as refused:
        fetcher.get(public_server.url("/feed?token=t0k", host="feeds.example"))
    message = str(refused.value)
    assert "intranet.example: 127.0.0.1 is a loopback" in message
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in message
    assert refused.value.address == "127.0.0.1"
    assert [r["path"] for r in public_server.seen] == ["/ok", "/feed?token=t0k"]


def test_a_redirect_to_a_loopback_literal_is_refused(public_server: Server) -> None:
    public_server.routes["/feed"] = redirect("http://127.0.0.1:9/admin", 301)
    fetcher = Fetcher(STRICT, resolver=lambda host, port: ["127.0.0.2"])
    with pytest.raises(PrivateAddressError, match=r"127\.0\.0\.1 is a loopback"):
        fetcher.get(public_server.url("/feed", host="feeds.example"))


def test_a_name_resolving_to_loopback_is_refused_before_any_connection(server: Server) -> None:
    server.routes["/feed"] = reply(200, b"secret")
    fetcher = Fetcher(STRICT, resolver=lambda host, port: ["93.184.215.14", "127.0.0.1"])
    with pytest.raises(PrivateAddressError) as refused:
        fetcher.get(server.url("/feed", host="public.example"))
    assert "public.example: 127.0.0.1" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH" in str(refused.value)
    assert server.seen == []


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:127.0.0.1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::1]",
        "[::1]",
        "169.254.169.254",
        "10.0.0.1",
        "100.64.0.1",
        "224.0.0.1",
        "0.0.0.0",
    ],  # fmt: skip
)
def test_private_address_forms_are_refused(host: str) -> None:
    with pytest.raises(PrivateAddressError) as refused:
        Fetcher(STRICT).get(f"http://{host}:8080/feed")
    assert host.strip("[]") in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)


def test_check_host_returns_the_public_addresses() -> None:
    assert check_host("93.184.215.14", 443, allow_private=False) == ["93.184.215.14"]
    assert check_host("127.0.0.1", 80, allow_private=True) == ["127.0.0.1"]
    with pytest.raises(PrivateAddressError):
        check_host("localhost", 80, allow_private=False)
    with pytest.raises(FetchError, match="cannot resolve host nowhere.invalid"):
        check_host("nowhere.invalid", 80, allow_private=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x/"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="only http:// and https://"):
        Fetcher(ALLOWED).get(url)


def test_a_redirect_to_another_scheme_is_refused(server: Server) -> None:
    server.routes["/feed"] = redirect("file:///etc/passwd")
    with pytest.raises(FetchError, match="only http:// and https://"):
        Fetcher(ALLOWED).get(server.url("/feed"))


# -- HTTP errors -----------------------------------------------------------------------


def test_a_server_error_carries_its_status_without_query_or_credentials(server: Server) -> None:
    server.routes["/boom"] = reply(500, b"oops")
    url = f"http://user:hunter2@127.0.0.1:{server.port}/boom?token=s3cret"
    with pytest.raises(FetchError) as failed:
        Fetcher(ALLOWED).get(url)
    assert failed.value.status == 500
    assert not isinstance(failed.value, RateLimitedError)
    assert str(failed.value) == f"http://127.0.0.1:{server.port}/boom: HTTP 500"
    assert failed.value.url == f"http://127.0.0.1:{server.port}/boom"


def test_429_is_rate_limited_with_its_retry_after(server: Server) -> None:
    server.routes["/slow-down"] = reply(429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimitedError) as limited:
        Fetcher(ALLOWED).get(server.url("/slow-down"))
    assert (limited.value.status, limited.value.retry_after) == (429, 120.0)


def test_503_with_an_http_date_is_rate_limited_against_the_servers_date(server: Server) -> None:
    server.routes["/busy"] = reply(
        503,
        headers={
            "Retry-After": "Wed, 02 Dec 2026 10:05:00 GMT",
            "Date": "Wed, 02 Dec 2026 10:00:30 GMT",
        },
    )
    server.routes["/down"] = reply(503)
    with pytest.raises(RateLimitedError) as limited:
        Fetcher(ALLOWED).get(server.url("/busy"))
    assert limited.value.retry_after == 270.0
    with pytest.raises(FetchError) as down:
        Fetcher(ALLOWED).get(server.url("/down"))
    assert down.value.status == 503
    assert not isinstance(down.value, RateLimitedError)


# -- size and time ---------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_naming_the_limit(server: Server) -> None:
    server.routes["/fits"] = reply(200, b"x" * 1000)
    server.routes["/big"] = reply(200, b"x" * 1001)
    fetcher = Fetcher(ALLOWED, max_bytes=1000)
    assert len(fetcher.get(server.url("/fits")).content) == 1000
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        fetcher.get(server.url("/big"))


def test_a_gzip_body_is_inflated(server: Server) -> None:
    server.routes["/gz"] = reply(200, gzip.compress(b"hello " * 100), {"Content-Encoding": "gzip"})
    server.routes["/deflate"] = reply(
        200, zlib.compress(b"deflated"), {"Content-Encoding": "deflate"}
    )
    fetcher = Fetcher(ALLOWED)
    assert fetcher.get(server.url("/gz")).content == b"hello " * 100
    assert fetcher.get(server.url("/deflate")).content == b"deflated"


def test_a_gzip_bomb_is_stopped_at_the_limit_without_inflating_it(server: Server) -> None:
    bomb = gzip.compress(b"\0" * (64 * 2**20), compresslevel=9)  # 64 MiB in ~64 KiB
    assert len(bomb) < 2**20
    server.routes["/bomb"] = reply(200, bomb, {"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="larger than 1048576 bytes"):
            Fetcher(ALLOWED, max_bytes=2**20).get(server.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"{peak} bytes held while refusing the bomb"


def test_a_corrupt_gzip_body_is_an_error(server: Server) -> None:
    server.routes["/bad"] = reply(200, b"not gzip at all", {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="corrupt gzip body"):
        Fetcher(ALLOWED).get(server.url("/bad"))


def drip(head: bytes, body: bytes, every: float) -> Route:
    """Sends ``head`` at once, then ``body`` one byte every ``every`` seconds."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        try:
            handler.wfile.write(head)
            handler.wfile.flush()
            for byte in body:
                time.sleep(every)
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:
            pass  # the client hung up, as it should

    return route


def test_a_slow_drip_body_hits_the_total_deadline(server: Server) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    server.routes["/drip"] = drip(head, b"x" * 100, 0.05)  # each byte well within a read
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"no complete answer within 0\.6 s"):
        Fetcher(ALLOWED, timeout=0.6).get(server.url("/drip"))
    assert time.monotonic() - started < 2.0


def test_slow_drip_headers_hit_the_total_deadline(server: Server) -> None:
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Pad-%d: y\r\n" % i for i in range(60))
    server.routes["/drip"] = drip(b"", head, 0.05)
    started = time.monotonic()
    with pytest.raises(FetchError, match="no complete answer within"):
        Fetcher(ALLOWED, timeout=0.6).get(server.url("/drip"))
    assert time.monotonic() - started < 2.0


def test_a_silent_server_after_a_drip_is_cut_at_the_deadline(server: Server) -> None:
    def route(handler: BaseHTTPRequestHandler) -> None:
        drip(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", b"abcdef", 0.1)(handler)
        time.sleep(3)  # then nothing: a per-read timeout of the whole budget would wait

    server.routes["/stall"] = route
    started = time.monotonic()
    with pytest.raises(FetchError, match="no complete answer within"):
        Fetcher(ALLOWED, timeout=0.8).get(server.url("/stall"))
    assert time.monotonic() - started < 1.2  # 0.6 s of drip + a 0.8 s read timeout: 1.4


# -- TLS to a pinned address -----------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for ``feeds.example`` (made by Debian's openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        if REQUIRE:
            pytest.fail("openssl required (CLAMEUR_REQUIRE_SERVICES=1) but not found")
        pytest.skip("no openssl to make a test certificate (apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            key,
            "-out",
            cert,
            "-subj",
            "/CN=feeds.example",
            "-addext",
            "subjectAltName=DNS:feeds.example",
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_to_the_checked_address_verifies_the_host_names_certificate(
    certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection goes to 127.0.0.1, yet TLS is set up for the name: SNI and the
    certificate check use ``feeds.example``, not the address."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*certificate)
    names: list[str | None] = []

    def sni(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        names.append(name)

    tls.sni_callback = sni  # type: ignore[assignment]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _TLSHandler)
    httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"https://feeds.example:{httpd.server_address[1]}/feed"
    try:
        untrusted = Fetcher(ALLOWED, resolver=lambda host, port: ["127.0.0.1"])
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.get(url)
        monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
        trusting = Fetcher(ALLOWED, resolver=lambda host, port: ["127.0.0.1"])
        assert trusting.get(url).content == b"secure"
        other = f"https://127.0.0.1:{httpd.server_address[1]}/feed"
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            trusting.get(other)  # the certificate is not 127.0.0.1's
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "feeds.example" in names


class _TLSHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        reply(200, b"secure")(self)

    def log_message(self, *args: object) -> None:
        pass


def test_credentials_are_not_sent_on_to_another_host(server: Server) -> None:
    server.routes["/start"] = redirect(server.url("/landed", host="localhost"))
    server.routes["/landed"] = reply(200, b"ok")
    Fetcher(ALLOWED).get(
        server.url("/start"), headers={"Authorization": "Bearer t0k", "Cookie": "s=1", "X-A": "b"}
    )
    first, second = server.seen
    assert first["headers"]["Authorization"] == "Bearer t0k"
    assert second["headers"]["Authorization"] is None
    assert second["headers"]["Cookie"] is None
    assert second["headers"]["X-A"] == "b"
