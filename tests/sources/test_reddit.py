"""The Reddit connector (PRAW) against a loopback server replaying recorded API answers:
subreddits' new posts and comments, search, cursors, an edited post, malformed items,
rate limits, refused credentials, server errors, the SSRF rule, replies and removal —
then end to end through the poller and the outbox on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
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
from clameur.care.replies import draft_reply, send_reply
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.core import relay
from clameur.db import session_scope
from clameur.mentions.models import Mention
from clameur.mentions.schemas import normalise
from clameur.pipeline import Pipeline
from clameur.sources.base import (
    PollContext,
    RateLimitedError,
    SourceConfig,
    SourceError,
    TransientSourceError,
)
from clameur.sources.channels import channels_with_sources
from clameur.sources.reddit import RedditConnector
from clameur.sources.service import add_source
from tests.care.test_replies import make_world
from tests.conftest import Database
from tests.factories import acting
from tests.sources.helpers import poller, source_row
from tests.sources.replay_server import Replay, recording, serve_replay

OPEN = Settings(allow_private_fetch=True)
SECRETS = {
    "client_id": "p-jcoLKBynTLew",
    "client_secret": "gko_LXELoV07ZBNUXrvWZfzE3aI",
    "username": "volta_official",
    "password": "s3cret-pass",
}
TOKEN = "/api/v1/access_token"
NEW, COMMENTS = "/r/Volta/new", "/r/Volta/comments"
AUTH = {"WWW-Authenticate": 'Bearer realm="reddit", error="invalid_token"'}


def rec(name: str) -> Any:
    return recording("reddit", name)


@pytest.fixture
def server() -> Iterator[Replay]:
    for replay in serve_replay():
        replay.add("POST", TOKEN, rec("access_token"))
        yield replay


def config(server: Replay, **options: Any) -> SourceConfig:
    return SourceConfig(
        id=1,
        tenant_id=1,
        kind="reddit",
        name="volta-reddit",
        url=server.url,
        source="reddit",
        options=options or {"subreddits": ["Volta"], "comments": False},
        secrets=SECRETS,
    )


def poll(server: Replay, clock: FrozenClock, cursor: Any = None, **kw: Any) -> Any:
    settings = kw.pop("settings", OPEN)
    return RedditConnector().poll(config(server, **kw), cursor, PollContext(settings, clock))


def test_the_first_poll_turns_new_posts_and_comments_into_records(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", NEW, rec("new_volta"))
    server.add("GET", COMMENTS, rec("comments_volta"))
    polled = poll(server, clock, subreddits=["r/Volta"])
    assert polled.problems == []
    ids = [r["external_id"] for r in polled.records]
    assert ids == ["t3_1h8abc", "t1_m1x001", "t1_m1x002", "t3_1h8abd"], "oldest first"
    for record in polled.records:
        normalise(record)
    post, comment, answer, _ = polled.records
    assert post["source"] == "reddit"
    assert post["text"] == (
        "La batterie de ma Volta\n\nElle tient **deux jours** au lieu d'une semaine. Normal ?"
    )
    assert post["author"] == {
        "handle": "zoe_rides",
        "url": "https://www.reddit.com/user/zoe_rides",
    }
    assert post["created_at"] == "2029-12-31T09:00:00+00:00"
    assert post["url"] == "https://www.reddit.com/r/Volta/comments/1h8abc/la_batterie_de_ma_volta/"
    assert post["subreddit"] == "Volta"
    assert post["metrics"] == {"likes": 14, "replies": 2}
    assert "in_reply_to" not in post
    assert comment["in_reply_to"] == "t3_1h8abc"
    assert answer["in_reply_to"] == "t1_m1x001"
    assert comment["text"] == "Précision : c'est une Volta S2 achetée en mai."
    assert polled.cursor["streams"]["new:Volta"] == {
        "fullname": "t3_1h8abd",
        "created_utc": 1893403800.0,
    }
    token = server.last("POST", TOKEN)
    assert token.form()["grant_type"] == ["password"]
    assert token.form()["username"] == ["volta_official"]
    basic = base64.b64encode(b"p-jcoLKBynTLew:gko_LXELoV07ZBNUXrvWZfzE3aI").decode()
    assert token.headers["authorization"] == f"Basic {basic}"
    listing = server.last("GET", NEW)
    assert listing.headers["authorization"].startswith("bearer eyJ")
    assert listing.headers["user-agent"].startswith("clameur:community-center:0.1")
    assert (listing.param("limit"), listing.param("before")) == ("100", None)


def test_the_next_poll_asks_before_the_newest_and_reports_malformed_items(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", NEW, rec("new_volta"))
    first = poll(server, clock)
    server.replace("GET", NEW, rec("new_volta_newer"))
    later = poll(server, clock, first.cursor)
    assert server.last("GET", NEW).param("before") == "t3_1h8abd"
    assert [r["external_id"] for r in later.records] == ["t3_1h8abf"]
    problems = sorted(f"{p.where}: {p.reason}" for p in later.problems)
    assert problems == [
        "new:Volta item 1 (t3_1h8abg): t3_1h8abg: created_utc is not a time ('hier')",
        "new:Volta item 2: no fullname (name): cannot tell it from others",
    ]
    assert later.cursor["streams"]["new:Volta"]["fullname"] == "t3_1h8abf"


def test_an_empty_answer_before_a_deleted_anchor_is_checked_by_time(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", NEW, rec("empty"), query={"before": "t3_gone00"})
    server.add("GET", NEW, rec("new_volta"))
    cursor = {"streams": {"new:Volta": {"fullname": "t3_gone00", "created_utc": 1893403000.0}}}
    polled = poll(server, clock, cursor)
    assert [r["external_id"] for r in polled.records] == ["t3_1h8abd"], "newer than the anchor"
    assert [r.param("before") for r in server.seen("GET", NEW)] == ["t3_gone00", None]


def test_an_answer_to_our_comment_threads_under_what_we_answered(
    server: Replay, clock: FrozenClock
) -> None:
    server.add("GET", NEW, rec("empty"))
    server.add("GET", COMMENTS, rec("comments_answer"))
    server.add("GET", "/api/info", rec("info_ours"))
    polled = poll(server, clock, subreddits=["Volta"], comments=True)
    [record] = polled.records
    assert record["external_id"] == "t1_m1x101"
    assert record["in_reply_to"] == "t1_m1x001", "Zoé's comment we answered, a stored mention"
    assert record["answers_our_comment"] == "t1_m1x0ff"
    assert server.last("GET", "/api/info").param("id") == "t1_m1x0ff"
    server.replace("GET", "/api/info", rec("error_500"), status=500)
    kept = poll(server, clock, subreddits=["Volta"], comments=True)
    assert kept.records[0]["in_reply_to"] == "t1_m1x0ff", "kept as it came"
    assert [p.where for p in kept.problems] == ["parents"]


def test_search_and_an_edited_post(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", "/search", rec("search_volta"))
    polled = poll(server, clock, search=["volta batterie"])
    [record] = polled.records
    assert record["external_id"] == "t3_1h8abc"
    assert record["text"].endswith("EDIT : le SAV m'a rappelée.")
    assert record["edited_at"] == "2029-12-31T10:30:00+00:00"
    asked = server.last("GET", "/search")
    assert (asked.param("q"), asked.param("sort"), asked.param("type")) == (
        "volta batterie",
        "new",
        "link",
    )


def test_429_is_rate_limited_with_retry_after(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", NEW, rec("error_429"), status=429, headers={"Retry-After": "42"})
    with pytest.raises(RateLimitedError) as limited:
        poll(server, clock)
    assert limited.value.retry_after == 42.0


def test_a_spent_request_budget_stops_the_poll_instead_of_sleeping(
    server: Replay, clock: FrozenClock
) -> None:
    spent = {"x-ratelimit-used": "600", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "300"}
    server.add("GET", NEW, rec("new_volta"), headers=spent)
    server.add("GET", COMMENTS, rec("comments_volta"))
    with pytest.raises(RateLimitedError) as limited:
        poll(server, clock, subreddits=["Volta"], comments=True)
    assert limited.value.retry_after is not None
    assert 290 < limited.value.retry_after <= 300
    assert server.seen("GET", COMMENTS) == [], "the next request was not sent"


def test_refused_credentials_are_clear_errors(server: Replay, clock: FrozenClock) -> None:
    server.replace("POST", TOKEN, rec("access_token_invalid_grant"))
    with pytest.raises(SourceError) as refused:
        poll(server, clock)
    assert "Reddit refused the login (invalid_grant" in str(refused.value)
    assert "s3cret-pass" not in str(refused.value)
    server.replace("POST", TOKEN, rec("error_401"), status=401)
    with pytest.raises(SourceError, match="client_id or client_secret wrong"):
        poll(server, clock)
    server.replace("POST", TOKEN, rec("access_token"))
    server.add("GET", NEW, rec("error_401"), status=401, headers=AUTH)
    with pytest.raises(SourceError) as revoked:
        poll(server, clock)
    assert not isinstance(revoked.value, TransientSourceError)
    assert "Reddit refused the token (InvalidToken: revoked" in str(revoked.value)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient_without_sleeping_retries(
    server: Replay, clock: FrozenClock, status: int
) -> None:
    server.add("GET", NEW, rec("error_500"), status=status)
    with pytest.raises(TransientSourceError, match=f"server error {status}"):
        poll(server, clock)
    assert len(server.seen("GET", NEW)) == 1, "PRAW's own (sleeping) retries are off"


def test_the_loopback_endpoint_is_refused_by_default(server: Replay, clock: FrozenClock) -> None:
    with pytest.raises(SourceError) as refused:
        poll(server, clock, settings=Settings())
    assert "127.0.0.1 is a loopback" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)
    with pytest.raises(PermanentChannelError, match="CLAMEUR_ALLOW_PRIVATE_FETCH"):
        RedditConnector().channel(config(server), Settings()).publish(outgoing())
    assert server.requests == [], "refused before any request"


def outgoing(**kw: Any) -> OutgoingReply:
    values: dict[str, Any] = {
        "reply_id": 11,
        "tenant_id": 1,
        "conversation_id": 3,
        "source": "reddit",
        "text": "Bonjour, nous vous envoyons une batterie neuve.",
        "visibility": "public",
        "in_reply_to": "t1_m1x001",
        "recipient_handle": "zoe_rides",
    }
    return OutgoingReply(**{**values, **kw})


def test_a_reply_is_a_comment_on_the_parent(server: Replay) -> None:
    server.add("POST", "/api/comment", rec("comment_posted"))
    channel = RedditConnector().channel(config(server), OPEN)
    assert channel.publish(outgoing()) == "t1_m1x0ff"
    posted = server.last("POST", "/api/comment")
    form = posted.form()
    assert form["thing_id"] == ["t1_m1x001"]
    assert form["text"] == ["Bonjour, nous vous envoyons une batterie neuve."]
    assert posted.headers["authorization"].startswith("bearer ")
    channel.publish(outgoing(in_reply_to="t3_1h8abc"))
    assert server.last("POST", "/api/comment").form()["thing_id"] == ["t3_1h8abc"]


def test_publishing_refusals_retries_and_removal(server: Replay) -> None:
    channel = RedditConnector().channel(config(server), OPEN)
    with pytest.raises(PermanentChannelError, match="public only"):
        channel.publish(outgoing(visibility="private"))
    server.add("POST", "/api/comment", rec("comment_deleted"))
    with pytest.raises(PermanentChannelError, match="DELETED_COMMENT"):
        channel.publish(outgoing())
    server.replace("POST", "/api/comment", rec("comment_ratelimit"))
    with pytest.raises(ChannelError) as later:
        channel.publish(outgoing())
    assert not isinstance(later.value, PermanentChannelError), "RATELIMIT is retried"
    server.replace("POST", "/api/comment", rec("error_403"), status=403)
    with pytest.raises(PermanentChannelError, match="403"):
        channel.publish(outgoing())
    server.replace("POST", "/api/comment", rec("error_500"), status=500)
    with pytest.raises(ChannelError) as retried:
        channel.publish(outgoing())
    assert not isinstance(retried.value, PermanentChannelError)

    server.add("POST", "/api/remove", rec("remove"))
    hide = ModerationRequest(1, 5, "reddit", "t1_m1x002", "hide")
    channel.moderate(hide)
    assert server.last("POST", "/api/remove").form()["id"] == ["t1_m1x002"]
    with pytest.raises(PermanentChannelError, match="cannot delete"):
        channel.moderate(ModerationRequest(1, 5, "reddit", "t1_m1x002", "delete"))


# -- end to end -------------------------------------------------------------------------


def test_polled_items_are_stored_threaded_and_answered_through_the_outbox(
    db: Database, pipeline: Pipeline, clock: FrozenClock, server: Replay
) -> None:
    world = make_world(db, clock)
    server.add("GET", NEW, rec("new_volta"))
    server.add("GET", COMMENTS, rec("comments_volta"))
    with session_scope(db.factory) as session:
        source_id = add_source(
            session, clock, tenant_id=world.tenant_id, kind="reddit", url=server.url,
            options={"subreddits": ["Volta"]}, secrets=SECRETS,
        ).id  # fmt: skip
    outcome = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert outcome is not None
    assert outcome.status == "ok", outcome
    assert outcome.counts["imported"] == 4
    cursor = source_row(db, source_id).cursor
    assert cursor is not None
    assert set(cursor["streams"]) == {"new:Volta", "comments:Volta"}
    with session_scope(db.factory) as session:
        rows = {m.external_id: m for m in session.scalars(select(Mention))}
        assert rows["t3_1h8abc"].brand_set == str(world.brand_id), "matched to the brand"
        conversation = rows["t3_1h8abc"].conversation_id
        assert conversation is not None
        assert rows["t1_m1x001"].in_reply_to == "t3_1h8abc"
        assert rows["t1_m1x001"].conversation_id == conversation, "Zoé's thread"
        assert rows["t1_m1x002"].in_reply_to == "t1_m1x001"

    registry = channels_with_sources(db.factory, OPEN)
    server.add("POST", "/api/comment", rec("comment_posted"))
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        reply = draft_reply(session, clock, agent, conversation, "Une batterie part demain.",
                            channels=registry)  # fmt: skip
        send_reply(session, clock, agent, reply.id, channels=registry)
    handlers = reply_handlers(db.factory, OPEN, clock=clock, channels=registry)
    assert relay(db.factory, clock, handlers) == 1
    form = server.last("POST", "/api/comment").form()
    assert form["thing_id"] == ["t1_m1x001"], "the conversation's latest mention"
    assert form["text"] == ["Une batterie part demain."]
