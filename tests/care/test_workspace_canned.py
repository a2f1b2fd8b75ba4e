"""Canned replies with shortcodes: the team's and each agent's own, expanded in the reply
box, several per message."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clameur.care.canned import (
    add_canned_reply,
    expand_shortcodes,
    list_canned_replies,
    render_canned_reply,
)
from clameur.care.models import CannedReply
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.errors import AlreadyExistsError, ForbiddenError, InvalidInputError, NotFoundError
from clameur.tenancy import add_brand, get_tenant
from clameur.tenancy.models import AuditEntry
from tests.care.test_replies import World, make_conversation, make_world
from tests.conftest import Database
from tests.factories import acting, member


def _setup(db: Database, clock: FrozenClock) -> tuple[World, int, int]:
    """The world, a second agent, and a conversation of the brand (customer "Ana Lopez")."""
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        other = member(session, clock, "zoe@acme.example", world.tenant_id, "agent", name="Zoe")
        conversation = make_conversation(
            session, world.tenant_id, "ana_l", name="Ana Lopez", brand_id=world.brand_id
        )
        boss = acting(session, world.supervisor, world.tenant_id)
        add_canned_reply(
            session,
            clock,
            boss,
            name="Refund",
            text="Hello {name}, your refund is on its way. {agent}, {brand}",
            lang="en",
            shortcode="refund",
        )
        add_canned_reply(
            session, clock, boss, name="Bye", text="Have a good day!", lang="en", shortcode="bye"
        )
        agent = acting(session, world.agent, world.tenant_id)
        add_canned_reply(
            session,
            clock,
            agent,
            name="My bye",
            text="Cheers, {handle}!",
            lang="en",
            shortcode="bye",
            personal=True,
        )
        add_canned_reply(
            session,
            clock,
            acting(session, other.id, world.tenant_id),
            name="Zoe's own",
            text="Zoe here.",
            lang="en",
            shortcode="zoe",
            personal=True,
        )
        return world, other.id, conversation.id


def test_an_agent_adds_their_own_but_not_the_teams(db: Database, clock: FrozenClock) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        mine = add_canned_reply(
            session, clock, agent, name="Mine", text="Hi", lang="en", shortcode="/Hi", personal=True
        )
        assert (mine.owner_id, mine.shortcode) == (world.agent, "hi")
        with pytest.raises(ForbiddenError, match="canned.manage"):
            add_canned_reply(session, clock, agent, name="Team", text="Hi", lang="en")
        viewer = acting(session, world.viewer, world.tenant_id)
        with pytest.raises(ForbiddenError, match="replies.write"):
            add_canned_reply(session, clock, viewer, name="V", text="Hi", lang="en", personal=True)
        boss = acting(session, world.supervisor, world.tenant_id)
        team = add_canned_reply(
            session, clock, boss, name="Team", text="Hi", lang="en", shortcode="hi"
        )
        assert team.owner_id is None, "the same shortcode: one agent's and the team's may share it"
        with pytest.raises(AlreadyExistsError, match="/hi"):
            add_canned_reply(
                session, clock, boss, name="Again", text="Yo", lang="en", shortcode="hi"
            )
        with pytest.raises(AlreadyExistsError, match="your own"):
            add_canned_reply(
                session,
                clock,
                agent,
                name="Mine 2",
                text="Yo",
                lang="en",
                shortcode="hi",
                personal=True,
            )
        for bad in ("", "with space", "x" * 33, "émoji", "a/b"):
            with pytest.raises(InvalidInputError, match="shortcode"):
                add_canned_reply(
                    session, clock, boss, name="Bad", text="Yo", lang="en", shortcode=bad
                )
        audited = session.scalars(
            select(AuditEntry.data).where(AuditEntry.action == "canned.add")
        ).all()
        assert [(a["shortcode"], a["personal"]) for a in audited] == [("hi", True), ("hi", False)]


def test_each_agent_sees_the_teams_and_their_own(db: Database, clock: FrozenClock) -> None:
    world, zoe, _ = _setup(db, clock)
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        mine = list_canned_replies(session, agent)
        assert [(c.name, c.owner_id is None) for c in mine] == [
            ("My bye", False),
            ("Bye", True),
            ("Refund", True),
        ]
        theirs = list_canned_replies(session, acting(session, zoe, world.tenant_id), lang="en")
        assert [c.name for c in theirs] == ["Zoe's own", "Bye", "Refund"]
        background = list_canned_replies(session, world.tenant_id)
        assert [c.name for c in background] == ["Bye", "Refund"], "the team's only"
        with pytest.raises(ForbiddenError):
            list_canned_replies(session, acting(session, world.viewer, world.tenant_id))


def test_shortcodes_expand_at_the_cursor_several_per_message(
    db: Database, clock: FrozenClock
) -> None:
    world, zoe, conversation_id = _setup(db, clock)
    with session_scope(db.factory) as session:
        agent = acting(session, world.agent, world.tenant_id)
        text = expand_shortcodes(
            session,
            agent,
            conversation_id,
            "/refund\nAnything else? /bye /zoe /nope http://x/refund",
        )
        assert text == (
            "Hello Ana Lopez, your refund is on its way. Agent, Volta\n"
            "Anything else? Cheers, ana_l! /zoe /nope http://x/refund"
        ), "one's own /bye wins; a colleague's own and unknown ones stay as typed"
        assert (
            expand_shortcodes(session, agent, conversation_id, "Thanks!/bye (/bye), /BYE.")
            == "Thanks!/bye (/bye), Cheers, ana_l!."
        ), "after white space only; punctuation ends a shortcode"
        other = expand_shortcodes(
            session, acting(session, zoe, world.tenant_id), conversation_id, "/bye /zoe"
        )
        assert other == "Have a good day! Zoe here."
        assert expand_shortcodes(session, agent, conversation_id, "no codes") == "no codes"


def test_an_inserted_text_is_not_expanded_again_and_values_stay_verbatim(
    db: Database, clock: FrozenClock
) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        conversation = make_conversation(
            session, world.tenant_id, "evil", name="/loop {agent}", brand_id=world.brand_id
        )
        boss = acting(session, world.supervisor, world.tenant_id)
        add_canned_reply(
            session, clock, boss, name="Loop", text="Hi {name} /loop", lang="en", shortcode="loop"
        )
        agent = acting(session, world.agent, world.tenant_id)
        assert (
            expand_shortcodes(session, agent, conversation.id, "/loop") == "Hi /loop {agent} /loop"
        )


def test_a_brands_canned_reply_expands_only_in_that_brands_conversations(
    db: Database, clock: FrozenClock
) -> None:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        tenant = get_tenant(session, "acme")
        other_brand = add_brand(session, clock, tenant, "ohm", "Ohm", ["ohm"])
        boss = acting(session, world.supervisor, world.tenant_id)
        add_canned_reply(
            session,
            clock,
            boss,
            name="Ohm",
            text="Ohm here",
            lang="en",
            brand_id=other_brand.id,
            shortcode="ohm",
        )
        add_canned_reply(
            session, clock, boss, name="Bad", text="Hi {order}", lang="en", shortcode="order"
        )
        volta = make_conversation(session, world.tenant_id, "v", brand_id=world.brand_id)
        ohm = make_conversation(session, world.tenant_id, "o", brand_id=other_brand.id)
        agent = acting(session, world.agent, world.tenant_id)
        assert expand_shortcodes(session, agent, volta.id, "/ohm") == "/ohm"
        assert expand_shortcodes(session, agent, ohm.id, "/ohm") == "Ohm here"
        with pytest.raises(InvalidInputError, match=r"/order: unknown variable \{order\}"):
            expand_shortcodes(session, agent, volta.id, "/order")


def test_expansion_is_scoped_to_the_actors_tenant(db: Database, clock: FrozenClock) -> None:
    world, _, conversation_id = _setup(db, clock)
    other = make_world(db, clock, "globex")
    with session_scope(db.factory) as session:
        stranger = acting(session, other.agent, other.tenant_id)
        with pytest.raises(NotFoundError):
            expand_shortcodes(session, stranger, conversation_id, "/refund")
        theirs = make_conversation(session, other.tenant_id, "g")
        assert expand_shortcodes(session, stranger, theirs.id, "/refund") == "/refund"
        viewer = acting(session, world.viewer, world.tenant_id)
        with pytest.raises(ForbiddenError):
            expand_shortcodes(session, viewer, conversation_id, "/refund")
        refund = session.scalars(select(CannedReply).where(CannedReply.shortcode == "refund")).one()
        rendered = render_canned_reply(
            session, world.tenant_id, refund.id, {"name": "A", "agent": "B", "brand": "C"}
        )
        assert rendered == "Hello A, your refund is on its way. B, C"
