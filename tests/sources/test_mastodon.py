"""The Mastodon connector (Mastodon.py) against a loopback server replaying recorded API
answers: hashtags, search, mentions, cursors, edits, malformed items, rate limits, refused
tokens, server errors, the SSRF rule, and replies published back — then end to end
through the poller and the outbox on SQLite and PostgreSQL."""

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
from clameur.sources.channels import source_channels
from clameur.sources.mastodon import MastodonConnector
from clameur.sources.service import add_source
from tests.care.test_replies import make_world
from tests.conftest import Database
from tests.factories import acting
from tests.sources.helpers import poller, source_row
from tests.sources.replay_server import Replay, recording, serve_replay

OPEN = Settings(allow_private_fetch=True)
TOKEN = "mastodon-token-0123456789"
TAG = "/api/v1/timelines/tag/volta"
S1 = "https://mastodon.example/users/ana/statuses/113500000000000001"
S2 = "https://remote.example/users/bob/statuses/109000002"
S6 = "https://mastodon.example/users/ana/statuses/113500000000000006"
S5 = "https://remote.example/users/bob/statuses/109000020"


def rec(name: str) -> Any:
    return recording("mastodon", name)


@pytest.fixture
def server() -> Iterator[Replay]:
    for replay in serve_replay():
        replay.add("GET", "/api/v1/accounts/verify_credentials", rec("verify_credentials"))
        yield replay


def config(server: Replay, **options: Any) -> SourceConfig:
    return SourceConfig(
        id=1,
        tenant_id=1,
        kind="mastodon",
        name="volta-masto",
        url=server.url,
        source="mastodon",
        options=options or {"hashtags": ["volta"]},
        secrets={"access_token": TOKEN},
    )


def poll(server: Replay, clock: FrozenClock, cursor: Any = None, **kw: Any) -> Any:
    settings = kw.pop("settings", OPEN)
    return MastodonConnector().poll(config(server, **kw), cursor, PollContext(settings, clock))


def test_the_first_poll_turns_a_hashtag_timeline_into_records(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", TAG, rec("tag_volta"))
    polled = poll(server, clock)
    assert polled.problems == []
    first, reply, follow_up = polled.records  # oldest first (the timeline is newest first)
    for record in polled.records:
        normalise(record)  # the import contract's own validation
    assert first["external_id"] == S1, "the uri: the same status from every instance"
    assert first["source"] == "mastodon"
    assert first["text"] == "J'adore #Volta, la batterie tient deux jours !\n\nEt vous ?"
    assert first["author"] == {
        "handle": "ana@mastodon.example",
        "name": "Ana",
        "followers": 1520,
        "url": "https://mastodon.example/@ana",
    }
    assert first["created_at"] == "2029-12-31T09:00:00+00:00"
    assert first["url"] == "https://mastodon.example/@ana/113500000000000001"
    assert first["mastodon_id"] == "113500000000000001"
    assert first["metrics"] == {"likes": 5, "shares": 2, "replies": 1}
    assert first["lang"] == "fr"
    assert "in_reply_to" not in first
    assert reply["author"]["handle"] == "bob@remote.example"
    assert reply["in_reply_to"] == S1, "the parent's uri, found in the same poll"
    assert reply["text"] == "@ana pareil, ma #Volta est top\nvraiment"
    assert follow_up["in_reply_to"] == S1
    assert polled.cursor["streams"] == {"tag:volta": "113500000000000006"}
    asked = server.last("GET", TAG)
    assert asked.headers["authorization"] == f"Bearer {TOKEN}"
    assert asked.param("min_id") is None
    assert asked.param("limit") == "40"


def test_the_next_poll_asks_only_for_newer_statuses_and_reports_malformed_ones(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", TAG, rec("tag_volta"))
    first = poll(server, clock)
    server.replace("GET", TAG, rec("tag_volta_newer"))
    later = poll(server, clock, first.cursor)
    assert server.last("GET", TAG).param("min_id") == "113500000000000006"
    assert [r["external_id"] for r in later.records] == [
        "https://mastodon.example/users/ana/statuses/113500000000000007"
    ], "the valid status is kept"
    wheres = sorted(p.where for p in later.problems)
    assert wheres == ["tag:volta item 1 (113500000000000009)", "tag:volta item 2"]
    reasons = " | ".join(p.reason for p in later.problems)
    assert "'account' is not an account object" in reasons
    assert "without a uri" in reasons
    assert later.cursor["streams"]["tag:volta"] == "113500000000000009"
    assert server.seen("GET", "/api/v1/accounts/verify_credentials").__len__() == 1, (
        "our account id is kept in the cursor"
    )


def test_search_and_mentions_with_an_edited_status_and_a_parent_looked_up(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", "/api/v2/search", rec("search_volta"))
    server.add("GET", "/api/v1/notifications", rec("notifications"))
    options = {"search": ["trottinette volta"], "mentions": True}
    first = poll(server, clock, **options)
    assert sorted(r["external_id"] for r in first.records) == [
        "https://remote.example/users/bob/statuses/109000010",
        S5,
    ]
    search = server.last("GET", "/api/v2/search")
    assert (search.param("q"), search.param("type")) == ("trottinette volta", "statuses")
    assert search.param("resolve") in (None, "0"), "listening never asks to fetch (default)"
    assert not server.seen("GET", "/api/v1/instance"), "no version check before searching"
    notifications = server.last("GET", "/api/v1/notifications")
    assert notifications.query["types[]"] == ["mention", "update"]
    assert first.cursor["streams"]["mentions"] == "880001"

    server.replace("GET", "/api/v1/notifications", rec("notifications_edit"))
    edited = poll(server, clock, first.cursor, **options)  # the same search page again
    assert server.last("GET", "/api/v1/notifications").param("min_id") == "880001"
    assert len(edited.records) == 1, "the search's status, seen already, is dropped"
    [record] = edited.records
    assert record["external_id"] == S5
    assert record["text"].endswith("(n° 4521)")
    assert record["edited_at"] == "2029-12-31T10:20:00+00:00"


def test_a_reply_to_a_status_outside_the_poll_finds_its_parent_uri(
    server: Replay, clock: FrozenClock
) -> None:
    only_reply = [rec("tag_volta")[1]]
    server.add("GET", TAG, only_reply)
    server.add("GET", "/api/v1/statuses/113500000000000001", rec("status_parent"))
    polled = poll(server, clock)
    assert polled.records[0]["in_reply_to"] == S1
    assert polled.cursor["parents"] == {"113500000000000001": S1}
    again = poll(server, clock, {**polled.cursor, "streams": {}})
    assert again.records[0]["in_reply_to"] == S1
    assert len(server.seen("GET", "/api/v1/statuses/113500000000000001")) == 1, "cached"


def test_an_answer_to_our_reply_threads_under_the_status_we_answered(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", "/api/v1/notifications", rec("notifications_answer"))
    server.add("GET", "/api/v1/statuses/113500000000000099", rec("status_posted"))  # ours
    server.add("GET", "/api/v1/statuses/113500000000000020", rec("status_customer"))
    polled = poll(server, clock, mentions=True)
    [record] = polled.records
    assert record["in_reply_to"] == S5, "bob's status we answered, a stored mention"
    assert record["answers_our_status"] == (
        "https://mastodon.example/users/volta/statuses/113500000000000099"
    )
    assert polled.cursor["parents"] == {"113500000000000099": S5}


def test_a_parent_gone_keeps_the_reply_and_says_so(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", TAG, [rec("tag_volta")[1]])
    server.add("GET", "/api/v1/statuses/113500000000000001", {"error": "Record not found"},
               status=404)  # fmt: skip
    polled = poll(server, clock)
    assert "in_reply_to" not in polled.records[0]
    [problem] = polled.problems
    assert "parent status 113500000000000001 is gone" in problem.reason


def test_429_is_rate_limited_with_the_servers_retry_after(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", TAG, rec("error_429"), status=429, headers={
        "Date": "Tue, 01 Jan 2030 12:00:00 GMT",
        "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "2030-01-01T12:05:00.000Z",
    })  # fmt: skip
    with pytest.raises(RateLimitedError) as limited:
        poll(server, clock)
    assert limited.value.retry_after == 300.0


def test_401_is_a_clear_error_without_the_token(server: Replay, clock: FrozenClock) -> None:
    server.replace("GET", "/api/v1/accounts/verify_credentials", rec("error_401"), status=401)
    with pytest.raises(SourceError) as refused:
        poll(server, clock)
    assert not isinstance(refused.value, TransientSourceError)
    message = str(refused.value)
    assert "refused the access token (revoked or expired?)" in message
    assert "The access token was revoked" in message
    assert TOKEN not in message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(server: Replay, clock: FrozenClock, status: int) -> None:
    server.add("GET", TAG, {"error": "boom"}, status=status)
    with pytest.raises(TransientSourceError, match="server error"):
        poll(server, clock)


def test_the_loopback_instance_is_refused_by_default(server: Replay, clock: FrozenClock) -> None:
    with pytest.raises(SourceError) as refused:
        poll(server, clock, settings=Settings())
    assert "127.0.0.1 is a loopback" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)
    assert server.requests == [], "refused before any request"
    with pytest.raises(PermanentChannelError, match="CLAMEUR_ALLOW_PRIVATE_FETCH"):
        MastodonConnector().channel(config(server), Settings()).publish(outgoing())
    assert server.requests == []


def outgoing(**kw: Any) -> OutgoingReply:
    values: dict[str, Any] = {
        "reply_id": 7,
        "tenant_id": 1,
        "conversation_id": 3,
        "source": "mastodon",
        "text": "Désolés, nous regardons tout de suite.",
        "visibility": "public",
        "in_reply_to": S5,
        "recipient_handle": "bob@remote.example",
    }
    return OutgoingReply(**{**values, **kw})


def test_a_reply_is_posted_in_reply_to_the_status_on_our_instance(server: Replay) -> None:
    server.add("GET", "/api/v2/search", rec("search_resolve"))
    server.add("POST", "/api/v1/statuses", rec("status_posted"))
    channel = MastodonConnector().channel(config(server), OPEN)
    external_id = channel.publish(outgoing())
    assert external_id == "https://mastodon.example/users/volta/statuses/113500000000000099"
    lookup = server.last("GET", "/api/v2/search")
    assert (lookup.param("q"), lookup.param("resolve")) == (S5, "1")
    posted = server.last("POST", "/api/v1/statuses")
    form = posted.form()
    assert form["in_reply_to_id"] == ["113500000000000020"]
    assert form["visibility"] == ["public"]
    assert form["status"] == ["@bob@remote.example Désolés, nous regardons tout de suite."]
    assert posted.headers["idempotency-key"] == "clameur-1-7"
    assert posted.headers["authorization"] == f"Bearer {TOKEN}"
    channel.publish(outgoing(visibility="private", text="@bob@remote.example en privé"))
    form = server.last("POST", "/api/v1/statuses").form()
    assert form["visibility"] == ["direct"]
    assert form["status"] == ["@bob@remote.example en privé"], "not addressed twice"


def test_a_reply_to_a_deleted_status_fails_for_good_and_a_5xx_is_retried(
    server: Replay,
) -> None:
    channel = MastodonConnector().channel(config(server), OPEN)
    server.add("GET", "/api/v2/search", rec("search_empty"))
    with pytest.raises(PermanentChannelError, match="cannot be found"):
        channel.publish(outgoing())
    server.replace("GET", "/api/v2/search", rec("search_resolve"))
    server.add("POST", "/api/v1/statuses", {"error": "busy"}, status=503)
    with pytest.raises(ChannelError) as retried:
        channel.publish(outgoing())
    assert not isinstance(retried.value, PermanentChannelError)
    server.replace("POST", "/api/v1/statuses", {"error": "This action is not allowed"},
                   status=403)  # fmt: skip
    with pytest.raises(PermanentChannelError, match="403"):
        channel.publish(outgoing())
    assert channel.moderation_actions == frozenset()


# -- end to end -------------------------------------------------------------------------


def test_polled_statuses_are_stored_threaded_and_answered_through_the_outbox(
    db: Database, pipeline: Pipeline, clock: FrozenClock, server: Replay
) -> None:
    world = make_world(db, clock)
    server.add("GET", TAG, rec("tag_volta"))
    with session_scope(db.factory) as session:
        source_id = add_source(
            session, clock, tenant_id=world.tenant_id, kind="mastodon", url=server.url,
            options={"hashtags": ["#volta"]}, secrets={"access_token": TOKEN},
        ).id  # fmt: skip
    outcome = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert outcome is not None
    assert outcome.status == "ok", outcome
    assert outcome.counts["imported"] == 3
    assert source_row(db, source_id).cursor["streams"] == {"tag:volta": "113500000000000006"}
    with session_scope(db.factory) as session:
        rows = {m.external_id: m for m in session.scalars(select(Mention))}
        assert rows[S1].brand_set == str(world.brand_id), "matched to the brand"
        assert rows[S2].in_reply_to == S1
        assert rows[S6].in_reply_to == S1
        conversation = rows[S1].conversation_id
        assert conversation is not None
        assert rows[S6].conversation_id == conversation, "ana's thread: one conversation"
    again = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert again is not None
    assert again.counts["imported"] == 0

    base = default_channels(OPEN)
    registry = ChannelRegistry({**base.by_source, **source_channels(db.factory, OPEN)},
                               base.default)  # fmt: skip
    server.add("GET", "/api/v2/search", {"accounts": [], "statuses": [rec("tag_volta")[0]],
                                         "hashtags": []})  # fmt: skip
    server.add("POST", "/api/v1/statuses", rec("status_posted"))
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        reply = draft_reply(session, clock, agent, conversation, "Merci !", channels=registry)
        send_reply(session, clock, agent, reply.id, channels=registry)
    handlers = reply_handlers(db.factory, OPEN, clock=clock, channels=registry)
    assert relay(db.factory, clock, handlers) == 1
    form = server.last("POST", "/api/v1/statuses").form()
    assert form["in_reply_to_id"] == ["113500000000000006"], "the latest mention, resolved"
    assert form["status"] == ["@ana@mastodon.example Merci !"]
    assert server.last("GET", "/api/v2/search").param("q") == S6


def test_a_redirect_to_a_private_address_is_refused(
    server: Replay, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = guarded.check_host

    def loopback_only(host: str, port: int, *, allow_private: bool, **kw: Any) -> list[str]:
        return real(host, port, allow_private=host == "127.0.0.1", **kw)

    monkeypatch.setattr(guarded, "check_host", loopback_only)  # this server, nothing else
    server.add("GET", TAG, b"", status=302, headers={"Location": "http://10.1.2.3/steal"})
    with pytest.raises(SourceError) as refused:
        poll(server, clock, settings=Settings())
    assert "10.1.2.3 is a loopback, private or link-local" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)


def test_a_tenant_without_an_enabled_source_cannot_publish(
    db: Database, clock: FrozenClock, server: Replay
) -> None:
    world = make_world(db, clock)
    channel = source_channels(db.factory, OPEN)["mastodon"]
    assert (channel.supports_public, channel.supports_private) == (True, True)
    with pytest.raises(PermanentChannelError, match="no enabled mastodon source"):
        channel.publish(outgoing(tenant_id=world.tenant_id))
    with session_scope(db.factory) as session:
        row = add_source(
            session, clock, tenant_id=world.tenant_id, kind="mastodon", url=server.url,
            options={"mentions": True}, secrets={"access_token": TOKEN},
        )  # fmt: skip
        row.enabled = False
    with pytest.raises(PermanentChannelError, match="no enabled mastodon source"):
        channel.publish(outgoing(tenant_id=world.tenant_id))
    assert server.requests == []
