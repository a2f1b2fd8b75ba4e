"""The IMAP connector against Debian's Dovecot, started by the test on a loopback port (the
real server the issue asks for; the protocol corner cases are in test_imap.py against the
minimal server). Needs ``dovecot-imapd`` (``.ci/run`` installs it) and root, since Dovecot
drops privileges to ``dovenull`` for the mailbox; skipped with the reason otherwise unless
``CLAMEUR_REQUIRE_SERVICES=1``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.sources.base import PollContext, SourceConfig, SourceError
from clameur.sources.imap import ImapConnector
from tests.conftest import REQUIRE
from tests.smtp import free_port
from tests.sources.test_imap import mail

DOVECOT = Path("/usr/sbin/dovecot")
USER, PASSWORD = "support@volta.example", "s3cret-Pa55"
PRIVATE = Settings(allow_private_fetch=True)


def _unavailable() -> str | None:
    if not DOVECOT.exists():
        return f"no Dovecot at {DOVECOT} (apt-get install dovecot-imapd)"
    if os.geteuid() != 0:
        return "Dovecot is started as root here (it drops to dovenull for the mailbox)"
    return None


@dataclass
class Dovecot:
    port: int
    tls_port: int
    maildir: Path

    def deliver(self, raw: bytes) -> None:
        """A message in the mailbox, as a delivery agent leaves it (Maildir ``new/``)."""
        target = self.maildir / "new" / f"{time.time_ns()}.{uuid.uuid4().hex}.test"
        target.write_bytes(raw)
        target.chmod(0o666)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl to make a test certificate")
    folder = tmp_path_factory.mktemp("dovecot-tls")
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
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    os.chmod(key, 0o644)  # read by Dovecot's login process too
    return cert, key


@pytest.fixture
def dovecot(certificate: tuple[str, str]) -> Iterator[Dovecot]:
    reason = _unavailable()
    if reason is not None:
        if REQUIRE:
            pytest.fail(f"Dovecot required (CLAMEUR_REQUIRE_SERVICES=1) but: {reason}")
        pytest.skip(reason)
    root = Path("/tmp") / f"clameur-dovecot-{uuid.uuid4().hex[:8]}"  # short socket paths
    (root / "run").mkdir(parents=True)
    (root / "state").mkdir()
    home = root / "mail" / USER
    maildir = home / "Maildir"
    for part in ("new", "cur", "tmp"):
        (maildir / part).mkdir(parents=True)
    for folder in (root / "mail", home, maildir, *(maildir / p for p in ("new", "cur", "tmp"))):
        folder.chmod(0o777)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port, tls_port = free_port(), free_port()
    cert, key = certificate
    (root / "dovecot.conf").write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
default_internal_user = dovenull
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:{maildir}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=dovenull gid=dovenull home={home}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
    )
    process = subprocess.Popen(
        [str(DOVECOT), "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(port, process, root)
        yield Dovecot(port, tls_port, maildir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise AssertionError(
                f"Dovecot stopped: {process.stderr.read() if process.stderr else ''} {log}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("Dovecot did not listen within 15 s")


def config(url: str, password: str = PASSWORD) -> SourceConfig:
    return SourceConfig(
        id=1,
        tenant_id=1,
        kind="imap",
        name="support",
        url=url,
        source="email",
        options={"username": USER},
        secrets={"password": password},
    )


def poll(cfg: SourceConfig, clock: FrozenClock, cursor: dict[str, Any] | None = None) -> Any:
    return ImapConnector().poll(cfg, cursor, PollContext(PRIVATE, clock))


@pytest.mark.parametrize("scheme", ["imap", "imaps"])
def test_dovecot_over_starttls_and_imaps_first_then_incremental(
    scheme: str,
    dovecot: Dovecot,
    certificate: tuple[str, str],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    port = dovecot.port if scheme == "imap" else dovecot.tls_port
    cfg = config(f"{scheme}://localhost:{port}")
    dovecot.deliver(mail("<v1@mail.example>", "Première, volta."))
    dovecot.deliver(mail("<v2@mail.example>", "Deuxième.", In_Reply_To="<v1@mail.example>"))
    first = poll(cfg, clock)
    assert first.problems == []
    assert sorted(r["external_id"] for r in first.records) == [
        "v1@mail.example",
        "v2@mail.example",
    ]
    reply = next(r for r in first.records if r["external_id"] == "v2@mail.example")
    assert reply["in_reply_to"] == "v1@mail.example"
    assert first.cursor["last_uid"] == 2
    assert poll(cfg, clock, first.cursor).records == []
    dovecot.deliver(mail("<v3@mail.example>", "Troisième."))
    later = poll(cfg, clock, first.cursor)
    assert [r["external_id"] for r in later.records] == ["v3@mail.example"]
    assert later.cursor == {"uidvalidity": first.cursor["uidvalidity"], "last_uid": 3}
    assert not any((dovecot.maildir / "cur").glob("*:2,*S*")), "nothing marked seen"


def test_dovecot_refuses_a_wrong_password_clearly(
    dovecot: Dovecot,
    certificate: tuple[str, str],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    with pytest.raises(SourceError) as refused:
        poll(config(f"imaps://localhost:{dovecot.tls_port}", password="wrong-one"), clock)
    assert "login refused" in str(refused.value)
    assert "wrong-one" not in str(refused.value)
