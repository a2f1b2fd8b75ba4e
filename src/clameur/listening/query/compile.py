"""Compile a query tree into a predicate: the matcher's fast path.

:func:`evaluate` walks the tree with structural pattern matching on every call, which is
clear and is the reference. A brand query is tested against thousands of mentions, so the
matcher turns each query once into nested closures with the per-node work (folding the
query's words, choosing the lookup) already done. The property tests check that both agree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

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
from clameur.listening.query.evaluate import (
    PreparedDocument,
    _field,
    _near,
    _rating,
    _within_window,
    spans,
)
from clameur.listening.query.text import fold, nfc, query_tokens

Predicate = Callable[[PreparedDocument], bool]


@lru_cache(maxsize=65536)
def compile_query(node: Node) -> Predicate:
    """A function answering ``evaluate(node, doc)`` for prepared documents, only faster."""
    return _compile(node)


def _compile(node: Node) -> Predicate:
    match node:
        case And(children):
            return _all([_compile(child) for child in children])
        case Or(children):
            return _any([_compile(child) for child in children])
        case Not(child):
            inner = _compile(child)
            return lambda doc: not inner(doc)
        case Term(text, raw) | Phrase(text, raw, None):
            return _words(text, raw, node)
        case Phrase(text, raw, window) if window is not None:
            words, size = query_tokens(text), window
            return lambda doc: _within_window(words, raw, size, doc)
        case Hashtag(tag):
            return _tagged(tag, "hashtag")
        case Mention(handle):
            return _tagged(handle, "mention")
        case Wildcard():
            return lambda doc: bool(spans(node, doc))
        case Field(name, value):
            return lambda doc: _field(name, value, doc)
        case Rating():
            return lambda doc: _rating(node, doc.doc.rating)
        case Near(left, right, distance, ordered):
            return lambda doc: _near(spans(left, doc), spans(right, doc), distance, ordered)
    raise TypeError(f"not a query node: {node!r}")  # pragma: no cover


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda doc: first(doc) and second(doc)

    def every(doc: PreparedDocument) -> bool:
        for part in parts:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not part(doc):
                return False
        return True

    return every


def _any(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda doc: first(doc) or second(doc)

    def some(doc: PreparedDocument) -> bool:
        for part in parts:  # noqa: SIM110 - a loop is faster than any() over a generator
            if part(doc):
                return True
        return False

    return some


def _words(text: str, raw: bool, node: Node) -> Predicate:
    tokens = query_tokens(text)
    if not tokens:
        return lambda doc: False
    if len(tokens) == 1 and tokens[0].kind == "word":
        # A plain word matches any token with that form, hashtag and mention bodies included.
        if raw:
            word = tokens[0].raw
            return lambda doc: word in doc.by_raw
        word = tokens[0].norm
        return lambda doc: word in doc.by_norm
    return lambda doc: bool(spans(node, doc))


def _tagged(name: str, kind: str) -> Predicate:
    norm = fold(nfc(name))

    def tagged(doc: PreparedDocument) -> bool:
        positions = doc.by_norm.get(norm)
        if not positions:
            return False
        tokens = doc.tokens
        return any(tokens[p].kind == kind for p in positions)

    return tagged
