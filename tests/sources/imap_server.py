"""A minimal IMAP4rev1 server on a loopback socket, for the IMAP connector's tests.

Just what a poller uses: CAPABILITY, STARTTLS (or TLS from the first byte), LOGIN,
SELECT/EXAMINE (EXISTS, UIDVALIDITY, UIDNEXT), UID SEARCH (UID ranges and ALL), UID FETCH
(UID, RFC822.SIZE, RFC822, BODY[], BODY.PEEK[]), NOOP, LOGOUT. Sequence sets follow RFC 3501
(``n:*`` includes the highest UID even when it is below ``n``), so a client that trusts the
range without filtering is caught. Mailboxes are edited by the test between polls
(:meth:`ImapServer.add`, :meth:`ImapServer.renumber`).
"""

from __future__ import annotations

import re
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Mailbox:
    uidvalidity: int = 1000
    messages: list[tuple[int, bytes]] = field(default_factory=list)
    next_uid: int = 1


@dataclass
class ImapServer:
    port: int
    users: dict[str, str]
    mailboxes: dict[str, Mailbox]
    commands: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, raw: bytes, mailbox: str = "INBOX") -> int:
        """Deliver a message; its UID."""
        with self.lock:
            box = self.mailboxes.setdefault(mailbox, Mailbox())
            uid = box.next_uid
            box.next_uid += 1
            box.messages.append((uid, raw))
            return uid

    def renumber(self, mailbox: str = "INBOX", uidvalidity: int = 2000) -> None:
        """What a server does after a mailbox is rebuilt: new UIDVALIDITY, UIDs from 1."""
        with self.lock:
            box = self.mailboxes[mailbox]
            box.uidvalidity = uidvalidity
            box.messages = [(n, raw) for n, (_, raw) in enumerate(box.messages, start=1)]
            box.next_uid = len(box.messages) + 1


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def _args(text: str) -> list[str]:
    return [
        re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else atom
        for quoted, atom in (m.groups() for m in _TOKEN.finditer(text))
    ]


def _uid_set(spec: str, uids: list[int]) -> set[int]:
    highest = max(uids, default=0)
    out: set[int] = set()
    for part in spec.split(","):
        if ":" in part:
            a, b = (highest if x == "*" else int(x) for x in part.split(":", 1))
            low, high = min(a, b), max(a, b)
            out.update(u for u in uids if low <= u <= high)
        else:
            n = highest if part == "*" else int(part)
            out.update(u for u in uids if u == n)
    return out


class _Handler(socketserver.StreamRequestHandler):
    server: _TCPServer

    def send(self, line: str | bytes) -> None:
        data = line.encode() if isinstance(line, str) else line
        self.wfile.write(data + b"\r\n")

    def capabilities(self) -> str:
        tls = self.server.tls
        offer = tls is not None and self.server.mode == "starttls" and not self.secured
        return "IMAP4rev1" + (" STARTTLS" if offer else "")

    def handle(self) -> None:
        state = self.server.state
        self.user: str | None = None
        self.box: Mailbox | None = None
        self.secured = self.server.mode == "ssl"
        self.send(f"* OK [CAPABILITY {self.capabilities()}] test server ready")
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            tag, _, rest = line.partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            with state.lock:
                state.commands.append(f"{command} {args}" if command != "LOGIN" else "LOGIN")
            if command == "CAPABILITY":
                self.send(f"* CAPABILITY {self.capabilities()}")
                self.send(f"{tag} OK CAPABILITY completed")
            elif command == "STARTTLS" and "STARTTLS" in self.capabilities():
                assert self.server.tls is not None
                self.send(f"{tag} OK begin TLS now")
                self.wfile.flush()
                secured = self.server.tls.wrap_socket(self.connection, server_side=True)
                self.connection = self.request = secured
                self.rfile = secured.makefile("rb")
                self.wfile = secured.makefile("wb", buffering=0)
                self.secured = True
            elif command == "NOOP":
                self.send(f"{tag} OK NOOP completed")
            elif command == "LOGOUT":
                self.send("* BYE logging out")
                self.send(f"{tag} OK LOGOUT completed")
                return
            elif command == "LOGIN":
                user, password = (_args(args) + ["", ""])[:2]
                if state.users.get(user) == password and user:
                    self.user = user
                    self.send(f"{tag} OK LOGIN completed")
                else:
                    self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            elif self.user is None:
                self.send(f"{tag} BAD log in first")
            elif command in {"SELECT", "EXAMINE"}:
                self.select(tag, command, (_args(args) or [""])[0])
            elif command == "UID" and self.box is not None:
                self.uid(tag, args)
            else:
                self.send(f"{tag} BAD unknown or out-of-state command {command}")

    def select(self, tag: str, command: str, name: str) -> None:
        state = self.server.state
        with state.lock:
            box = state.mailboxes.get(name)
            if box is None:
                self.send(f"{tag} NO [NONEXISTENT] no mailbox {name}")
                return
            self.box = box
            self.send(f"* {len(box.messages)} EXISTS")
            self.send("* 0 RECENT")
            self.send(f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid")
            self.send(f"* OK [UIDNEXT {box.next_uid}] predicted next UID")
            self.send("* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)")
        mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
        self.send(f"{tag} OK [{mode}] {command} completed")

    def uid(self, tag: str, args: str) -> None:
        assert self.box is not None
        sub, _, rest = args.partition(" ")
        sub = sub.upper()
        with self.server.state.lock:
            messages = list(self.box.messages)
        uids = [u for u, _ in messages]
        if sub == "SEARCH":
            words = _args(rest)
            if words and words[0].upper() == "UID":
                found = sorted(_uid_set(words[1], uids))
            elif words and words[0].upper() == "ALL":
                found = uids
            else:
                self.send(f"{tag} BAD only UID <set> and ALL are searched here")
                return
            self.send("* SEARCH" + "".join(f" {u}" for u in found))
            self.send(f"{tag} OK SEARCH completed")
        elif sub == "FETCH":
            spec, _, items = rest.partition(" ")
            wanted = items.upper()
            chosen = _uid_set(spec, uids)
            for seq, (uid, raw) in enumerate(messages, start=1):
                if uid not in chosen:
                    continue
                parts = [f"UID {uid}"]
                if "RFC822.SIZE" in wanted:
                    parts.append(f"RFC822.SIZE {len(raw)}")
                body = any(k in wanted for k in ("BODY[]", "BODY.PEEK[]", "RFC822 ", "RFC822)"))
                if body:
                    name = "RFC822" if "RFC822" in wanted and "BODY" not in wanted else "BODY[]"
                    head = f"* {seq} FETCH ({' '.join(parts)} {name} {{{len(raw)}}}"
                    self.wfile.write(head.encode() + b"\r\n" + raw + b")\r\n")
                else:
                    self.send(f"* {seq} FETCH ({' '.join(parts)})")
            self.send(f"{tag} OK FETCH completed")
        else:
            self.send(f"{tag} BAD UID {sub} not supported here")


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: ImapServer
    tls: ssl.SSLContext | None = None
    mode: str = "none"

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.mode == "ssl" and self.tls is not None:
            try:
                sock = self.tls.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                sock.close()  # the client refused our certificate: the point of a test
                raise
        return sock, address


@contextmanager
def imap_server(
    users: dict[str, str], *, mode: str = "none", cert: tuple[str, str] | None = None
) -> Iterator[ImapServer]:
    """A running server on 127.0.0.1 (free port) with an empty INBOX. ``mode``: ``none``
    (plain), ``ssl`` (TLS from the first byte) or ``starttls`` (plain, offering STARTTLS);
    ``cert``: the (certificate, key) files TLS uses."""
    tcp = _TCPServer(("127.0.0.1", 0), _Handler)
    if cert is not None:
        tcp.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tcp.tls.load_cert_chain(*cert)
    tcp.mode = mode
    state = ImapServer(tcp.server_address[1], dict(users), {"INBOX": Mailbox()})
    tcp.state = state
    thread = threading.Thread(target=tcp.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        tcp.shutdown()
        tcp.server_close()
