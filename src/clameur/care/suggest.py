"""Suggested replies: retrieval, not generation.

For a new customer message, rank

- the brand's past **sent** replies by how similar the customer message each one answered
  is to the new message, and
- the brand's (and the tenant-wide) canned replies by how similar their name, text and tags
  are to the message,

and return the best ``k`` with their scores and where they come from. The agent picks one,
edits it and sends it: nothing here writes or sends anything.

Similarity is the cosine of tf-idf vectors (sublinear term frequency, smoothed idf computed
over the candidates and the message) of folded words and word pairs — the tokens of the
listening query language (:func:`clameur.listening.query.text.tokenize`: case- and
accent-insensitive, ``#tags`` and ``@handles`` kept), one-letter words left out. Scores lie
in [0, 1], so past replies and canned replies rank on one scale. Past replies with the same
text (agents reuse answers) are one suggestion, with the number of times it was sent.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from clameur.care.canned import (
    Conversations,
    list_canned_replies,
    parse_template,
    template_variables,
)
from clameur.care.models import Conversation, Reply
from clameur.care.replies import (
    latest_mention,
)
from clameur.listening.query.text import fold, tokenize
from clameur.mentions.models import Mention

HISTORY = 2000
"""How many of the brand's latest sent replies are candidates."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    """The reply's text (a canned reply's template, ``{variables}`` unfilled)."""
    score: float
    source: str
    """``reply`` (a past answer) or ``canned``."""
    reply_id: int | None = None
    conversation_id: int | None = None
    answered: str | None = None
    """The customer message the past reply answered."""
    uses: int = 1
    """How many times this exact past answer was sent."""
    canned_id: int | None = None
    name: str | None = None
    """The canned reply's name."""
    variables: tuple[str, ...] = ()
    """The canned reply's variables, to fill before sending."""


def features(text: str) -> Counter[str]:
    """Folded words (two letters or more) and adjacent word pairs, counted."""
    keys = [t.key for t in tokenize(text) if len(t.norm) > 1]
    grams: Counter[str] = Counter(keys)
    grams.update(f"{a} {b}" for a, b in zip(keys, keys[1:], strict=False))
    return grams


def _vectors(docs: Sequence[Counter[str]]) -> list[dict[str, float]]:
    """L2-normalised tf-idf vectors of ``docs`` (idf over these very documents)."""
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(doc.keys())
    n = len(docs)
    out = []
    for doc in docs:
        weights = {
            term: (1.0 + math.log(count)) * (math.log((1 + n) / (1 + df[term])) + 1.0)
            for term, count in doc.items()
        }
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        out.append({term: w / norm for term, w in weights.items()})
    return out


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(term, 0.0) for term, w in a.items())


def _same_text(text: str) -> str:
    return " ".join(fold(text).split())


def suggest_replies(
    session: Session,
    tenant_id: int,
    message: str,
    *,
    brand_id: int | None = None,
    lang: str | None = None,
    k: int = 5,
    history: int = HISTORY,
) -> list[Suggestion]:
    """The ``k`` best suggestions for ``message`` (best first; zero scores left out).

    ``brand_id`` None: past replies of every brand of the tenant, and tenant-wide canned
    replies only. ``lang``: canned replies in that language, past replies in conversations
    of that language (or of unknown language).
    """
    c = Conversation
    stmt = (
        select(Reply.id, Reply.text, Reply.conversation_id, Mention.text.label("answered"))
        .join(c, and_(c.id == Reply.conversation_id, c.tenant_id == Reply.tenant_id))
        .join(
            Mention,
            and_(
                Mention.tenant_id == Reply.tenant_id,
                Mention.source == c.source,
                Mention.external_id == Reply.in_reply_to,
            ),
        )
        .where(Reply.tenant_id == tenant_id, Reply.status == "sent")
        .order_by(Reply.sent_at.desc(), Reply.id.desc())
        .limit(history)
    )
    if brand_id is not None:
        stmt = stmt.where(c.brand_id == brand_id)
    if lang is not None:
        stmt = stmt.where(or_(c.lang == lang, c.lang.is_(None)))
    past = session.execute(stmt).all()
    canned = [
        r
        for r in list_canned_replies(session, tenant_id, brand_id=brand_id, lang=lang)
        if brand_id is not None or r.brand_id is None
    ]
    canned_docs = [
        features(
            " ".join([r.name, *(p for p in parse_template(r.text) if isinstance(p, str)), *r.tags])
        )
        for r in canned
    ]
    vectors = _vectors([features(message), *(features(p.answered) for p in past), *canned_docs])
    query, past_vectors, canned_vectors = (
        vectors[0],
        vectors[1 : 1 + len(past)],
        vectors[1 + len(past) :],
    )

    best: dict[str, Suggestion] = {}
    uses: Counter[str] = Counter()
    for row, vector in zip(past, past_vectors, strict=True):
        key = _same_text(row.text)
        uses[key] += 1
        score = _cosine(query, vector)
        if key not in best or score > best[key].score:
            best[key] = Suggestion(
                text=row.text,
                score=score,
                source="reply",
                reply_id=row.id,
                conversation_id=row.conversation_id,
                answered=row.answered,
            )
    out = [
        Suggestion(s.text, s.score, s.source, s.reply_id, s.conversation_id, s.answered, uses[key])
        for key, s in best.items()
    ]
    out += [
        Suggestion(
            text=r.text,
            score=_cosine(query, vector),
            source="canned",
            canned_id=r.id,
            name=r.name,
            variables=tuple(template_variables(r.text)),
        )
        for r, vector in zip(canned, canned_vectors, strict=True)
    ]
    out = [s for s in out if s.score > 0]
    out.sort(key=lambda s: (-s.score, -s.uses, s.source, s.reply_id or s.canned_id or 0))
    return out[: max(k, 0)]


def suggest_for_conversation(
    session: Session, tenant_id: int, conversation_id: int, *, k: int = 5
) -> list[Suggestion]:
    """Suggestions for the conversation's latest message, its brand and language."""
    conversation = Conversations(session, tenant_id).get(conversation_id)
    mention = latest_mention(session, tenant_id, conversation_id)
    if mention is None:
        return []
    return suggest_replies(
        session,
        tenant_id,
        mention.text,
        brand_id=conversation.brand_id,
        lang=conversation.lang or mention.lang,
        k=k,
    )
