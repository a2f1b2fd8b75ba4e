"""A real HTTP server on loopback serving feeds, with ETag/Last-Modified (304 on a match)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Doc:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stream_bytes: int = 0
    """Serve this many bytes of filler (streamed, no Content-Length) instead of ``body``."""


@dataclass
class FeedServer:
    port: int
    docs: dict[str, Doc] = field(default_factory=dict)
    hits: list[tuple[str, int]] = field(default_factory=list)
    """(path, status answered) of every request."""
    before_answer: Callable[[str], None] | None = None
    """Called with the path when a request arrives, before it is answered."""
    answered: threading.Event = field(default_factory=threading.Event)
    """Set after each answer is written."""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def gets(self, path: str, status: int | None = None) -> int:
        return sum(1 for p, s in self.hits if p == path and (status is None or s == status))


def serve_feeds() -> Iterator[FeedServer]:
    state = FeedServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle(self) -> None:
            with contextlib.suppress(ConnectionResetError):  # a client killed (kill -9 test)
                super().handle()

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if state.before_answer is not None:
                state.before_answer(self.path)
            try:
                self._get()
            finally:
                state.answered.set()

        def _get(self) -> None:
            doc = state.docs.get(self.path)
            if doc is None:
                self._answer(404, b"", {})
                return
            fresh = (doc.etag and self.headers.get("If-None-Match") == doc.etag) or (
                doc.last_modified and self.headers.get("If-Modified-Since") == doc.last_modified
            )
            validators = {}
            if doc.etag:
                validators["ETag"] = doc.etag
            if doc.last_modified:
                validators["Last-Modified"] = doc.last_modified
            if fresh and doc.status == 200:
                self._answer(304, b"", validators)
                return
            if doc.stream_bytes:
                self._stream(doc)
                return
            headers = {"Content-Type": doc.content_type, **validators, **doc.headers}
            self._answer(doc.status, doc.body, headers)

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            state.hits.append((self.path, status))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def _stream(self, doc: Doc) -> None:
            state.hits.append((self.path, 200))
            self.send_response(200)
            self.send_header("Content-Type", doc.content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"<!-- " + b"x" * 65_000 + b" -->\n"
            sent = 0
            try:
                self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
                while sent < doc.stream_bytes:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: the point of the test

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
