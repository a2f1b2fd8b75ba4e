"""A real HTTP server on loopback replaying recorded API responses (Mastodon, Bluesky,
Reddit), routed by method + path (+ query), recording every request it was asked.

Recordings are JSON files under ``tests/sources/recordings/<network>/``, written in the
exact shape of the real APIs' answers (from their documentation and SDKs' test data).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

RECORDINGS = Path(__file__).parent / "recordings"


def recording(network: str, name: str) -> Any:
    """The recorded JSON body ``recordings/<network>/<name>.json``."""
    return json.loads((RECORDINGS / network / f"{name}.json").read_text(encoding="utf-8"))


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    """A JSON value (sent as JSON), or bytes as is."""
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] | None = None
    """Only answer requests whose query has these values (first value of each)."""


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)

    def param(self, name: str) -> str | None:
        """A query (or form) value, first of its name."""
        values = self.query.get(name)
        if not values and self.body and not self.body.lstrip().startswith((b"{", b"[")):
            values = self.form().get(name)
        return values[0] if values else None


@dataclass
class Replay:
    port: int = 0
    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        first: bool = False,
    ) -> None:
        """Answer ``method path`` with ``body``. Several answers of one route: the first
        whose ``query`` matches wins (``first``: put this one before the others)."""
        answer = Answer(status, body, dict(headers or {}), dict(query) if query else None)
        answers = self.routes.setdefault((method.upper(), path), [])
        if first:
            answers.insert(0, answer)
        else:
            answers.append(answer)

    def replace(self, method: str, path: str, body: Any = None, **kwargs: Any) -> None:
        """Forget the route's answers and answer ``body``."""
        self.routes.pop((method.upper(), path), None)
        self.add(method, path, body, **kwargs)

    def seen(self, method: str, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def last(self, method: str, path: str) -> Seen:
        found = self.seen(method, path)
        assert found, f"no {method} {path} (asked: {[(r.method, r.path) for r in self.requests]})"
        return found[-1]

    def _answer(self, seen: Seen) -> Answer:
        for answer in self.routes.get((seen.method, seen.path), []):
            if answer.query is None or all(
                (seen.query.get(k) or [None])[0] == v for k, v in answer.query.items()
            ):
                return answer
        return Answer(404, {"error": f"no recording for {seen.method} {seen.path}"})


def serve_replay() -> Iterator[Replay]:
    state = Replay()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(
                method=self.command,
                path=parts.path.rstrip("/") or "/",  # Mastodon.py asks for /api/v1/instance/
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            with state._lock:
                state.requests.append(seen)
            answer = state._answer(seen)
            if isinstance(answer.body, bytes):
                payload, kind = answer.body, "application/octet-stream"
            elif answer.body is None and answer.status == 204:
                payload, kind = b"", "application/json"
            else:
                payload, kind = json.dumps(answer.body).encode(), "application/json; charset=utf-8"
            self.send_response_only(answer.status)
            headers = {"Date": self.date_time_string(), "Content-Type": kind, **answer.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            if seen.headers.get("connection", "").lower() == "close":
                self.send_header("Connection", "close")  # as servers do: not reused
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server's naming

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
