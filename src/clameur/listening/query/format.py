"""Canonical text of a query tree: explicit ``AND``, minimal parentheses, escaped phrases.

``parse(format_query(q)) == q`` for every tree the parser produces.
"""

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

# Binding strength: a child weaker than its context gets parentheses.
_OR, _AND, _NOT, _NEAR, _LEAF = 1, 2, 3, 4, 5


def _strength(node: Node) -> int:
    if isinstance(node, Or):
        return _OR
    if isinstance(node, And):
        return _AND
    if isinstance(node, Not):
        return _NOT
    if isinstance(node, Near):
        return _NEAR
    return _LEAF


def quote(text: str) -> str:
    """``text`` as a phrase literal: in double quotes, ``"`` and ``\\`` escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(text: str) -> str:
    if text and not any(c.isspace() or c in '()"' for c in text):
        return text
    return quote(text)


def _wrap(node: Node, minimum: int) -> str:
    text = format_query(node)
    return f"({text})" if _strength(node) < minimum else text


def format_query(node: Node) -> str:
    """The canonical text of ``node``."""
    match node:
        case Term(text, raw):
            return f"raw:{text}" if raw else text
        case Phrase(text, raw, window):
            suffix = "" if window is None else f"~{window}"
            return ("raw:" if raw else "") + quote(text) + suffix
        case Wildcard(pattern, raw):
            return f"raw:{pattern}" if raw else pattern
        case Hashtag(tag):
            return f"#{tag}"
        case Mention(handle):
            return f"@{handle}"
        case Field(name, value):
            return f"{name}:{_value(value)}"
        case Rating(op, value, upper):
            if op == "..":
                return f"rating:{value}..{upper}"
            return f"rating:{'' if op == '=' else op}{value}"
        case Near(left, right, distance, ordered):
            spelled = f"NEAR/{distance}{'f' if ordered else ''}"
            return f"{_wrap(left, _LEAF)} {spelled} {_wrap(right, _LEAF)}"
        case Not(child):
            return f"NOT {_wrap(child, _NOT)}"
        case And(children):
            return " AND ".join(_wrap(child, _AND) for child in children)
        case Or(children):
            return " OR ".join(_wrap(child, _OR) for child in children)
    raise TypeError(f"not a query node: {node!r}")  # pragma: no cover
