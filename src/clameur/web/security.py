"""Transport and browser hardening on every response: only the configured host names are
answered (DNS rebinding), and security headers (a strict CSP with no inline script)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from clameur.config import Settings

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


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``serve --host`` only listens on this machine."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, settings: Settings) -> str | None:
    """What ``clameur serve`` says at start when it listens beyond loopback with no TLS in
    front (no proxy it was told to trust with an https public address); None otherwise."""
    if is_loopback(host):
        return None
    if settings.trust_proxy and settings.public_base_url.lower().startswith("https://"):
        return None
    return (
        f"WARNING: listening on {host} over plain HTTP. Passwords and session cookies "
        "would cross the network unencrypted: put a TLS-terminating reverse proxy in front "
        "(then set CLAMEUR_TRUST_PROXY=1 and CLAMEUR_PUBLIC_BASE_URL=https://…), or serve on "
        "127.0.0.1. Only the host names in CLAMEUR_ALLOWED_HOSTS are answered."
    )
