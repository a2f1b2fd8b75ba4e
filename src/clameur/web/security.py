"""Transport and browser hardening on every response: only the configured host names are
answered (DNS rebinding), and security headers (a strict CSP with no inline script)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


class SecurityHeaders:
    """Adds :data:`HEADERS` to every HTTP response (pages, API, static files, errors);
    ``Cache-Control: no-store`` on everything but static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS:
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def allowed_hosts(setting: str) -> list[str]:
    hosts = [host.strip().lower() for host in setting.split(",") if host.strip()]
    return hosts or ["127.0.0.1", "localhost"]


def host_names(hosts: Iterable[str]) -> list[str]:
    """Starlette's TrustedHostMiddleware compares the Host header without its port;
    ``[::1]`` is given both ways."""
    found: list[str] = []
    for host in hosts:
        found.append(host)
        if host.startswith("[") and host.endswith("]"):
            found.append(host[1:-1])
    return found
