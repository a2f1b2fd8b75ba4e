"""Live updates: the poller turns rows written anywhere into each tenant's events, and the
SSE stream of a signed-in page carries a mention imported by another process (a real
``clameur import`` subprocess against the same database) within two seconds."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from clameur.care.models import Conversation
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from clameur.web.live import Event, LiveHub
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl
from tests.web.conftest import running
from tests.web.pages import PASSWORD, csrf_of, make_user


def _world(db: Database, clock: FrozenClock) -> None:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    make_tenant(db, clock, "beta", {"beta": ["beta"]})
    make_user(db, clock, "agent@acme.example", {"acme": "agent"})


def test_the_poller_sends_each_tenant_its_own_changes(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    _world(db, clock)
    hub = LiveHub(db.factory)
    assert hub.poll() == {}, "the first round only reads the marks"
    assert hub.poll() == {}, "nothing changed"
    lines = [
        record("1", "@acme ma commande n'est jamais arrivée, je veux un remboursement"),
        record(
            "2",
            "@beta ma commande n'est jamais arrivée, je veux un remboursement",
            author={"handle": "autre", "followers": 50},
        ),
    ]
    pipeline.import_file(write_jsonl(tmp_path / "a.jsonl", lines))
    events = hub.poll()
    with session_scope(db.factory) as session:
        rows = session.execute(
            select(Conversation.tenant_id, Conversation.id).execution_options(all_tenants=True)
        ).all()
    assert len(rows) == 2
    for tenant_id, conversation_id in rows:
        names = [event.name for event in events[tenant_id]]
        assert names[0] == "inbox"
        assert events[tenant_id][0].data == f"[{conversation_id}]", "only its own ids"
        assert f"conv-{conversation_id}" in names
    assert hub.poll() == {}, "sent once"


def test_an_event_encodes_as_server_sent_events() -> None:
    assert Event("inbox", "[1, 2]").encode() == b"event: inbox\ndata: [1, 2]\n\n"
    assert Event("x", "a\nb").encode() == b"event: x\ndata: a\ndata: b\n\n", "one data per line"


def _signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    form = client.get("/login")
    data = {"email": "agent@acme.example", "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    assert client.post("/login", data={**data, "next": "/"}).status_code in (200, 303)
    return client


def test_a_mention_imported_by_another_process_reaches_the_open_page(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> None:
    _world(db, clock)
    received: list[tuple[float, str]] = []
    connected = threading.Event()
    with running(db.url) as server:
        client = _signed_in(server.url)

        def listen() -> None:
            with client.stream("GET", "/live", timeout=15) as stream:
                for line in stream.iter_lines():
                    if line.startswith(": connected"):
                        connected.set()
                    if line.startswith("event: "):
                        received.append((time.monotonic(), line[7:]))
                        if line == "event: inbox":
                            return

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        assert connected.wait(10), "the stream opened"
        time.sleep(0.6)  # the poller's first round reads the marks
        path = write_jsonl(tmp_path / "new.jsonl", [record("n1", "acme: plus de réseau")])
        env = {**os.environ, "CLAMEUR_DATABASE_URL": db.url}
        done = subprocess.run(
            [sys.executable, "-m", "clameur", "import", str(path), "--tenant", "acme"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        imported = time.monotonic()
        assert done.returncode == 0, done.stderr
        thread.join(timeout=5)
        client.close()
    inbox = [at for at, name in received if name == "inbox"]
    assert inbox, f"no inbox event; got {received}"
    assert inbox[0] - imported < 2.0, "shown within two seconds of the import's end"
