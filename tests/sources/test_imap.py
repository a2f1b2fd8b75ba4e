"""The IMAP connector against a real IMAP server on loopback (tests/sources/imap_server.py):
first and incremental polls, a UIDVALIDITY change, malformed and hostile messages, threads
becoming one conversation, a wrong password, the SSRF check, and an SMTP reply that threads
under the ingested message."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care.channels import reply_handlers
from clameur.care.replies import draft_reply, send_reply
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import relay
from clameur.db import session_scope
from clameur.mentions.models import Mention
from clameur.pipeline import Pipeline
from clameur.sources.base import PollContext, SourceConfig, SourceError
from clameur.sources.imap import ImapConnector
from clameur.sources.service import add_source
from tests.care.test_replies import make_world
from tests.conftest import REQUIRE, Database
from tests.factories import acting
from tests.smtp import Mailbox
from tests.sources.helpers import mention_ids, poller, source_row
from tests.sources.imap_server import ImapServer, imap_server

USER, PASSWORD = "support@volta.example", 'pa"ss w\\rd'
PRIVATE = Settings(allow_private_fetch=True)


@pytest.fixture
def server() -> Iterator[ImapServer]:
    with imap_server({USER: PASSWORD}) as running:
        yield running


def mail(
    message_id: str | None,
    text: str,
    *,
    sender: str = "Zoé Martin <Zoe@Example.com>",
    subject: str = "Ma facture volta",
    at: Any = None,
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = USER
    message["Subject"] = subject
    if at is not None:
        message["Date"] = format_datetime(at)
    if message_id is not None:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return bytes(message)


def config(server: ImapServer, **options: Any) -> SourceConfig:
    return SourceConfig(
        id=1,
        tenant_id=1,
        kind="imap",
        name="support",
        url=f"imap://127.0.0.1:{server.port}",
        source="email",
        options={"username": USER, "security": "none", **options},
        secrets={"password": PASSWORD},
    )


def poll(
    server: ImapServer, clock: FrozenClock, cursor: dict[str, Any] | None = None, **kw: Any
) -> Any:
    settings = kw.pop("settings", PRIVATE)
    return ImapConnector().poll(config(server, **kw), cursor, PollContext(settings, clock))


# -- polls -----------------------------------------------------------------------------


def test_the_first_poll_reads_the_mailbox_into_records(
    server: ImapServer, clock: FrozenClock
) -> None:
    sent = clock.now() - timedelta(hours=2)
    server.add(mail("<a1@mail.example>", "Bonjour,\nma facture volta est fausse.", at=sent))
    server.add(mail("<a2@mail.example>", "Et le compteur aussi.", subject="Compteur"))
    polled = poll(server, clock)
    assert polled.problems == []
    assert polled.cursor == {"uidvalidity": 1000, "last_uid": 2}
    first, second = polled.records
    assert first["external_id"] == "a1@mail.example"
    assert first["source"] == "email"
    assert first["text"] == "Bonjour,\nma facture volta est fausse."
    assert first["author"] == {"handle": "zoe@example.com", "name": "Zoé Martin"}
    assert first["created_at"] == sent.isoformat()
    assert first["subject"] == "Ma facture volta"
    assert first["message_id"] == "<a1@mail.example>"
    assert first["mailbox"] == USER
    assert second["created_at"] == clock.now().isoformat()  # no Date: the poll's time
    assert 'EXAMINE "INBOX"' in server.commands, "read-only: nothing marked seen"


def test_an_incremental_poll_asks_only_for_newer_uids(
    server: ImapServer, clock: FrozenClock
) -> None:
    server.add(mail("<b1@mail.example>", "un"))
    first = poll(server, clock)
    assert [r["external_id"] for r in first.records] == ["b1@mail.example"]
    nothing = poll(server, clock, first.cursor)  # "2:*" still answers UID 1: filtered
    assert (nothing.records, nothing.cursor) == ([], first.cursor)
    server.add(mail("<b2@mail.example>", "deux"))
    server.add(mail("<b3@mail.example>", "trois"))
    later = poll(server, clock, first.cursor, max_messages=1)
    assert [r["external_id"] for r in later.records] == ["b2@mail.example"]
    assert later.cursor == {"uidvalidity": 1000, "last_uid": 2}
    last = poll(server, clock, later.cursor)
    assert [r["external_id"] for r in last.records] == ["b3@mail.example"]
    assert "UID SEARCH UID 3:*" in server.commands


def test_a_uidvalidity_change_reads_again_and_stores_nothing_twice(
    db: Database, pipeline: Pipeline, clock: FrozenClock, server: ImapServer
) -> None:
    world = make_world(db, clock)
    source_id = add_imap(db, clock, world.tenant_id, server)
    for n in (1, 2):
        server.add(mail(f"<c{n}@mail.example>", f"volta message {n}"))
    polls = poller(db, pipeline, clock, settings=PRIVATE)
    assert polls.poll_source(source_id).counts["imported"] == 2  # type: ignore[union-attr]
    server.renumber(uidvalidity=2000)  # the mailbox was rebuilt: UIDs mean other messages
    server.add(mail("<c3@mail.example>", "volta message 3"))
    again = polls.poll_source(source_id)
    assert again is not None
    assert again.status == "ok", again.error
    assert (again.counts["imported"], again.counts["unchanged"]) == (1, 2)
    assert mention_ids(db) == ["c1@mail.example", "c2@mail.example", "c3@mail.example"]
    assert source_row(db, source_id).cursor == {"uidvalidity": 2000, "last_uid": 3}


# -- what a message becomes ------------------------------------------------------------


def test_encoded_headers_charsets_and_html_are_decoded(
    server: ImapServer, clock: FrozenClock
) -> None:
    latin = (
        b"From: =?iso-8859-1?q?Ren=E9e_Dupr=E9?= <renee@example.fr>\r\n"
        b"Subject: =?utf-8?b?RmFjdHVyZSDDqWxldsOpZQ==?=\r\n"
        b"Message-ID: <d1@mail.example>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Ma facture est tr=E8s =E9lev=E9e.\r\n"
    )
    html = (
        b"From: web@example.org\r\nMessage-ID: <d2@mail.example>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{}</style><script>alert(1)</script></head>"
        b"<body><p>Bonjour&nbsp;<b>Volta</b></p><p>&lt;vraiment&gt; d&eacute;&ccedil;u</p></body>"
    )
    unknown = (
        b"From: x@example.org\r\nMessage-ID: <d3@mail.example>\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\ncaf\xc3\xa9\r\n"
    )
    for raw in (latin, html, unknown):
        server.add(raw)
    polled = poll(server, clock)
    assert polled.problems == []
    renee, web, odd = polled.records
    assert renee["author"] == {"handle": "renee@example.fr", "name": "Renée Dupré"}
    assert renee["subject"] == "Facture élevée"
    assert renee["text"] == "Ma facture est très élevée."
    assert web["text"] == "Bonjour Volta\n\n<vraiment> déçu"
    assert "alert" not in web["text"]
    assert odd["text"] == "café"


def test_a_malformed_message_is_a_problem_and_the_others_are_kept(
    server: ImapServer, clock: FrozenClock
) -> None:
    server.add(mail("<e1@mail.example>", "bon"))
    server.add(b"Subject: no sender at all\r\nMessage-ID: <e2@mail.example>\r\n\r\nbody\r\n")
    server.add(mail("<e3@mail.example>", "", subject=""))  # nothing to read
    server.add(mail(None, "sans identifiant"))
    polled = poll(server, clock)
    assert [p.where.rsplit(" ", 2)[1:] for p in polled.problems] == [["uid", "2"], ["uid", "3"]]
    assert "no sender address" in polled.problems[0].reason
    assert "no text" in polled.problems[1].reason
    ids = [r["external_id"] for r in polled.records]
    assert ids[0] == "e1@mail.example"
    assert ids[1].startswith("sha256.")
    assert ids[1] == poll(server, clock).records[1]["external_id"], "a stable id"
    assert polled.cursor == {"uidvalidity": 1000, "last_uid": 4}


def test_a_message_over_the_size_limit_is_reported_not_fetched(
    server: ImapServer, clock: FrozenClock
) -> None:
    server.add(mail("<f1@mail.example>", "x" * 5000))
    server.add(mail("<f2@mail.example>", "petit"))
    polled = poll(server, clock, max_message_bytes=2048)
    assert [r["external_id"] for r in polled.records] == ["f2@mail.example"]
    [problem] = polled.problems
    assert "over max_message_bytes (2048)" in problem.reason
    assert not any("FETCH 1 (UID BODY.PEEK[])" in c for c in server.commands)


# -- threads and replies ---------------------------------------------------------------


def add_imap(db: Database, clock: FrozenClock, tenant_id: int, server: ImapServer) -> int:
    with session_scope(db.factory) as session:
        return add_source(
            session,
            clock,
            tenant_id=tenant_id,
            kind="imap",
            url=f"imap://127.0.0.1:{server.port}",
            name="support",
            options={"username": USER, "security": "none", "brand": "volta"},
            secrets={"password": PASSWORD},
        ).id


def conversations(db: Database) -> dict[str, int | None]:
    with session_scope(db.factory) as session:
        rows = session.execute(select(Mention.external_id, Mention.conversation_id))
        return {external_id: conversation for external_id, conversation in rows}


def test_a_thread_becomes_one_conversation_and_the_reply_threads_under_it(
    db: Database,
    pipeline: Pipeline,
    clock: FrozenClock,
    server: ImapServer,
    smtp_server: tuple[Mailbox, int],
) -> None:
    world = make_world(db, clock)
    source_id = add_imap(db, clock, world.tenant_id, server)
    opened = clock.now() - timedelta(days=6)
    server.add(mail("<t1@mail.example>", "Mon compteur est en panne, aidez-moi.", at=opened))
    polls = poller(db, pipeline, clock, settings=PRIVATE)
    assert polls.poll_source(source_id).counts["imported"] == 1  # type: ignore[union-attr]
    conversation = conversations(db)["t1@mail.example"]
    assert conversation is not None

    mailbox, port = smtp_server  # an agent answers by e-mail
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        reply = draft_reply(session, clock, agent, conversation, "Nous envoyons un technicien.")
        send_reply(session, clock, agent, reply.id)
        reply_id = reply.id
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="care@volta.example")
    assert relay(db.factory, clock, reply_handlers(db.factory, settings, clock=clock)) == 1
    [sent] = mailbox.messages()
    assert sent["In-Reply-To"] == "<t1@mail.example>"
    assert sent["References"] == "<t1@mail.example>"
    assert sent["Subject"] == "Re: Ma facture volta"
    assert sent["To"] == "Zoe@Example.com"  # as the customer wrote it
    ours = f"<clameur.reply.{reply_id}@volta.example>"
    assert sent["Message-ID"] == ours
    assert sent["From"] == "care@volta.example"
    assert sent["Reply-To"] == USER, "the customer's answer comes back to the mailbox we read"

    # days later (past the 48 h window) the customer answers our reply, and a colleague's
    # message of the same thread arrives: both thread by their headers
    later = clock.now() - timedelta(hours=1)
    server.add(
        mail(
            "<t2@mail.example>",
            "Le technicien n'est pas venu.",
            at=later,
            In_Reply_To=ours,
            References=f"<t1@mail.example> {ours}",
        )
    )
    outcome = polls.poll_source(source_id)
    assert outcome is not None
    assert outcome.counts["imported"] == 1, outcome
    threads = conversations(db)
    assert threads["t2@mail.example"] == conversation
    with session_scope(db.factory) as session:
        mention = session.scalars(
            select(Mention).where(Mention.external_id == "t2@mail.example")
        ).one()
        assert mention.in_reply_to == "t1@mail.example"


# -- refusals --------------------------------------------------------------------------


def test_a_wrong_password_is_a_clear_error_without_the_password(
    server: ImapServer, clock: FrozenClock
) -> None:
    wrong = config(server)
    wrong = SourceConfig(**{**wrong.__dict__, "secrets": {"password": "hunter2"}})
    with pytest.raises(SourceError) as refused:
        ImapConnector().poll(wrong, None, PollContext(PRIVATE, clock))
    message = str(refused.value)
    assert "login refused" in message
    assert "Invalid credentials" in message
    assert USER in message
    assert "hunter2" not in message


def test_a_private_host_is_refused_naming_the_address_and_the_setting(
    server: ImapServer, clock: FrozenClock
) -> None:
    strict = Settings(allow_private_fetch=False)
    with pytest.raises(SourceError, match="security 'none' sends the password in clear"):
        poll(server, clock, settings=strict)
    with pytest.raises(SourceError) as refused:
        poll(server, clock, settings=strict, security="starttls")
    assert "127.0.0.1 is a loopback" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)
    assert server.commands == [], "refused before connecting"


def test_a_bad_url_or_mailbox_is_refused_saying_what(
    server: ImapServer, clock: FrozenClock
) -> None:
    with pytest.raises(Exception, match="imaps://host"):
        ImapConnector.check_url("https://mail.example.com")
    ImapConnector.check_url("imaps://mail.example.com")
    with pytest.raises(SourceError, match="cannot open the mailbox"):
        poll(server, clock, mailbox="Archives")


# -- TLS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for ``localhost`` (made by Debian's openssl)."""
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
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize(("mode", "scheme"), [("ssl", "imaps"), ("starttls", "imap")])
def test_tls_is_verified_for_the_host_name(
    mode: str,
    scheme: str,
    certificate: tuple[str, str],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with imap_server({USER: PASSWORD}, mode=mode, cert=certificate) as tls_server:
        tls_server.add(mail("<s1@mail.example>", "chiffré"))
        cfg = SourceConfig(
            **{
                **config(tls_server).__dict__,
                "url": f"{scheme}://localhost:{tls_server.port}",
                "options": {"username": USER},  # security from the URL
            }
        )
        context = PollContext(PRIVATE, clock)
        with pytest.raises(SourceError, match="certificate"):
            ImapConnector().poll(cfg, None, context)  # not signed by a trusted authority
        assert "LOGIN" not in tls_server.commands, "no password before TLS"
        monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # now trusted
        polled = ImapConnector().poll(cfg, None, context)
        assert [r["external_id"] for r in polled.records] == ["s1@mail.example"]
        if mode == "starttls":
            assert tls_server.commands.index("STARTTLS ") < tls_server.commands.index("LOGIN")


def test_a_server_without_starttls_is_refused_before_the_password(
    server: ImapServer, clock: FrozenClock
) -> None:
    cfg = SourceConfig(**{**config(server).__dict__, "options": {"username": USER}})
    with pytest.raises(SourceError, match="STARTTLS"):
        ImapConnector().poll(cfg, None, PollContext(PRIVATE, clock))
    assert "LOGIN" not in server.commands


def test_a_poll_stops_at_its_time_budget_and_the_next_goes_on(
    server: ImapServer, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clameur.sources import imap

    for n in range(1, 6):
        server.add(mail(f"<p{n}@mail.example>", f"message {n}"))
    ticks = iter(range(0, 10_000, 50))  # each look at the clock: 50 s later
    monkeypatch.setattr(imap, "_monotonic", lambda: float(next(ticks)))
    monkeypatch.setattr(imap, "_FETCH_CHUNK", 2)
    first = poll(server, clock, poll_seconds=40)  # the second batch starts at 50 s
    assert [r["external_id"] for r in first.records] == ["p1@mail.example", "p2@mail.example"]
    assert first.cursor == {"uidvalidity": 1000, "last_uid": 2}
    rest = poll(server, clock, first.cursor, poll_seconds=3600)
    assert [r["external_id"][:2] for r in rest.records] == ["p3", "p4", "p5"]
    assert rest.cursor == {"uidvalidity": 1000, "last_uid": 5}


def test_a_long_poll_keeps_its_lease_between_batches(
    server: ImapServer, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clameur.sources import imap

    for n in range(1, 6):
        server.add(mail(f"<k{n}@mail.example>", f"message {n}"))
    monkeypatch.setattr(imap, "_FETCH_CHUNK", 2)
    kept: list[int] = []
    context = PollContext(PRIVATE, clock, keep_alive=lambda: kept.append(1))
    polled = ImapConnector().poll(config(server), None, context)
    assert len(polled.records) == 5
    assert len(kept) == 2  # before the second and the third batch
