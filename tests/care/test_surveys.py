"""CSAT/NPS surveys: signed links, one answer, tampered and expired tokens refused."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import select

from clameur.care.models import ConversationEvent, Survey
from clameur.care.surveys import (
    answer,
    make_token,
    read_token,
    send_survey,
    send_survey_automatically,
)
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clameur.tenancy import get_user
from tests.care.test_replies import make_conversation, make_world
from tests.conftest import Database
from tests.factories import acting

SETTINGS = Settings(
    survey_secret="s3cret-for-tests", survey_ttl_days=7, public_base_url="https://care.example.com/"
)


def _resolved(db: Database, clock: FrozenClock, status: str = "resolved") -> tuple[int, int]:
    world = make_world(db, clock)
    with session_scope(db.factory) as session:
        conversation = make_conversation(session, world.tenant_id, "zoe", status=status)
        return world.tenant_id, conversation.id


def test_a_survey_is_answered_once(db: Database, clock: FrozenClock) -> None:
    tenant_id, conversation_id = _resolved(db, clock)
    with session_scope(db.factory) as session:
        agent = get_user(session, "agent@acme.example").id
        link = send_survey(
            session, clock, SETTINGS, acting(session, agent, tenant_id), conversation_id, "csat"
        )
    assert link.url == f"https://care.example.com/survey/{link.token}"
    assert link.expires_at == clock.now() + timedelta(days=7)
    clock.advance(timedelta(days=2))
    with session_scope(db.factory) as session:
        survey = answer(session, clock, SETTINGS, link.token, 4, "  Quick and kind.  ")
        assert (survey.score, survey.comment, survey.answered_at) == (
            4,
            "Quick and kind.",
            clock.now(),
        )
    with session_scope(db.factory) as session, pytest.raises(AlreadyExistsError, match="already"):
        answer(session, clock, SETTINGS, link.token, 1, "changed my mind")
    with session_scope(db.factory) as session:
        stored = session.get(Survey, link.survey_id)
        assert stored is not None
        assert (stored.score, stored.comment) == (4, "Quick and kind.")
        kinds = session.execute(
            select(ConversationEvent.kind, ConversationEvent.actor_id).where(
                ConversationEvent.kind.like("survey%")
            )
        ).all()
        assert [tuple(k) for k in kinds] == [("survey_sent", agent), ("survey_answer", None)]
        with pytest.raises(AlreadyExistsError, match="already answered its csat survey"):
            send_survey_automatically(session, clock, SETTINGS, tenant_id, conversation_id, "csat")


def test_asking_again_before_an_answer_reuses_the_survey(db: Database, clock: FrozenClock) -> None:
    tenant_id, conversation_id = _resolved(db, clock, "closed")
    with session_scope(db.factory) as session:
        first = send_survey_automatically(
            session, clock, SETTINGS, tenant_id, conversation_id, "nps"
        )
        clock.advance(timedelta(days=1))
        second = send_survey_automatically(
            session, clock, SETTINGS, tenant_id, conversation_id, "nps"
        )
        assert second.survey_id == first.survey_id
        assert second.token != first.token
        assert session.scalars(select(Survey.id)).all() == [first.survey_id]
    with session_scope(db.factory) as session:
        assert answer(session, clock, SETTINGS, first.token, 0).score == 0  # both links valid


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def test_tampered_tokens_are_refused(db: Database, clock: FrozenClock) -> None:
    tenant_id, conversation_id = _resolved(db, clock)
    with session_scope(db.factory) as session:
        link = send_survey_automatically(
            session, clock, SETTINGS, tenant_id, conversation_id, "csat"
        )
    survey_id, expiry, signature = link.token.split(".")
    forged = [
        f"{int(survey_id) + 1}.{expiry}.{signature}",  # another survey
        f"{survey_id}.{int(expiry) + 86_400 * 365}.{signature}",  # a longer life
        f"{survey_id}.{expiry}.{_flip(signature, 5)}",
        f"{survey_id}.{expiry}.",
        f"{survey_id}.{expiry}",
        f"{survey_id}.{expiry}.{signature}.extra",
        f"-1.{expiry}.{signature}",
        f"{survey_id}.{expiry}.{signature[:-2]}",
        f"{survey_id}.{expiry}.{base64.urlsafe_b64encode(b'x' * 32).decode().rstrip('=')}",
        "",
        "٣.١٢.abc",  # non-ASCII digits
    ]
    for token in forged:
        with (
            session_scope(db.factory) as session,
            pytest.raises(InvalidInputError, match="survey link is invalid"),
        ):
            answer(session, clock, SETTINGS, token, 5)
    # the same token signed with another secret
    other = Settings(survey_secret="another")
    with session_scope(db.factory) as session, pytest.raises(InvalidInputError, match="invalid"):
        answer(session, clock, other, link.token, 5)
    with session_scope(db.factory) as session:
        stored = session.get(Survey, link.survey_id)
        assert stored is not None
        assert stored.answered_at is None


def test_expired_tokens_are_refused(db: Database, clock: FrozenClock) -> None:
    tenant_id, conversation_id = _resolved(db, clock)
    with session_scope(db.factory) as session:
        link = send_survey_automatically(
            session, clock, SETTINGS, tenant_id, conversation_id, "csat"
        )
    clock.advance(timedelta(days=7))
    with session_scope(db.factory) as session, pytest.raises(InvalidInputError, match="expired"):
        answer(session, clock, SETTINGS, link.token, 5)
    clock.advance(timedelta(seconds=-1))
    assert read_token(SETTINGS, link.token, clock.now()) == link.survey_id


@pytest.mark.parametrize(
    ("kind", "score"),
    [("csat", 0), ("csat", 6), ("nps", -1), ("nps", 11), ("csat", True), ("nps", 7.5)],
)
def test_scores_out_of_range_are_refused(
    db: Database, clock: FrozenClock, kind: str, score: object
) -> None:
    tenant_id, conversation_id = _resolved(db, clock)
    with session_scope(db.factory) as session:
        link = send_survey_automatically(session, clock, SETTINGS, tenant_id, conversation_id, kind)
    with session_scope(db.factory) as session, pytest.raises(InvalidInputError, match="score"):
        answer(session, clock, SETTINGS, link.token, score)  # type: ignore[arg-type]


def test_surveys_follow_resolution_and_need_a_secret(db: Database, clock: FrozenClock) -> None:
    tenant_id, conversation_id = _resolved(db, clock, "open")
    with session_scope(db.factory) as session:
        with pytest.raises(InvalidInputError, match="is open: a survey follows resolution"):
            send_survey_automatically(session, clock, SETTINGS, tenant_id, conversation_id, "csat")
        with pytest.raises(InvalidInputError, match="csat or nps"):
            send_survey_automatically(session, clock, SETTINGS, tenant_id, conversation_id, "ces")
        with pytest.raises(InvalidInputError, match="CLAMEUR_SURVEY_SECRET"):
            send_survey_automatically(
                session, clock, Settings(survey_secret=""), tenant_id, conversation_id, "csat"
            )
        with pytest.raises(NotFoundError):
            send_survey_automatically(
                session, clock, SETTINGS, tenant_id + 1, conversation_id, "csat"
            )
        # a genuine token for a survey that does not exist
        token = make_token(SETTINGS, 424242, clock.now() + timedelta(days=1))
        with pytest.raises(NotFoundError):
            answer(session, clock, SETTINGS, token, 3)
