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
in [0, 1], so past replies and canned replies rank on one scale.

A past reply was written to someone else: it is turned back into a template before it is
offered, the customer's name and handle it was addressed to becoming ``{name}`` and
``{handle}`` and the agent who signed it ``{agent}`` (:func:`as_template`), so that the
agent never sends another customer's name and the page fills in the current one. Past
replies that are the same template (agents reuse answers) are one suggestion, with the
number of times it was sent.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

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
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import User

HISTORY = 2000
"""How many of the brand's latest sent replies are candidates."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    """A template, ``{variables}`` unfilled: the canned reply's, or the past reply's with the
    names it was addressed to and signed with made variables again (:func:`as_template`)."""
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
    """The template's variables, to fill before sending."""


_MIN_NAME = 2
"""Characters of a name part, at least, for it to be made a variable (an initial is not)."""


def _names(value: str | None) -> list[str]:
    """``value`` and, when it has several words, its first one ("Kate" of "Kate Kelly")."""
    value = " ".join((value or "").split())
    if len(value) < _MIN_NAME:
        return []
    first = value.split(" ")[0]
    return [value, first] if first != value and len(first) >= _MIN_NAME else [value]


def as_template(
    text: str,
    *,
    name: str | None = None,
    handle: str | None = None,
    agent: str | None = None,
) -> str:
    """``text`` as a template: braces doubled, then every whole-word occurrence of the
    customer's ``name`` (or its first word) as ``{name}``, ``@handle`` or ``handle`` as
    ``@{handle}`` / ``{handle}``, the ``agent``'s name (or first word) as ``{agent}``.
    Longer values are replaced first, so "Kate Kelly" is one ``{name}``, not two."""
    values: list[tuple[str, str]] = [(v, "{name}") for v in _names(name)]
    values += [(v, "{agent}") for v in _names(agent)]
    bare = (handle or "").lstrip("@")
    if len(bare) >= _MIN_NAME:
        values += [("@" + bare, "@{handle}"), (bare, "{handle}")]
    out = text.replace("{", "{{").replace("}", "}}")
    if not values:
        return out
    values.sort(key=lambda pair: -len(pair[0]))
    by_value = dict(values)
    alternatives = "|".join(re.escape(v) for v in by_value)
    pattern = re.compile(rf"(?<![\w@])(?:{alternatives})(?!\w)")
    return pattern.sub(lambda m: by_value[m.group(0)], out)


def _templates(rows: Iterable[tuple[str, str | None, str | None, str | None]]) -> list[str]:
    return [as_template(text, name=n, handle=h, agent=a) for text, n, h, a in rows]


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
        select(
            Reply.id,
            Reply.text,
            Reply.conversation_id,
            Mention.text.label("answered"),
            Author.name.label("customer"),
            Author.handle,
            User.name.label("agent"),
        )
        .join(c, and_(c.id == Reply.conversation_id, c.tenant_id == Reply.tenant_id))
        .join(
            Mention,
            and_(
                Mention.tenant_id == Reply.tenant_id,
                Mention.source == c.source,
                Mention.external_id == Reply.in_reply_to,
            ),
        )
        .join(Author, and_(Author.id == Mention.author_id, Author.tenant_id == Reply.tenant_id))
        .outerjoin(User, User.id == Reply.author_id)
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

    templates = _templates((p.text, p.customer, p.handle, p.agent) for p in past)
    best: dict[str, Suggestion] = {}
    uses: Counter[str] = Counter()
    for row, template, vector in zip(past, templates, past_vectors, strict=True):
        key = _same_text(template)
        uses[key] += 1
        score = _cosine(query, vector)
        if key not in best or score > best[key].score:
            best[key] = Suggestion(
                text=template,
                score=score,
                source="reply",
                reply_id=row.id,
                conversation_id=row.conversation_id,
                answered=row.answered,
                variables=tuple(template_variables(template)),
            )
    out = [replace(s, uses=uses[key]) for key, s in best.items()]
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
