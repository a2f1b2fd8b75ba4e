"""``clameur conversations …`` and ``clameur user add``: contracts, through a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clameur.db import create_engine_for, make_session_factory, session_scope
from clameur.tenancy import get_tenant
from tests.conftest import ON_POSTGRESQL, ON_SQLITE
from tests.factories import record, write_jsonl


def _run(database_url: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        "CLAMEUR_DATABASE_URL": database_url,
        "CLAMEUR_LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "clameur", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@ON_SQLITE
def test_conversations_contract_and_scripting(database_url: str, tmp_path: Path) -> None:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return _run(database_url, tmp_path, *args, **env)

    assert run("init").returncode == 0
    assert run("tenant", "add", "acme", "--name", "Acme").returncode == 0
    lines = [
        record("1", "Acme m'a facturé deux fois, remboursez-moi svp", author={"handle": "ana"}),
        record("2", "Acme plus de réseau depuis ce matin, inadmissible", author={"handle": "bo"}),
        record("3", "Merci Acme, super accueil en boutique, bravo !", author={"handle": "cy"}),
    ]
    assert (
        run("import", str(write_jsonl(tmp_path / "c.jsonl", lines)), "--tenant", "acme").returncode
        == 0
    )

    listed = run("conversations", "list", "--tenant", "acme", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert {tuple(i["mentions"]) for i in items} == {("1",), ("2",)}  # praise is not work
    for item in items:
        assert {
            "id",
            "status",
            "priority",
            "source",
            "author",
            "mentions",
            "incident",
            "flags",
        } <= set(item)
        assert item["status"] == "open"
        assert item["incident"] is None

    weak = run(
        "user",
        "add",
        "anna@bpo.example",
        "--tenant",
        "acme",
        "--role",
        "agent",
        CLAMEUR_PASSWORD="short",
    )
    assert weak.returncode == 1
    assert "password" in weak.stderr
    added = run(
        "user",
        "add",
        "anna@bpo.example",
        "--tenant",
        "acme",
        "--role",
        "agent",
        CLAMEUR_PASSWORD="a long enough secret",
    )
    assert added.returncode == 0, added.stderr

    target = items[0]["id"]
    anonymous = run("conversations", "status", str(target), "resolved", "--tenant", "acme")
    assert anonymous.returncode != 0
    assert "--as" in anonymous.stderr
    done = run(
        "conversations",
        "status",
        str(target),
        "resolved",
        "--tenant",
        "acme",
        "--as",
        "anna@bpo.example",
    )
    assert done.returncode == 0, done.stderr
    noted = run(
        "conversations",
        "note",
        str(target),
        "refund made",
        "--tenant",
        "acme",
        "--as",
        "anna@bpo.example",
    )
    assert noted.returncode == 0, noted.stderr
    shown = json.loads(run("conversations", "show", str(target), "--tenant", "acme").stdout)
    assert [e["kind"] for e in shown["timeline"]] == ["status", "note"]
    assert shown["timeline"][0]["actor_id"] is not None
    resolved = json.loads(
        run("conversations", "list", "--tenant", "acme", "--status", "resolved", "--json").stdout
    )
    assert [i["id"] for i in resolved] == [target]
    missing = run("conversations", "show", "999999", "--tenant", "acme")
    assert missing.returncode == 1
    assert "no conversation" in missing.stderr


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


@ON_POSTGRESQL
def test_replies_assignment_and_approval_as_a_principal(database_url: str, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _run(database_url, tmp_path, *args, CLAMEUR_PASSWORD="a long enough secret")

    assert run("init").returncode == 0
    for slug in ("acme", "globex"):
        assert run("tenant", "add", slug, "--name", slug.title()).returncode == 0
    people = [
        ("anna@bpo.example", "acme", "agent"),
        ("sam@bpo.example", "acme", "supervisor"),
        ("vera@acme.example", "acme", "viewer"),
        ("otto@globex.example", "globex", "agent"),
    ]
    for email, slug, role in people:
        added = run("user", "add", email, "--tenant", slug, "--role", role)
        assert added.returncode == 0, added.stderr
    lines = [
        record("1", "Acme m'a facturé deux fois, remboursez-moi svp", author={"handle": "ana"}),
        record("2", "Acme plus de réseau depuis ce matin, inadmissible", author={"handle": "bo"}),
    ]
    imported = run("import", str(write_jsonl(tmp_path / "c.jsonl", lines)), "--tenant", "acme")
    assert imported.returncode == 0, imported.stderr
    items = json.loads(run("conversations", "list", "--tenant", "acme", "--json").stdout)
    first, second = items[0]["id"], items[1]["id"]

    def reply(conversation: int, who: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return run(
            "conversations",
            "reply",
            str(conversation),
            "Nous regardons.",
            "--tenant",
            "acme",
            "--as",
            who,
            *extra,
        )

    # a viewer reads but never answers; another tenant's agent sees nothing of acme
    _one_line_error(reply(first, "vera@acme.example"), "viewer", "replies.write")
    _one_line_error(reply(first, "otto@globex.example"), "not found")
    theirs = run(
        "conversations",
        "reply",
        str(first),
        "Hi",
        "--tenant",
        "globex",
        "--as",
        "otto@globex.example",
    )
    _one_line_error(theirs, "not found")
    _one_line_error(
        run(
            "conversations",
            "assign",
            str(first),
            "--tenant",
            "globex",
            "--as",
            "otto@globex.example",
            "--me",
        ),
        "not found",
    )

    sent = reply(first, "anna@bpo.example", "--private", "--json")
    assert sent.returncode == 0, sent.stderr
    queued = json.loads(sent.stdout)
    assert (queued["conversation_id"], queued["visibility"]) == (first, "private")
    assert queued["status"] in ("queued", "pending_approval")

    # every reply of acme waits for approval from now on
    engine = create_engine_for(database_url)
    with session_scope(make_session_factory(engine)) as session:
        acme = get_tenant(session, "acme")
        acme.settings = {"care": {"approval": {"all": True}}}
    engine.dispose()
    held = reply(second, "anna@bpo.example")
    assert held.returncode == 0, held.stderr
    reply_id, status = held.stdout.strip().removeprefix("reply ").split(": ")
    assert status == "pending_approval"
    refused = run(
        "conversations", "approve", reply_id, "--tenant", "acme", "--as", "anna@bpo.example"
    )
    _one_line_error(refused, "agent", "replies.approve")
    approved = run(
        "conversations", "approve", reply_id, "--tenant", "acme", "--as", "sam@bpo.example"
    )
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.strip() == f"reply {reply_id}: queued"
    again = json.loads(reply(second, "anna@bpo.example", "--json").stdout)
    rejected = run(
        "conversations",
        "reject",
        str(again["id"]),
        "Trop sec",
        "--tenant",
        "acme",
        "--as",
        "sam@bpo.example",
        "--json",
    )
    assert json.loads(rejected.stdout)["status"] == "rejected"

    # assignment: to oneself, not to others unless supervising
    mine = run(
        "conversations",
        "assign",
        str(second),
        "--tenant",
        "acme",
        "--as",
        "anna@bpo.example",
        "--me",
    )
    assert mine.returncode == 0, mine.stderr
    _one_line_error(
        run(
            "conversations",
            "assign",
            str(first),
            "--tenant",
            "acme",
            "--as",
            "anna@bpo.example",
            "--to",
            "sam@bpo.example",
        ),
        "conversations.assign_others",
    )
    _one_line_error(
        run(
            "conversations",
            "assign",
            str(first),
            "--tenant",
            "acme",
            "--as",
            "sam@bpo.example",
            "--to",
            "vera@acme.example",
        ),
        "viewer",
    )
    given = run(
        "conversations",
        "assign",
        str(first),
        "--tenant",
        "acme",
        "--as",
        "sam@bpo.example",
        "--to",
        "anna@bpo.example",
    )
    assert given.returncode == 0, given.stderr
    shown = {
        c: json.loads(run("conversations", "show", str(c), "--tenant", "acme").stdout)
        for c in (first, second)
    }
    assert shown[first]["assignee_id"] == shown[second]["assignee_id"] is not None
    kinds = [e["kind"] for e in shown[second]["timeline"]]
    assert kinds.count("reply_approved") == 1
    assert kinds.count("reply_rejected") == 1
    assert "assign" in kinds
