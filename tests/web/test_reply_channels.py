"""The inbox and the API offer what the conversation's network allows — the same channels
the outbox relay publishes through (the tenant's source of that network): X and Bluesky
take public replies only, Mastodon also private mentions, X hides but never deletes. A
tenant with no source on a network has its replies recorded (an agent posts them by hand):
every choice stays open. A private answer that reached the outbox under other rules is
failed, never posted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clameur.care.channels import ChannelRegistry, RecordingChannel, reply_handlers
from clameur.care.models import Conversation, Reply
from clameur.care.replies import draft_reply, send_reply
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import relay
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from clameur.sources.service import add_source
from clameur.tenancy import get_tenant
from clameur.tenancy.models import User
from clameur.web import create_app
from tests.conftest import Database, bearer, make_api_user, make_tenant
from tests.factories import acting

NETWORKS = ("twitter", "mastodon", "bluesky", "email")


@pytest.fixture
def conversations(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> dict[str, int]:
    """Tenant ``a`` with X, Bluesky and Mastodon sources: one conversation per network,
    ``{source: conversation id}``."""
    tenant = make_tenant(db, clock, "a", {"acme": ["acme"]})
    with session_scope(db.factory) as session:
        for kind, url, options, secrets in (
            ("x", None, {"query": "acme"}, {"bearer_token": "b", "user_token": "u"}),
            ("bluesky", "https://bsky.example", {"search": ["acme"]}, {}),
            ("mastodon", "https://social.example", {"hashtags": ["#acme"]}, {}),
        ):
            add_source(
                session,
                clock,
                tenant_id=tenant.id,
                kind=kind,
                url=url,
                options=options,
                secrets=secrets,
            )
    lines = [
        {
            "source": source,
            "external_id": f"{source}-1",
            "text": f"acme: ma commande n'est jamais arrivée ({source})",
            "created_at": "2030-01-01T10:00:00+00:00",
            "author": {
                "handle": f"client-{source}" + ("@example.org" if source == "email" else "")
            },
        }
        for source in NETWORKS
    ]
    path = tmp_path / "lines.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    pipeline.import_file(path, tenant="a")
    with session_scope(db.factory) as session:
        tenant = get_tenant(session, "a")
        rows = session.execute(
            select(Conversation.source, Conversation.id).where(Conversation.tenant_id == tenant.id)
        ).all()
    found = {source: conversation_id for source, conversation_id in rows}
    assert set(found) == set(NETWORKS)
    return found


def test_the_api_refuses_a_private_reply_where_the_network_has_none(
    db: Database, clock: FrozenClock, conversations: dict[str, int]
) -> None:
    token = make_api_user(db, clock, "a", "agent@a.example", "agent")
    api = TestClient(create_app(Settings(database_url=db.url)), base_url="http://127.0.0.1")
    url = "/api/v1/conversations/{}/replies"
    for source, allowed in (("twitter", False), ("bluesky", False), ("mastodon", True)):
        answer = api.post(
            url.format(conversations[source]),
            json={"text": "Nous regardons, écrivez-nous", "public": False},
            headers=bearer(token),
        )
        if allowed:
            assert answer.status_code == 201, (source, answer.text)
            assert answer.json()["visibility"] == "private"
        else:
            assert answer.status_code == 422, (source, answer.text)
            assert "cannot publish private replies" in answer.text, source
    public = api.post(
        url.format(conversations["twitter"]),
        json={"text": "Nous regardons"},
        headers=bearer(token),
    )
    assert public.status_code == 201, public.text
    assert public.json()["visibility"] == "public"


def test_without_a_source_on_the_network_replies_are_recorded_and_may_be_private(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    make_tenant(db, clock, "b", {"bravo": ["bravo"]})
    line = {
        "source": "twitter",
        "external_id": "t-1",
        "text": "bravo: ma commande n'est jamais arrivée, je veux être remboursée",
        "created_at": "2030-01-01T10:00:00+00:00",
        "author": {"handle": "zoe"},
    }
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(line) + "\n")
    pipeline.import_file(path, tenant="b")
    token = make_api_user(db, clock, "b", "agent@b.example", "agent")
    api = TestClient(create_app(Settings(database_url=db.url)), base_url="http://127.0.0.1")
    with session_scope(db.factory) as session:
        conversation_id = session.scalar(select(Conversation.id))
    assert conversation_id is not None, "the import opened no conversation"
    answer = api.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        json={"text": "Votre numéro de commande ?", "public": False},
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["visibility"] == "private"
    with session_scope(db.factory) as session:
        assert session.scalar(select(Reply.channel)) == "recording"


def test_the_conversation_page_offers_what_the_network_allows(
    db: Database, clock: FrozenClock, conversations: dict[str, int]
) -> None:
    from tests.web.pages import client_for, make_user, sign_in

    make_user(db, clock, "sup@a.example", {"a": "supervisor"})
    client = client_for(db)
    sign_in(client, "sup@a.example")
    tweet = client.get(f"/c/{conversations['twitter']}").text
    toot = client.get(f"/c/{conversations['mastodon']}").text
    assert 'value="private"' in toot, "Mastodon: public reply or private mention"
    assert 'name="visibility" value="public"' in tweet
    assert 'value="private"' not in tweet, "X: public replies only"
    assert 'value="hide"' in tweet
    assert 'value="delete"' not in tweet, "X lets a brand hide a reply, never delete it"


def test_a_private_reply_queued_for_a_public_only_network_is_failed_not_posted(
    db: Database, clock: FrozenClock, conversations: dict[str, int]
) -> None:
    """Queued under a registry that allowed it (an older version, the recording channel),
    published under the network's rules: refused for good, with the reason on the reply."""
    lenient = ChannelRegistry({}, RecordingChannel())
    with session_scope(db.factory) as session:
        tenant_id = get_tenant(session, "a").id
    make_api_user(db, clock, "a", "agent@a.example", "agent")
    with session_scope(db.factory) as session:
        user_id = session.scalar(select(User.id).where(User.email == "agent@a.example"))
        assert user_id is not None
        agent = acting(session, user_id, tenant_id)
        reply = draft_reply(
            session,
            clock,
            agent,
            conversations["twitter"],
            "Votre numéro de client ?",
            visibility="private",
            channels=lenient,
        )
        send_reply(session, clock, agent, reply.id, channels=lenient)
        reply_id = reply.id
    public_only = RecordingChannel()
    public_only.supports_private = False  # type: ignore[misc]
    handlers = reply_handlers(
        db.factory, Settings(), clock=clock, channels=ChannelRegistry({}, public_only)
    )
    while relay(db.factory, clock, handlers):
        pass
    assert public_only.replies() == [], "nothing was posted"
    with session_scope(db.factory) as session:
        failed = session.get(Reply, reply_id)
        assert failed is not None
        assert failed.status == "failed"
        assert failed.error is not None
        assert "cannot publish private replies" in failed.error
