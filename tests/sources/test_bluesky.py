"""The Bluesky connector (atproto SDK) against a loopback server replaying recorded XRPC
answers: search, mentions, cursors, a rewritten record, malformed posts, rate limits, a
refused app password, server errors, the SSRF rule, replies with strong refs — then end
to end through the poller and the outbox on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care.channels import (
    ChannelError,
    ChannelRegistry,
    OutgoingReply,
    PermanentChannelError,
    default_channels,
    reply_handlers,
)
from clameur.care.replies import draft_reply, send_reply
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import relay
from clameur.db import session_scope
from clameur.mentions.models import Mention
from clameur.mentions.schemas import normalise
from clameur.pipeline import Pipeline
from clameur.sources import guarded
from clameur.sources.base import (
    PollContext,
    RateLimitedError,
    SourceConfig,
    SourceError,
    TransientSourceError,
)
from clameur.sources.bluesky import BlueskyConnector
from clameur.sources.channels import source_channels
from clameur.sources.service import add_source
from tests.care.test_replies import make_world
from tests.conftest import Database
from tests.factories import acting
from tests.sources.helpers import poller, source_row
from tests.sources.replay_server import Replay, recording, serve_replay

OPEN = Settings(allow_private_fetch=True)
PASSWORD = "abcd-efgh-ijkl-mnop"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
NOTIFICATIONS = "/xrpc/app.bsky.notification.listNotifications"
SESSION = "/xrpc/com.atproto.server.createSession"
PROFILES = "/xrpc/app.bsky.actor.getProfiles"
ZOE = "at://did:plc:zoe4kx3m2nq7qdjhgv5yz6wc/app.bsky.feed.post/"
P1, P2 = ZOE + "3lbq2xk7zrs2a", ZOE + "3lbq3ab4cde2b"
P3 = "at://did:plc:maxr7p2k3l4m5n6o7p8q9r0s/app.bsky.feed.post/3lbq4fg5hij2c"


def rec(name: str) -> Any:
    return recording("bluesky", name)


@pytest.fixture
def server() -> Iterator[Replay]:
    for replay in serve_replay():
        replay.add("POST", SESSION, rec("create_session"))
        replay.add("GET", "/xrpc/app.bsky.actor.getProfile", rec("get_profile"))
        replay.add("GET", PROFILES, rec("get_profiles"))
        yield replay


def config(server: Replay, **options: Any) -> SourceConfig:
    return SourceConfig(
        id=1,
        tenant_id=1,
        kind="bluesky",
        name="volta-bsky",
        url=server.url,
        source="bluesky",
        options=options or {"search": ["volta"]},
        secrets={"handle": "volta.bsky.social", "app_password": PASSWORD},
    )


def poll(server: Replay, clock: FrozenClock, cursor: Any = None, **kw: Any) -> Any:
    settings = kw.pop("settings", OPEN)
    return BlueskyConnector().poll(config(server, **kw), cursor, PollContext(settings, clock))


def test_the_first_search_turns_posts_into_records(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", SEARCH, rec("search_volta"))
    polled = poll(server, clock)
    assert polled.problems == []
    first, reply, future = polled.records  # oldest first
    for record in polled.records:
        normalise(record)
    assert first["external_id"] == P1
    assert first["source"] == "bluesky"
    assert first["text"] == "Ma trottinette Volta ne démarre plus depuis la mise à jour 😡"
    assert first["author"] == {
        "handle": "zoe.bsky.social",
        "name": "Zoé",
        "url": "https://bsky.app/profile/zoe.bsky.social",
        "followers": 2310,
    }
    assert future["author"]["followers"] == 48
    assert len(server.seen("GET", PROFILES)) == 1, "one request for the poll's authors"
    assert sorted(server.last("GET", PROFILES).query["actors"]) == [
        "did:plc:maxr7p2k3l4m5n6o7p8q9r0s",
        "did:plc:zoe4kx3m2nq7qdjhgv5yz6wc",
    ]
    assert first["created_at"] == "2029-12-31T08:59:58+00:00", "createdAt: the event time"
    assert first["url"] == "https://bsky.app/profile/zoe.bsky.social/post/3lbq2xk7zrs2a"
    assert first["lang"] == "fr"
    assert first["metrics"] == {"likes": 3, "shares": 1, "replies": 0}
    assert reply["in_reply_to"] == P1
    assert reply["reply_root"] == P1
    assert future["external_id"] == P3
    assert future["created_at"] == "2029-12-31T09:20:00.500000+00:00", (
        "a createdAt in the future: indexedAt wins"
    )
    assert polled.cursor == {"streams": {"search:volta": "2029-12-31T09:20:00.500Z"}}
    login = server.last("POST", SESSION).json()
    assert login["identifier"] == "volta.bsky.social"
    asked = server.last("GET", SEARCH)
    assert (asked.param("q"), asked.param("sort"), asked.param("since")) == (
        "volta",
        "latest",
        None,
    )
    assert asked.headers["authorization"].startswith("Bearer ")


def test_the_next_search_asks_since_the_cursor_with_a_rewrite_and_malformed_posts(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", SEARCH, rec("search_volta"))
    first = poll(server, clock)
    server.replace("GET", SEARCH, rec("search_volta_newer"))
    later = poll(server, clock, first.cursor)
    assert server.last("GET", SEARCH).param("since") == "2029-12-31T09:20:00.500Z"
    ids = [r["external_id"] for r in later.records]
    assert ids == [P1, "at://did:plc:maxr7p2k3l4m5n6o7p8q9r0s/app.bsky.feed.post/3lbq5kl6mno2d"]
    rewritten = later.records[0]
    assert rewritten["text"].endswith("mise à jour 4.2 😡"), "the same uri, a new record"
    assert rewritten["cid"].startswith("bafyreigedited")
    reasons = sorted(f"{p.where}: {p.reason}" for p in later.problems)
    assert len(reasons) == 2
    assert "search:volta item 1" in reasons[0]
    assert "'record' is not a post record" in reasons[0]
    assert "search:volta item 2: post without an at:// uri" in reasons[1]
    assert later.cursor["streams"]["search:volta"] == "2029-12-31T10:03:00.000Z"


def test_mentions_keep_new_mention_notifications_only(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", NOTIFICATIONS, rec("notifications"))
    cursor = {"streams": {"mentions": "2029-12-31T00:00:00.000Z"}}
    polled = poll(server, clock, cursor, mentions=True)
    record, answer = polled.records
    assert record["external_id"].endswith("3lbq8za9bcd2g")
    assert record["text"].startswith("@volta.bsky.social ma commande")
    assert answer["in_reply_to"] == P1, "an answer to our reply threads under Zoé's post"
    assert answer["answers_our_post"].startswith("at://did:plc:voltabrand")
    assert polled.problems == [], "a like is not a mention, not a problem either"
    assert polled.cursor["streams"]["mentions"] == "2029-12-31T11:40:01.000Z"
    asked = server.last("GET", NOTIFICATIONS)
    assert asked.query["reasons"] == ["mention", "reply", "quote"]


def test_followers_not_read_are_a_problem_and_the_posts_kept(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", SEARCH, rec("search_volta"))
    server.replace("GET", PROFILES, rec("error_500"), status=500)
    polled = poll(server, clock)
    assert len(polled.records) == 3
    assert all("followers" not in r["author"] for r in polled.records)
    [problem] = polled.problems
    assert problem.where == "authors"
    assert "followers not read: Bluesky server error" in problem.reason


def test_429_is_rate_limited_with_the_reset(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", SEARCH, rec("error_429"), status=429, headers={
        "Date": "Tue, 01 Jan 2030 12:00:00 GMT", "ratelimit-limit": "3000",
        "ratelimit-remaining": "0", "ratelimit-reset": "1893499320",
        "ratelimit-policy": "3000;w=300",
    })  # fmt: skip
    with pytest.raises(RateLimitedError) as limited:
        poll(server, clock)
    assert limited.value.retry_after == 120.0


def test_a_refused_app_password_is_a_clear_error(server: Replay, clock: FrozenClock) -> None:
    server.replace("POST", SESSION, rec("error_401"), status=401)
    with pytest.raises(SourceError) as refused:
        poll(server, clock)
    assert not isinstance(refused.value, TransientSourceError)
    message = str(refused.value)
    assert "refused the app password for volta.bsky.social" in message
    assert "Invalid identifier or password" in message
    assert PASSWORD not in message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(server: Replay, clock: FrozenClock, status: int) -> None:
    server.add("GET", SEARCH, rec("error_500"), status=status)
    with pytest.raises(TransientSourceError):
        poll(server, clock)


def test_the_loopback_host_is_refused_by_default(server: Replay, clock: FrozenClock) -> None:
    with pytest.raises(SourceError) as refused:
        poll(server, clock, settings=Settings())
    assert "127.0.0.1 is a loopback" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)
    with pytest.raises(PermanentChannelError, match="CLAMEUR_ALLOW_PRIVATE_FETCH"):
        BlueskyConnector().channel(config(server), Settings()).publish(outgoing())
    assert server.requests == [], "refused before any request"


def outgoing(**kw: Any) -> OutgoingReply:
    values: dict[str, Any] = {
        "reply_id": 9,
        "tenant_id": 1,
        "conversation_id": 3,
        "source": "bluesky",
        "text": "Bonjour Zoé, un correctif arrive aujourd'hui.",
        "visibility": "public",
        "in_reply_to": P2,
        "recipient_handle": "zoe.bsky.social",
    }
    return OutgoingReply(**{**values, **kw})


def test_a_reply_is_a_post_with_root_and_parent_strong_refs(server: Replay) -> None:
    server.add("GET", "/xrpc/app.bsky.feed.getPosts", rec("get_posts_reply"))
    server.add("POST", "/xrpc/com.atproto.repo.createRecord", rec("create_record"))
    channel = BlueskyConnector().channel(config(server), OPEN)
    external_id = channel.publish(outgoing())
    assert external_id == "at://did:plc:voltabrand0000000000000/app.bsky.feed.post/3lbqzreply02a"
    assert server.last("GET", "/xrpc/app.bsky.feed.getPosts").query["uris"] == [P2]
    created = server.last("POST", "/xrpc/com.atproto.repo.createRecord")
    body = created.json()
    assert body["repo"] == "did:plc:voltabrand0000000000000"
    assert body["collection"] == "app.bsky.feed.post"
    post = body["record"]
    assert post["text"] == "Bonjour Zoé, un correctif arrive aujourd'hui."
    assert post["$type"] == "app.bsky.feed.post"
    assert post["reply"]["parent"] == {
        "$type": "com.atproto.repo.strongRef",
        "uri": P2,
        "cid": rec("get_posts_reply")["posts"][0]["cid"],
    }
    assert post["reply"]["root"] == {
        "$type": "com.atproto.repo.strongRef",
        "uri": P1,
        "cid": rec("search_volta")["posts"][2]["cid"],  # the root's, read from the thread
    }
    assert created.headers["authorization"].startswith("Bearer ey")


def test_publishing_refusals_and_retries(server: Replay) -> None:
    channel = BlueskyConnector().channel(config(server), OPEN)
    with pytest.raises(PermanentChannelError, match="public only"):
        channel.publish(outgoing(visibility="private"))
    server.add("GET", "/xrpc/app.bsky.feed.getPosts", rec("get_posts_empty"))
    with pytest.raises(PermanentChannelError, match="is gone"):
        channel.publish(outgoing())
    server.replace("GET", "/xrpc/app.bsky.feed.getPosts", rec("get_posts_reply"))
    server.add("POST", "/xrpc/com.atproto.repo.createRecord", rec("error_500"), status=500)
    with pytest.raises(ChannelError) as retried:
        channel.publish(outgoing())
    assert not isinstance(retried.value, PermanentChannelError)


# -- end to end -------------------------------------------------------------------------


def test_polled_posts_are_stored_threaded_and_answered_through_the_outbox(
    db: Database, pipeline: Pipeline, clock: FrozenClock, server: Replay
) -> None:
    world = make_world(db, clock)
    server.add("GET", SEARCH, rec("search_volta"))
    with session_scope(db.factory) as session:
        source_id = add_source(
            session, clock, tenant_id=world.tenant_id, kind="bluesky", url=server.url,
            options={"search": ["volta"]},
            secrets={"handle": "volta.bsky.social", "app_password": PASSWORD},
        ).id  # fmt: skip
    outcome = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert outcome is not None
    assert outcome.status == "ok", outcome
    assert outcome.counts["imported"] == 3
    assert source_row(db, source_id).cursor == {
        "streams": {"search:volta": "2029-12-31T09:20:00.500Z"}
    }
    with session_scope(db.factory) as session:
        rows = {m.external_id: m for m in session.scalars(select(Mention))}
        assert rows[P1].brand_set == str(world.brand_id), "matched to the brand"
        conversation = rows[P1].conversation_id
        assert conversation is not None
        assert rows[P2].in_reply_to == P1
        assert rows[P2].conversation_id == conversation, "Zoé's thread: one conversation"
    again = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert again is not None
    assert again.counts["imported"] == 0

    base = default_channels(OPEN)
    registry = ChannelRegistry({**base.by_source, **source_channels(db.factory, OPEN)},
                               base.default)  # fmt: skip
    server.add("GET", "/xrpc/app.bsky.feed.getPosts", rec("get_posts_reply"))
    server.add("POST", "/xrpc/com.atproto.repo.createRecord", rec("create_record"))
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        reply = draft_reply(session, clock, agent, conversation, "On s'en occupe.",
                            channels=registry)  # fmt: skip
        send_reply(session, clock, agent, reply.id, channels=registry)
    handlers = reply_handlers(db.factory, OPEN, clock=clock, channels=registry)
    assert relay(db.factory, clock, handlers) == 1
    post = server.last("POST", "/xrpc/com.atproto.repo.createRecord").json()["record"]
    assert post["reply"]["parent"]["uri"] == P2, "the latest mention of the conversation"
    assert post["reply"]["root"]["uri"] == P1
    assert post["createdAt"].startswith("2030-01-01T12:00:00")


def test_a_redirect_to_a_private_address_is_refused(
    server: Replay, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = guarded.check_host

    def loopback_only(host: str, port: int, *, allow_private: bool, **kw: Any) -> list[str]:
        return real(host, port, allow_private=host == "127.0.0.1", **kw)

    monkeypatch.setattr(guarded, "check_host", loopback_only)  # this server, nothing else
    server.add("GET", SEARCH, b"", status=307, headers={"Location": "http://10.1.2.3/steal"})
    with pytest.raises(SourceError) as refused:
        poll(server, clock, settings=Settings())
    assert "10.1.2.3 is a loopback, private or link-local" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)
