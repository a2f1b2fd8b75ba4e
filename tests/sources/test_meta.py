"""The Facebook Pages and Instagram connectors (Graph API) against a loopback server
replaying recorded answers: posts, comments and replies threaded, tagged posts, pages,
the seen-ids cursor, malformed items, Graph's rate-limit and token errors, the SSRF rule,
replies and moderation — then end to end through the poller on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from clameur.care.channels import (
    ChannelError,
    ModerationRequest,
    OutgoingReply,
    PermanentChannelError,
)
from clameur.clock import FrozenClock
from clameur.config import Settings
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
from clameur.sources.meta import FacebookConnector, InstagramConnector
from clameur.sources.service import add_source
from tests.care.test_replies import make_world
from tests.conftest import Database
from tests.sources.helpers import poller
from tests.sources.replay_server import Replay, recording, serve_replay

OPEN = Settings(allow_private_fetch=True)
TOKEN = "EAAGpagetoken0123456789"
PAGE = "104938291"
IG = "17841400008460056"
FEED = f"/v19.0/{PAGE}/feed"
TAGGED = f"/v19.0/{PAGE}/tagged"
MEDIA = f"/v19.0/{IG}/media"
TAGS = f"/v19.0/{IG}/tags"


def rec(name: str) -> Any:
    return recording("meta", name)


@pytest.fixture
def server() -> Iterator[Replay]:
    yield from serve_replay()


def fb_config(server: Replay, **kw: Any) -> SourceConfig:
    return SourceConfig(
        id=1, tenant_id=1, kind="facebook", name="volta-fb", url=None, source="facebook",
        options={"page_id": PAGE, "base_url": server.url, **kw}, secrets={"access_token": TOKEN},
    )  # fmt: skip


def ig_config(server: Replay, **kw: Any) -> SourceConfig:
    return SourceConfig(
        id=2, tenant_id=1, kind="instagram", name="volta-ig", url=None, source="instagram",
        options={"ig_user_id": IG, "base_url": server.url, **kw}, secrets={"access_token": TOKEN},
    )  # fmt: skip


def fb_poll(server: Replay, clock: FrozenClock, cursor: Any = None, **kw: Any) -> Polled:
    settings = kw.pop("settings", OPEN)
    return FacebookConnector().poll(fb_config(server, **kw), cursor, PollContext(settings, clock))


def facebook(server: Replay) -> None:
    server.add("GET", FEED, rec("fb_feed_page2"), query={"after": "QVFIUmZAfeed1after"})
    server.add("GET", FEED, rec("fb_feed_page1"))
    server.add("GET", TAGGED, rec("fb_tagged"))


def test_facebook_comments_visitor_and_tagged_posts(server: Replay, clock: FrozenClock) -> None:
    facebook(server)
    polled = fb_poll(server, clock)
    by_id = {r["external_id"]: r for r in polled.records}
    assert sorted(by_id) == [
        f"{PAGE}_122050", "122101_9001", "122101_9003", "6012345002_778899",
    ], "the Page's own post and reply are not mentions"  # fmt: skip
    for record in polled.records:
        normalise(record)
    ana = by_id["122101_9001"]
    assert ana["source"] == "facebook"
    assert ana["text"] == "Et toujours pas de chargeur pour ma Volta S2…"
    assert ana["created_at"] == "2029-12-31T09:00:00+0000"
    assert ana["author"] == {"handle": "6012345001", "name": "Ana Martin"}
    assert ana["in_reply_to"] == f"{PAGE}_122101", "a comment answers its post"
    assert ana["url"] == f"https://www.facebook.com/{PAGE}/posts/122101?comment_id=9001"
    assert by_id["122101_9003"]["in_reply_to"] == "122101_9001", "a reply answers its parent"
    assert "in_reply_to" not in by_id[f"{PAGE}_122050"]
    (problem,) = polled.problems
    assert problem.where == f"feed page 2 post 2 ({PAGE}_122040)"
    assert "no message" in problem.reason
    assert polled.cursor is not None
    assert set(polled.cursor["seen"]) == set(by_id)
    first, second = server.seen("GET", FEED)
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert "access_token" not in first.query
    assert (
        "comments.order(reverse_chronological).limit(100){id,message,created_time,from,parent"
        in (first.param("fields") or "")
    )
    assert second.param("after") == "QVFIUmZAfeed1after"


def test_the_next_poll_returns_only_new_comments(server: Replay, clock: FrozenClock) -> None:
    facebook(server)
    first = fb_poll(server, clock)
    page1 = rec("fb_feed_page1")
    page1["data"][0]["comments"]["data"].append({
        "id": "122101_9010", "message": "Bon, le SAV Volta m'a rappelé", "from":
        {"name": "Ana Martin", "id": "6012345001"}, "created_time": "2030-01-01T11:00:00+0000",
    })  # fmt: skip
    server.replace("GET", FEED, page1)
    server.add("GET", FEED, rec("fb_feed_page2"), query={"after": "QVFIUmZAfeed1after"}, first=True)
    page1["data"][0]["comments"]["data"].append({
        "id": "122101_9011", "message": "Volta, répondez !", "created_time":
        "2030-01-01T11:05:00+0000",
    })  # fmt: skip
    later = fb_poll(server, clock, first.cursor)
    assert [r["external_id"] for r in later.records] == ["122101_9010", "122101_9011"]
    assert later.records[1]["author"] == {"handle": "unknown:122101_9011"}, "never shared"
    assert later.cursor is not None
    assert "122101_9010" in later.cursor["seen"]


def test_graph_errors_are_typed(server: Replay, clock: FrozenClock) -> None:
    usage = {PAGE: [{"type": "pages", "call_count": 100, "total_cputime": 12, "total_time": 20,
                     "estimated_time_to_regain_access": 5}]}  # fmt: skip
    server.add("GET", FEED, rec("error_80001"), status=400,
               headers={"X-Business-Use-Case-Usage": json.dumps(usage)})  # fmt: skip
    with pytest.raises(RateLimitedError) as limited:
        fb_poll(server, clock)
    assert limited.value.retry_after == 300.0
    assert "Graph error 80001" in str(limited.value)
    server.replace("GET", FEED, rec("error_4"), status=403, headers={"Retry-After": "60"})
    with pytest.raises(RateLimitedError, match="Application request limit") as app_limit:
        fb_poll(server, clock)
    assert app_limit.value.retry_after == 60.0
    server.replace("GET", FEED, rec("error_190"), status=400)
    with pytest.raises(SourceError) as expired:
        fb_poll(server, clock)
    assert not isinstance(expired.value, TransientSourceError)
    assert "access token has expired or was revoked" in str(expired.value)
    assert "Graph error 190, subcode 463" in str(expired.value)
    assert TOKEN not in str(expired.value)
    server.replace("GET", FEED, rec("error_200"), status=403)
    with pytest.raises(SourceError, match="lacks a permission"):
        fb_poll(server, clock)
    server.replace("GET", FEED, rec("error_2"), status=500)
    with pytest.raises(TransientSourceError, match="HTTP 500"):
        fb_poll(server, clock)


def test_the_loopback_api_is_refused_by_default(server: Replay, clock: FrozenClock) -> None:
    with pytest.raises(SourceError) as refused:
        fb_poll(server, clock, settings=Settings())
    assert "127.0.0.1 is a loopback" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)
    with pytest.raises(PermanentChannelError, match="CLAMEUR_ALLOW_PRIVATE_FETCH"):
        FacebookConnector().channel(fb_config(server), Settings()).publish(outgoing())
    assert server.requests == []


def test_instagram_comments_replies_and_tags(server: Replay, clock: FrozenClock) -> None:
    server.add("GET", MEDIA, rec("ig_media"))
    server.add("GET", TAGS, rec("ig_tags"))
    connector = InstagramConnector()
    polled = connector.poll(ig_config(server), None, PollContext(OPEN, clock))
    by_id = {r["external_id"]: r for r in polled.records}
    assert sorted(by_id) == ["17858893269000001", "17858893269000003", "17900011122233344"]
    for record in polled.records:
        normalise(record)
    ana = by_id["17858893269000001"]
    assert ana["source"] == "instagram"
    assert ana["author"] == {"handle": "ana.roule", "url": "https://www.instagram.com/ana.roule/"}
    assert ana["in_reply_to"] == "17895695668004550", "the media"
    assert ana["url"] == "https://www.instagram.com/p/C1a2b3c4d5e/"
    assert by_id["17858893269000003"]["in_reply_to"] == "17858893269000001"
    assert by_id["17900011122233344"]["text"] == "Balade en Volta avec @volta_fr ☀️"
    (problem,) = polled.problems
    assert problem.where == "media page 1 item 1 (17895695668004550) comment 2"
    assert "no text" in problem.reason
    fields = server.last("GET", MEDIA).param("fields") or ""
    assert "replies{id,text,timestamp,username" in fields
    server.replace("GET", MEDIA, rec("error_190"), status=400)
    with pytest.raises(SourceError, match="expired or was revoked"):
        connector.poll(ig_config(server), None, PollContext(OPEN, clock))


def outgoing(**kw: Any) -> OutgoingReply:
    values: dict[str, Any] = {
        "reply_id": 7, "tenant_id": 1, "conversation_id": 3, "source": "facebook",
        "text": "Bonjour Ana, nous vous envoyons un chargeur.", "visibility": "public",
        "in_reply_to": "122101_9001", "recipient_handle": "6012345001",
    }  # fmt: skip
    return OutgoingReply(**{**values, **kw})


def moderation(external_id: str, action: str, source: str = "facebook") -> ModerationRequest:
    return ModerationRequest(
        tenant_id=1, mention_id=9, source=source, external_id=external_id, action=action
    )


def test_facebook_reply_hide_and_delete(server: Replay) -> None:
    server.add("POST", "/v19.0/122101_9001/comments", rec("fb_comment_posted"))
    server.add("POST", "/v19.0/122101_9003", rec("success"))
    server.add("DELETE", "/v19.0/122101_9003", rec("success"))
    channel = FacebookConnector().channel(fb_config(server), OPEN)
    assert channel.publish(outgoing()) == "122101_9099"
    posted = server.last("POST", "/v19.0/122101_9001/comments")
    assert posted.form() == {"message": ["Bonjour Ana, nous vous envoyons un chargeur."]}
    assert posted.headers["authorization"] == f"Bearer {TOKEN}"
    channel.moderate(moderation("122101_9003", "hide"))
    assert server.last("POST", "/v19.0/122101_9003").form() == {"is_hidden": ["true"]}
    channel.moderate(moderation("122101_9003", "delete"))
    assert server.last("DELETE", "/v19.0/122101_9003").headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(PermanentChannelError):
        channel.moderate(moderation("122101_9003", "label"))


def test_a_reply_to_a_gone_comment_fails_for_good_and_a_rate_limit_is_retried(
    server: Replay,
) -> None:
    channel = FacebookConnector().channel(fb_config(server), OPEN)
    server.add("POST", "/v19.0/122101_9001/comments", rec("error_100"), status=400)
    with pytest.raises(PermanentChannelError, match="does not exist"):
        channel.publish(outgoing())
    server.replace("POST", "/v19.0/122101_9001/comments", rec("error_4"), status=403)
    with pytest.raises(ChannelError) as retried:
        channel.publish(outgoing())
    assert not isinstance(retried.value, PermanentChannelError)


def test_instagram_reply_hide_and_delete(server: Replay) -> None:
    server.add("POST", "/v19.0/17858893269000001/replies", rec("ig_reply_posted"))
    server.add("POST", "/v19.0/17858893269000003", rec("success"))
    server.add("DELETE", "/v19.0/17858893269000003", rec("success"))
    channel = InstagramConnector().channel(ig_config(server), OPEN)
    reply = outgoing(source="instagram", in_reply_to="17858893269000001", text="Merci Ana !")
    assert channel.publish(reply) == "17858893269000099"
    assert server.last("POST", "/v19.0/17858893269000001/replies").form() == {
        "message": ["Merci Ana !"]
    }
    channel.moderate(moderation("17858893269000003", "hide", "instagram"))
    assert server.last("POST", "/v19.0/17858893269000003").form() == {"hide": ["true"]}
    channel.moderate(moderation("17858893269000003", "delete", "instagram"))
    assert len(server.seen("DELETE", "/v19.0/17858893269000003")) == 1


def test_facebook_comments_are_stored_threaded_and_matched(
    db: Database, pipeline: Pipeline, clock: FrozenClock, server: Replay
) -> None:
    world = make_world(db, clock)
    facebook(server)
    with session_scope(db.factory) as session:
        source_id = add_source(
            session, clock, tenant_id=world.tenant_id, kind="facebook",
            options={"page_id": PAGE, "base_url": server.url}, secrets={"access_token": TOKEN},
        ).id  # fmt: skip
    outcome = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert outcome is not None
    assert outcome.status == "ok", outcome
    assert outcome.counts["imported"] == 4
    with session_scope(db.factory) as session:
        rows = {m.external_id: m for m in session.scalars(select(Mention))}
        ana = rows["122101_9001"]
        assert ana.source == "facebook"
        assert ana.brand_set == str(world.brand_id), "matched to the brand"
        assert rows["122101_9003"].in_reply_to == "122101_9001"
    again = poller(db, pipeline, clock, settings=OPEN).poll_source(source_id)
    assert again is not None
    assert again.counts["imported"] == 0


def test_instagram_follows_the_pages_up_to_max_pages(server: Replay, clock: FrozenClock) -> None:
    first = rec("ig_media")
    first["paging"]["next"] = f"https://graph.facebook.com/v19.0/{IG}/media?after=QVFIUmedia1after"
    second = rec("ig_media")
    second["data"][0]["id"] = "17895695668004500"
    second["data"][0]["comments"]["data"] = [{
        "id": "17858893269000050", "text": "Volta, une date pour la S3 ?", "username": "dan.v",
        "timestamp": "2029-12-29T08:00:00+0000",
    }]  # fmt: skip
    second["paging"]["next"] = f"https://graph.facebook.com/v19.0/{IG}/media?after=again"
    server.add("GET", MEDIA, second, query={"after": "QVFIUmedia1after"})
    server.add("GET", MEDIA, first)
    config = ig_config(server, tagged=False, max_pages=2)
    polled = InstagramConnector().poll(config, None, PollContext(OPEN, clock))
    assert "17858893269000050" in [r["external_id"] for r in polled.records]
    assert [s.param("after") for s in server.seen("GET", MEDIA)] == [None, "QVFIUmedia1after"]
    assert server.seen("GET", TAGS) == []
