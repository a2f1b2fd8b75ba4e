"""The X (Twitter) API v2 connector against a loopback server replaying recorded answers:
recent search and mentions, since_id cursors, pagination and its cap, malformed tweets,
rate limits, refused tokens, server errors, the SSRF rule, replies and hiding — then end
to end through the poller on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care.channels import (
    ChannelError,
    ModerationRequest,
    OutgoingReply,
    PermanentChannelError,
    reply_handlers,
)
from clameur.care.models import Reply
from clameur.care.replies import approve_reply, draft_reply, send_reply
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import relay
from clameur.db import session_scope
from clameur.mentions.models import Mention
from clameur.mentions.schemas import normalise
from clameur.pipeline import Pipeline
from clameur.sources.base import (
    PollContext,
    Polled,
    RateLimitedError,
    SourceConfig,
    SourceError,
    TransientSourceError,
)
from clameur.sources.channels import channels_with_sources
from clameur.sources.service import add_source
from clameur.sources.x import XConnector
from tests.care.test_replies import make_world
from tests.conftest import Database
from tests.factories import acting, lead
from tests.sources.helpers import poller, source_row
from tests.sources.replay_server import Replay, recording, serve_replay

OPEN = Settings(allow_private_fetch=True)
BEARER = "AAAAAAAAAAAAAAAAAAAAAbearer0123456789"
USER_TOKEN = "user-context-token-0123456789"
SEARCH = "/2/tweets/search/recent"
MENTIONS = "/2/users/1500000000000000001/mentions"
NEXT = "b26v89c19zqg8o3fosbv1i0c1k2ogf2yy6u1xqnhj0m1"


def rec(name: str) -> Any:
    return recording("x", name)


@pytest.fixture
def server() -> Iterator[Replay]:
    yield from serve_replay()


def options(server: Replay, **kw: Any) -> dict[str, Any]:
    return {"query": "volta -is:retweet", "base_url": server.url, **kw}


def config(server: Replay, **kw: Any) -> SourceConfig:
    return SourceConfig(
        id=1, tenant_id=1, kind="x", name="volta-x", url=None, source="twitter",
        options=options(server, **kw), secrets={"bearer_token": BEARER, "user_token": USER_TOKEN},
    )  # fmt: skip


def poll(server: Replay, clock: FrozenClock, cursor: Any = None, **kw: Any) -> Polled:
    settings = kw.pop("settings", OPEN)
    return XConnector().poll(config(server, **kw), cursor, PollContext(settings, clock))


def paged(server: Replay) -> None:
    server.add("GET", SEARCH, rec("search_page2"), query={"next_token": NEXT})
    server.add("GET", SEARCH, rec("search_page1"))


def test_the_first_poll_follows_the_pages_and_keeps_the_newest_id(
    server: Replay, clock: FrozenClock
) -> None:
    paged(server)
    polled = poll(server, clock)
    ids = [r["external_id"] for r in polled.records]
    assert ids == ["1873999999999999990", "1874000000000000002", "1874000000000000004"]
    for record in polled.records:
        normalise(record)
    ana = polled.records[1]
    assert ana["source"] == "twitter"
    assert ana["text"].startswith("Ma trottinette Volta ne charge plus")
    assert ana["created_at"] == "2029-12-31T09:00:00.000Z"
    assert ana["author"] == {
        "handle": "ana_roule", "url": "https://x.com/ana_roule", "name": "Ana",
        "followers": 1520, "verified": False,
    }  # fmt: skip
    assert ana["url"] == "https://x.com/ana_roule/status/1874000000000000002"
    assert ana["metrics"] == {"likes": 12, "shares": 4, "replies": 2, "quotes": 1}
    assert ana["lang"] == "fr"
    assert polled.records[2]["in_reply_to"] == "1874000000000000002", "replied_to"
    assert polled.records[2]["author"]["verified"] is True
    (problem,) = polled.problems
    assert problem.where == "search page 2 tweet 2 (1873999999999999980)"
    assert "no text" in problem.reason
    assert polled.cursor == {"since_id": {"search": "1874000000000000004"}}
    first, second = server.seen("GET", SEARCH)
    assert first.headers["authorization"] == f"Bearer {BEARER}"
    assert first.param("query") == "volta -is:retweet"
    assert first.param("since_id") is None
    assert "public_metrics" in (first.param("tweet.fields") or "")
    assert (first.param("expansions"), first.param("max_results")) == ("author_id", "100")
    assert second.param("next_token") == NEXT


def test_the_next_poll_sends_since_id_and_gets_only_new_tweets(
    server: Replay, clock: FrozenClock
) -> None:
    paged(server)
    first = poll(server, clock)
    server.add("GET", SEARCH, rec("search_newer"), query={"since_id": "1874000000000000004"},
               first=True)  # fmt: skip
    later = poll(server, clock, first.cursor)
    assert server.last("GET", SEARCH).param("since_id") == "1874000000000000004"
    assert [r["external_id"] for r in later.records] == ["1874000000000000010"]
    assert later.cursor == {"since_id": {"search": "1874000000000000010"}}
    server.add("GET", SEARCH, rec("search_empty"), query={"since_id": "1874000000000000010"},
               first=True)  # fmt: skip
    quiet = poll(server, clock, later.cursor)
    assert quiet.records == []
    assert quiet.cursor == later.cursor, "nothing new: the cursor stays"


def test_the_page_cap_says_what_was_not_fetched(server: Replay, clock: FrozenClock) -> None:
    paged(server)
    polled = poll(server, clock, max_pages=1)
    assert len(polled.records) == 2
    (problem,) = polled.problems
    assert problem.where == "search"
    assert "more than 1 pages" in problem.reason
    assert len(server.seen("GET", SEARCH)) == 1


def test_mentions_of_the_brand_account(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", MENTIONS, rec("mentions"))
    polled = poll(server, clock, query=None, mentions_user_id="1500000000000000001")
    (record,) = polled.records
    assert record["in_reply_to"] == "1873000000000000100"
    assert record["x_conversation_id"] == "1873000000000000100"
    assert polled.cursor == {"since_id": {"mentions": "1874000000000000007"}}
    assert server.requests[0].path == MENTIONS


def test_429_is_rate_limited_until_the_reset(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", SEARCH, rec("error_429"), status=429, headers={
        "Date": "Tue, 01 Jan 2030 12:00:00 GMT", "x-rate-limit-limit": "450",
        "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1893499500",
    })  # fmt: skip
    with pytest.raises(RateLimitedError) as limited:
        poll(server, clock)
    assert limited.value.retry_after == 300.0


def test_401_and_5xx(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", SEARCH, rec("error_401"), status=401)
    with pytest.raises(SourceError) as refused:
        poll(server, clock)
    assert not isinstance(refused.value, TransientSourceError)
    assert "X refused the bearer token" in str(refused.value)
    assert BEARER not in str(refused.value)
    server.replace("GET", SEARCH, rec("error_503"), status=503)
    with pytest.raises(TransientSourceError, match="X server error 503"):
        poll(server, clock)


def test_the_loopback_api_is_refused_by_default(server: Replay, clock: FrozenClock) -> None:
    with pytest.raises(SourceError) as refused:
        poll(server, clock, settings=Settings())
    assert "127.0.0.1 is a loopback" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)
    with pytest.raises(PermanentChannelError, match="CLAMEUR_ALLOW_PRIVATE_FETCH"):
        XConnector().channel(config(server), Settings()).publish(outgoing())
    assert server.requests == []


def outgoing(**kw: Any) -> OutgoingReply:
    values: dict[str, Any] = {
        "reply_id": 7, "tenant_id": 1, "conversation_id": 3, "source": "twitter",
        "text": "@ana_roule Désolés ! Nous regardons tout de suite.", "visibility": "public",
        "in_reply_to": "1874000000000000002", "recipient_handle": "ana_roule",
    }  # fmt: skip
    return OutgoingReply(**{**values, **kw})


def test_a_reply_is_posted_with_the_user_token(server: Replay) -> None:
    server.add("POST", "/2/tweets", rec("tweet_posted"), status=201)
    channel = XConnector().channel(config(server), OPEN)
    assert channel.publish(outgoing()) == "1874000000000000099"
    posted = server.last("POST", "/2/tweets")
    assert posted.headers["authorization"] == f"Bearer {USER_TOKEN}"
    assert posted.json() == {
        "text": "@ana_roule Désolés ! Nous regardons tout de suite.",
        "reply": {"in_reply_to_tweet_id": "1874000000000000002"},
    }
    with pytest.raises(PermanentChannelError, match="public"):
        channel.publish(outgoing(visibility="private"))


def test_a_duplicate_fails_for_good_and_a_5xx_is_retried(server: Replay) -> None:
    channel = XConnector().channel(config(server), OPEN)
    server.add("POST", "/2/tweets", rec("error_403_duplicate"), status=403)
    with pytest.raises(PermanentChannelError, match="duplicate"):
        channel.publish(outgoing())
    server.replace("POST", "/2/tweets", rec("error_503"), status=503)
    with pytest.raises(ChannelError) as retried:
        channel.publish(outgoing())
    assert not isinstance(retried.value, PermanentChannelError)
    no_token = SourceConfig(
        id=1, tenant_id=1, kind="x", name="volta-x", url=None, source="twitter",
        options=options(server), secrets={"bearer_token": BEARER},
    )  # fmt: skip
    with pytest.raises(PermanentChannelError, match="user_token"):
        XConnector().channel(no_token, OPEN).publish(outgoing())


def test_hiding_a_reply(server: Replay) -> None:
    server.add("PUT", "/2/tweets/1874000000000000004/hidden", rec("hidden"))
    channel = XConnector().channel(config(server), OPEN)
    request = ModerationRequest(
        tenant_id=1, mention_id=9, source="twitter", external_id="1874000000000000004",
        action="hide",
    )  # fmt: skip
    channel.moderate(request)
    hidden = server.last("PUT", "/2/tweets/1874000000000000004/hidden")
    assert hidden.json() == {"hidden": True}
    assert hidden.headers["authorization"] == f"Bearer {USER_TOKEN}"
    with pytest.raises(PermanentChannelError):
        channel.moderate(replace(request, action="delete"))


def test_polled_tweets_are_stored_threaded_and_matched(
    db: Database, pipeline: Pipeline, clock: FrozenClock, server: Replay
) -> None:
    world = make_world(db, clock)
    paged(server)
    with session_scope(db.factory) as session:
        source_id = add_source(
            session, clock, tenant_id=world.tenant_id, kind="x",
            options=options(server), secrets={"bearer_token": BEARER, "user_token": USER_TOKEN},
        ).id  # fmt: skip
    outcome = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert outcome is not None
    assert outcome.status == "ok", outcome
    assert outcome.counts["imported"] == 3
    assert source_row(db, source_id).cursor == {"since_id": {"search": "1874000000000000004"}}
    with session_scope(db.factory) as session:
        rows = {m.external_id: m for m in session.scalars(select(Mention))}
        ana = rows["1874000000000000002"]
        assert ana.source == "twitter"
        assert ana.brand_set == str(world.brand_id), "matched to the brand"
        reply = rows["1874000000000000004"]
        assert reply.in_reply_to == "1874000000000000002"
        assert ana.conversation_id is not None, "a complaint opens a conversation"
        conversation = ana.conversation_id

    registry = channels_with_sources(db.factory, OPEN)
    server.add("POST", "/2/tweets", rec("tweet_posted"), status=201)
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        reply = draft_reply(session, clock, agent, conversation, "Désolés !", channels=registry)
        sent_by_agent = send_reply(session, clock, agent, reply.id, channels=registry)
        if sent_by_agent.status == "pending_approval":
            # The angry tweet is urgent enough (priority, incident) for the tenant's approval
            # policy: a supervisor approves, and the reply leaves as the agent wrote it.
            supervisor = lead(session, clock, world.tenant_id)
            approve_reply(session, clock, supervisor, reply.id, channels=registry)
    handlers = reply_handlers(db.factory, OPEN, clock=clock, channels=registry)
    assert relay(db.factory, clock, handlers) == 1
    posted = server.last("POST", "/2/tweets")
    assert posted.headers["authorization"] == f"Bearer {USER_TOKEN}"
    assert posted.json()["reply"] == {"in_reply_to_tweet_id": "1874000000000000002"}
    with session_scope(db.factory) as session:
        sent = session.get(Reply, reply.id)
        assert sent is not None
        assert (sent.status, sent.external_id) == ("sent", "1874000000000000099")


def test_an_answer_that_is_not_json_is_transient(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", SEARCH, b"<html>maintenance</html>")
    with pytest.raises(TransientSourceError, match="no JSON object"):
        poll(server, clock)


def test_the_brand_accounts_own_tweets_are_not_mentions(server: Replay, clock: FrozenClock) -> None:
    paged(server)
    server.add("GET", "/2/users/783214/mentions", rec("search_empty"))
    polled = poll(server, clock, mentions_user_id="783214")
    assert "1874000000000000004" not in [r["external_id"] for r in polled.records], "bob's own"
    assert len(polled.records) == 2


def test_429_with_only_retry_after(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", SEARCH, rec("error_429"), status=429, headers={"Retry-After": "42"})
    with pytest.raises(RateLimitedError) as limited:
        poll(server, clock)
    assert limited.value.retry_after == 42.0


def test_an_answer_to_our_reply_threads_under_the_conversations_root(
    server: Replay, clock: FrozenClock
) -> None:
    answer = rec("mentions")
    tweet = answer["data"][0]
    tweet["referenced_tweets"] = [{"type": "replied_to", "id": "1874000000000000099"}]  # ours
    tweet["conversation_id"] = "1874000000000000002"  # ana's tweet we answered
    server.add("GET", MENTIONS, answer)
    polled = poll(server, clock, query=None, mentions_user_id="1500000000000000001")
    assert polled.records[0]["in_reply_to"] == "1874000000000000002"
    other = rec("mentions")
    other["data"][0]["in_reply_to_user_id"] = "783214"  # a reply to someone else: kept as is
    other["data"][0]["conversation_id"] = "1874000000000000002"
    server.replace("GET", MENTIONS, other)
    polled = poll(server, clock, query=None, mentions_user_id="1500000000000000001")
    assert polled.records[0]["in_reply_to"] == "1873000000000000100"
