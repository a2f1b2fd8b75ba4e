"""What an index needs: tokens one of which a mention must contain to possibly match a query."""

from __future__ import annotations

from clameur.listening.query.ast import (
    And,
    Field,
    Hashtag,
    Mention,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Rating,
    Term,
    Wildcard,
)
from clameur.listening.query.evaluate import PreparedDocument
from clameur.listening.query.text import Token, fold, nfc, query_tokens


def _best(tokens: tuple[Token, ...]) -> frozenset[str]:
    # Every token of a term or phrase must be present; the longest is likely the rarest.
    return frozenset({max(tokens, key=lambda t: (len(t.norm), t.key)).key})


def required_terms(node: Node) -> frozenset[str] | None:
    """Index keys, at least one of which a matching mention contains; None if not indexable.

    Keys are folded words (``energie``), ``#tag`` for hashtags and ``@handle`` for mentions,
    as in :attr:`PreparedDocument.keys`. A plain word key is also present when the word is
    written as a hashtag or mention. Wildcards, fields alone and exclusions give None; an
    ``AND`` takes its most selective indexable part; an ``OR`` needs all its branches indexable.
    """
    match node:
        case Term(text) | Phrase(text):
            return _best(query_tokens(text))
        case Hashtag(tag):
            return frozenset({"#" + fold(nfc(tag))})
        case Mention(handle):
            return frozenset({"@" + fold(nfc(handle))})
        case Wildcard() | Field() | Rating() | Not():
            return None
        case Near(left, right):
            return _pick([required_terms(left), required_terms(right)])
        case And(children):
            return _pick([required_terms(child) for child in children])
        case Or(children):
            union: set[str] = set()
            for child in children:
                keys = required_terms(child)
                if keys is None:
                    return None
                union |= keys
            return frozenset(union)
    raise TypeError(f"not a query node: {node!r}")  # pragma: no cover


def _pick(options: list[frozenset[str] | None]) -> frozenset[str] | None:
    usable = [keys for keys in options if keys is not None]
    if not usable:
        return None
    return min(usable, key=lambda keys: (len(keys), -min(len(k) for k in keys), sorted(keys)))


def may_match(keys: frozenset[str] | None, doc: PreparedDocument) -> bool:
    """Whether a document can match a query with these required keys (None: always)."""
    return keys is None or not keys.isdisjoint(doc.keys)
