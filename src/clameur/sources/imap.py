"""E-mail by IMAP (kind ``imap``): the messages of one mailbox become mentions (source
``email``), replies thread by Message-ID (:mod:`clameur.sources.email_message`).

Configuration: ``--url imaps://imap.example.com[:993]`` (TLS from the first byte) or
``imap://host[:143]`` (STARTTLS, required); options ``username``, ``mailbox`` (``INBOX``),
``brand`` (a brand slug every message goes to, for a brand's own support address — otherwise
the brand queries decide), ``max_messages`` a poll, ``max_message_bytes``, ``timeout``,
``security`` (``none``: plain text, refused unless ``CLAMEUR_ALLOW_PRIVATE_FETCH=1`` — tests
and intranets); secret ``password``.

The host is checked like every outbound fetch (:func:`clameur.fetch.check_host`) and the
connection made to the checked address, the name kept for TLS (SNI and certificate). The
mailbox is opened read-only (``EXAMINE``): nothing is marked seen or moved.

**Cursor** ``{"uidvalidity", "last_uid"}``: a poll asks for UIDs above ``last_uid``. When the
server's UIDVALIDITY differs from the cursor's, its UIDs mean other messages now: the mailbox
is read again from the start, and idempotence by Message-ID keeps what was stored once.
A message too large or that cannot become a mention is a reported problem; the cursor moves
past it (it would fail the same way at every poll).
"""

from __future__ import annotations

import imaplib
import logging
import re
import socket
import ssl
import time
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from clameur.errors import InvalidInputError
from clameur.fetch import FetchError, PrivateAddressError, check_host
from clameur.sources.base import (
    BaseConnector,
    PollContext,
    Polled,
    Problem,
    SourceConfig,
    SourceError,
    TransientSourceError,
)
from clameur.sources.email_message import MalformedEmail, message_record

log = logging.getLogger(__name__)

_FETCH_CHUNK = 50
_monotonic = time.monotonic  # tests replace it: the poll's time budget without sleeping
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=320)
    mailbox: str = Field("INBOX", min_length=1, max_length=200, pattern=r"^[\x20-\x7e]+$")
    """ASCII mailbox name (modified UTF-7 names are not supported yet)."""
    address: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    """The mailbox's e-mail address (default: the username when it is one): replies by
    e-mail ask to be answered there (``Reply-To``), so the answer is read here again."""
    brand: str | None = None
    """A brand slug: every message goes to that brand (a brand's support mailbox)."""
    security: Literal["ssl", "starttls", "none"] | None = None
    """Default from the URL: ``imaps://`` → ssl, ``imap://`` → starttls."""
    max_messages: int = Field(200, ge=1, le=5000)
    """Messages read a poll; the rest wait for the next."""
    max_message_bytes: int = Field(10 * 2**20, ge=1024)
    timeout: float = Field(30.0, gt=0, le=300)
    """Seconds each network operation may take."""
    poll_seconds: float = Field(120.0, gt=0, le=3600)
    """Past this long, a poll stops fetching (between batches of 50 messages) and keeps what
    it has; the next poll goes on from there."""


class ImapConnector(BaseConnector):
    kind: ClassVar[str] = "imap"
    default_source: ClassVar[str] = "email"
    needs_url: ClassVar[bool] = True
    options_schema: ClassVar[type[BaseModel]] = ImapOptions
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    @staticmethod
    def check_url(url: str) -> None:
        """At ``source add``: the URL must be ``imaps://host[:port]`` or ``imap://…``."""
        try:
            _target(url, ImapOptions(username="-"), allow_private=True)
        except SourceError as exc:
            raise InvalidInputError(str(exc), where="url") from None

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        try:
            options = ImapOptions.model_validate(dict(config.options))
        except ValueError as exc:
            raise SourceError(f"IMAP source {config.name!r}: bad options: {exc}") from None
        host, port, security = _target(config.url, options, context.settings.allow_private_fetch)
        password = config.secrets.get("password")
        if not password:
            raise SourceError(f"IMAP source {config.name!r} has no password secret")
        try:
            addresses = check_host(host, port, allow_private=context.settings.allow_private_fetch)
        except PrivateAddressError as exc:
            raise SourceError(f"IMAP host {host}: {exc.reason}") from None
        except FetchError as exc:  # DNS: may pass
            raise TransientSourceError(f"IMAP host {host}: {exc.reason}") from None
        where = f"imap {options.username}@{host}:{port}/{options.mailbox}"
        try:
            with _connect(host, port, addresses, security, options.timeout) as conn:
                _login(conn, options.username, password, where)
                return _read(conn, config, cursor, options, context, where)
        except imaplib.IMAP4.abort as exc:
            raise TransientSourceError(f"{where}: connection lost: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise SourceError(f"{where}: TLS certificate refused: {exc.verify_message}") from None
        except (OSError, EOFError) as exc:
            raise TransientSourceError(f"{where}: {type(exc).__name__}: {exc}") from None
        except imaplib.IMAP4.error as exc:
            raise SourceError(f"{where}: {_said(exc)}") from None


def _target(url: str | None, options: ImapOptions, allow_private: bool) -> tuple[str, int, str]:
    if not url:
        raise SourceError("an IMAP source needs --url imaps://host or imap://host")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise SourceError(f"not an IMAP URL: {exc}") from None
    if parsed.scheme not in {"imap", "imaps"} or not parsed.host:
        raise SourceError(f"IMAP URL must be imaps://host[:port] or imap://host[:port]: {url}")
    security = options.security or ("ssl" if parsed.scheme == "imaps" else "starttls")
    if security == "none" and not allow_private:
        raise SourceError(
            "security 'none' sends the password in clear: refused unless "
            "CLAMEUR_ALLOW_PRIVATE_FETCH=1 (tests, intranets); use imaps:// or STARTTLS"
        )
    port = parsed.port or (993 if security == "ssl" else 143)
    return parsed.raw_host.decode("ascii"), port, security


class _Pinned(imaplib.IMAP4):
    """IMAP to a checked address (the host name stays for TLS)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._address = address
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self._address, self.port), timeout)


class _PinnedSSL(imaplib.IMAP4_SSL):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._address = address
        super().__init__(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), timeout)
        wrapped: socket.socket = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        return wrapped


def _connect(
    host: str, port: int, addresses: list[str], security: str, timeout: float
) -> imaplib.IMAP4:
    """A connection to the first checked address that answers (TLS set up)."""
    for index, address in enumerate(addresses):
        try:
            if security == "ssl":
                return _PinnedSSL(host, port, address, timeout)
            conn = _Pinned(host, port, address, timeout)
            if security == "starttls":
                try:
                    conn.starttls(ssl.create_default_context())
                except imaplib.IMAP4.error as exc:  # abort too: refused before the password
                    conn.shutdown()
                    raise SourceError(
                        f"IMAP host {host}:{port} does not offer STARTTLS ({_said(str(exc))}): "
                        "use imaps://, never the password in clear"
                    ) from None
            return conn
        except ConnectionError:
            if index == len(addresses) - 1:
                raise
    raise SourceError(f"IMAP host {host} resolves to no address")


def _login(conn: imaplib.IMAP4, username: str, password: str, where: str) -> None:
    try:
        conn.login(username, password)
    except imaplib.IMAP4.error as exc:
        raise SourceError(f"{where}: login refused: {_said(exc)}") from None


def _read(
    conn: imaplib.IMAP4,
    config: SourceConfig,
    cursor: dict[str, Any] | None,
    options: ImapOptions,
    context: PollContext,
    where: str,
) -> Polled:
    quoted = '"' + options.mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'
    typ, data = conn.select(quoted, readonly=True)
    if typ != "OK":
        raise SourceError(f"{where}: cannot open the mailbox: {_said(data)}")
    uidvalidity = _uidvalidity(conn, where)
    last = int((cursor or {}).get("last_uid") or 0)
    if (cursor or {}).get("uidvalidity") != uidvalidity:
        if cursor:
            log.info("UIDVALIDITY changed: mailbox read again", extra={"source": config.id})
        last = 0
    typ, data = conn.uid("SEARCH", "UID", f"{last + 1}:*")
    if typ != "OK":
        raise SourceError(f"{where}: UID SEARCH failed: {_said(data)}")
    found = sorted({int(n) for n in (data[0] or b"").split() if int(n) > last})
    chosen = found[: options.max_messages]
    polled = Polled(cursor={"uidvalidity": uidvalidity, "last_uid": last})
    now = context.clock.now()
    mailbox_address = options.address or (options.username if "@" in options.username else None)
    budget_ends = _monotonic() + options.poll_seconds
    for start in range(0, len(chosen), _FETCH_CHUNK):
        if start and _monotonic() > budget_ends:  # the rest waits for the next poll
            log.info("IMAP poll stopped at its time budget", extra={"source": config.id})
            break
        if start:
            context.keep_alive()  # the source's lease, for a long poll
        chunk = chosen[start : start + _FETCH_CHUNK]
        polled.cursor = {"uidvalidity": uidvalidity, "last_uid": chunk[-1]}
        fetchable = _sized(conn, chunk, options, polled, where)
        fetched = _fetch(conn, fetchable, where)
        for uid in fetchable:
            raw = fetched.get(uid)
            if raw is None:
                polled.problems.append(Problem(f"{where} uid {uid}", "the server sent no body"))
                continue
            try:
                record = message_record(raw, source=config.source or "email", received_at=now)
            except MalformedEmail as exc:
                polled.problems.append(Problem(f"{where} uid {uid}", str(exc)))
                continue
            if options.brand:
                record["brand"] = options.brand
            if mailbox_address:
                record["mailbox"] = mailbox_address
            polled.records.append(record)
    return polled


def _uidvalidity(conn: imaplib.IMAP4, where: str) -> int:
    _, values = conn.response("UIDVALIDITY")
    try:
        return int(values[0]) if values and values[0] is not None else 0
    except (TypeError, ValueError):
        raise SourceError(f"{where}: the server sent no usable UIDVALIDITY") from None


def _sized(
    conn: imaplib.IMAP4, uids: list[int], options: ImapOptions, polled: Polled, where: str
) -> list[int]:
    """The UIDs small enough to fetch; the others are reported."""
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE)")
    if typ != "OK":
        raise SourceError(f"{where}: UID FETCH failed: {_said(data)}")
    sizes: dict[int, int] = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        found_uid = _UID.search(line) if isinstance(line, bytes) else None
        found_size = _SIZE.search(line) if isinstance(line, bytes) else None
        if found_uid and found_size:
            sizes[int(found_uid.group(1))] = int(found_size.group(1))
    out = []
    for uid in uids:
        size = sizes.get(uid)
        if size is None:
            polled.problems.append(Problem(f"{where} uid {uid}", "the server returned no size"))
        elif size > options.max_message_bytes:
            polled.problems.append(
                Problem(
                    f"{where} uid {uid}",
                    f"message of {size} bytes, over max_message_bytes "
                    f"({options.max_message_bytes})",
                )
            )
        else:
            out.append(uid)
    return out


def _fetch(conn: imaplib.IMAP4, uids: list[int], where: str) -> dict[int, bytes]:
    if not uids:
        return {}
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    if typ != "OK":
        raise SourceError(f"{where}: UID FETCH failed: {_said(data)}")
    out: dict[int, bytes] = {}
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and (uid := _UID.search(item[0])):
            out[int(uid.group(1))] = bytes(item[1])
    return out


def _said(value: Any) -> str:
    """What the server said, as text (never the command, which may hold the password)."""
    if isinstance(value, list):
        value = b" ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300]
