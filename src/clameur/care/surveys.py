"""CSAT and NPS surveys after resolution: a signed link, one answer.

The link carries a token ``<survey id>.<expiry (Unix seconds)>.<signature>``, the signature
being HMAC-SHA256 (key: ``CLAMEUR_SURVEY_SECRET``) over ``clameur-survey.<id>.<expiry>``,
base64url without padding. :func:`answer` checks the signature (constant time), then the
expiry, then the score's range (CSAT 1–5, NPS 0–10), and stores the answer once: the store
is a conditional update, so even two simultaneous submissions record only one.

The customer answering has no tenant context: the survey, found by the id the signature
vouches for, names its tenant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from clameur.care.audit import record
from clameur.care.models import Conversation, Survey
from clameur.clock import Clock
from clameur.config import Settings
from clameur.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

SCALES = {"csat": (1, 5), "nps": (0, 10)}
"""Survey kind → (lowest, highest) score."""
AFTER = ("resolved", "closed")
MAX_COMMENT = 2000
_DOMAIN = b"clameur-survey."


@dataclass(frozen=True, slots=True)
class SurveyLink:
    survey_id: int
    token: str
    url: str
    expires_at: datetime


def _secret(settings: Settings) -> bytes:
    if not settings.survey_secret:
        raise InvalidInputError(
            "survey links need a signing secret: set CLAMEUR_SURVEY_SECRET", where="settings"
        )
    return settings.survey_secret.encode()


def _signature(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, _DOMAIN + body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(settings: Settings, survey_id: int, expires_at: datetime) -> str:
    body = f"{survey_id}.{int(expires_at.timestamp())}"
    return f"{body}.{_signature(_secret(settings), body)}"


def read_token(settings: Settings, token: str, now: datetime) -> int:
    """The survey id of a genuine, unexpired token."""
    secret = _secret(settings)
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts[:2]):
        raise InvalidInputError("this survey link is invalid", where="token")
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_signature(secret, body).encode(), parts[2].encode("utf-8")):
        raise InvalidInputError("this survey link is invalid", where="token")
    if now.timestamp() >= int(parts[1]):
        raise InvalidInputError("this survey link has expired", where="token")
    return int(parts[0])


def send_survey(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: Principal,
    conversation_id: int,
    kind: str,
) -> SurveyLink:
    """A person asks the customer of a resolved (or closed) conversation for a survey
    (``conversations.act``). Asking again before an answer gives a fresh link to the same
    survey; a conversation that answered this kind of survey is not asked again."""
    actor = refresh(session, actor)
    authorize(actor, "conversations.act")
    return _send(session, clock, settings, actor.tenant_id, conversation_id, kind, actor.actor_id)


def send_survey_automatically(
    session: Session,
    clock: Clock,
    settings: Settings,
    tenant_id: int,
    conversation_id: int,
    kind: str,
) -> SurveyLink:
    """:func:`send_survey` by the system (e.g. the resolution workflow): no person acts."""
    return _send(session, clock, settings, tenant_id, conversation_id, kind, None)


def _send(
    session: Session,
    clock: Clock,
    settings: Settings,
    tenant_id: int,
    conversation_id: int,
    kind: str,
    actor_id: int | None,
) -> SurveyLink:
    if kind not in SCALES:
        raise InvalidInputError(f"survey kind is csat or nps, got {kind!r}", where="kind")
    _secret(settings)  # refuse before writing anything when no secret is set
    conversation = session.scalars(
        select(Conversation).where(
            Conversation.tenant_id == tenant_id, Conversation.id == conversation_id
        )
    ).first()
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} not found")
    if conversation.status not in AFTER:
        raise InvalidInputError(
            f"conversation {conversation_id} is {conversation.status}: a survey follows resolution"
        )
    now = clock.now()
    survey = session.scalars(
        select(Survey)
        .where(
            Survey.tenant_id == tenant_id,
            Survey.conversation_id == conversation_id,
            Survey.kind == kind,
        )
        .order_by(Survey.id.desc())
        .limit(1)
    ).first()
    if survey is not None and survey.answered_at is not None:
        raise AlreadyExistsError(
            f"conversation {conversation_id} has already answered its {kind} survey"
        )
    if survey is None:
        survey = Survey(
            tenant_id=tenant_id, conversation_id=conversation_id, kind=kind, sent_at=now
        )
        session.add(survey)
    else:
        survey.sent_at = now
    session.flush()
    expires_at = (now + timedelta(days=settings.survey_ttl_days)).astimezone(UTC)
    token = make_token(settings, survey.id, expires_at)
    record(
        session,
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        at=now,
        actor_id=actor_id,
        kind="survey_sent",
        data={"survey_id": survey.id, "kind": kind, "expires_at": expires_at.isoformat()},
    )
    url = f"{settings.public_base_url.rstrip('/')}/survey/{token}"
    return SurveyLink(survey.id, token, url, expires_at)


def answer(
    session: Session,
    clock: Clock,
    settings: Settings,
    token: str,
    score: int,
    comment: str | None = None,
) -> Survey:
    """Store the customer's answer; a second answer to the same survey is refused."""
    now = clock.now()
    survey_id = read_token(settings, token, now)
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFoundError("this survey no longer exists")
    low, high = SCALES[survey.kind]
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise InvalidInputError(
            f"a {survey.kind} score is a whole number from {low} to {high}, got {score!r}",
            where="score",
        )
    text = (comment or "").strip()[:MAX_COMMENT] or None
    result = session.execute(
        update(Survey)
        .where(Survey.id == survey_id, Survey.answered_at.is_(None))
        .values(answered_at=now, score=score, comment=text)
        .execution_options(synchronize_session=False)
    )
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        raise AlreadyExistsError("this survey has already been answered")
    record(
        session,
        tenant_id=survey.tenant_id,
        conversation_id=survey.conversation_id,
        at=now,
        actor_id=None,
        kind="survey_answer",
        data={"survey_id": survey_id, "kind": survey.kind, "score": score},
    )
    session.flush()
    session.refresh(survey)
    return survey
