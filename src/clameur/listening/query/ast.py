"""The query tree: frozen, hashable dataclasses compared structurally.

``And`` and ``Or`` are n-ary and flat (no ``And`` directly inside an ``And``); build them with
:func:`and_` and :func:`or_`, as the parser does, so that ``parse(format(q)) == q``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

RatingOp = Literal["=", "<", "<=", ">", ">=", ".."]

#: The fields a query may filter on, in documentation order.
FIELDS: tuple[str, ...] = ("author", "source", "lang", "site", "url", "country", "rating")


@dataclass(frozen=True, slots=True)
class Term:
    """A word (or words cut by the tokeniser, matched as a phrase): ``panne``, ``l'énergie``."""

    text: str
    raw: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    """``"service client"``; with ``window``, ``"service client"~5``: all words within 5."""

    text: str
    raw: bool = False
    window: int | None = None


@dataclass(frozen=True, slots=True)
class Wildcard:
    """A word with ``?`` (exactly one character) and/or a final ``*`` (any ending)."""

    pattern: str
    raw: bool = False


@dataclass(frozen=True, slots=True)
class Hashtag:
    """``#voltamobile`` (``tag`` without the ``#``)."""

    tag: str


@dataclass(frozen=True, slots=True)
class Mention:
    """``@voltamobile`` (``handle`` without the ``@``)."""

    handle: str


@dataclass(frozen=True, slots=True)
class Field:
    """``source:twitter``: a metadata filter (every field but ``rating``)."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Rating:
    """``rating:5``, ``rating:<3``, ``rating:>=4``, ``rating:1..2`` (``upper`` for ``..``)."""

    op: RatingOp
    value: int
    upper: int | None = None


@dataclass(frozen=True, slots=True)
class Near:
    """``left NEAR/n right`` (either order) or ``left NEAR/nf right`` (left first)."""

    left: Node
    right: Node
    distance: int
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node: TypeAlias = (
    Term | Phrase | Wildcard | Hashtag | Mention | Field | Rating | Near | And | Or | Not
)

#: Leaves with a position in the text: what ``NEAR`` accepts (also in an ``OR`` group).
Positional: TypeAlias = Term | Phrase | Wildcard | Hashtag | Mention


def and_(*nodes: Node) -> Node:
    """``And`` of ``nodes``, flattened; a single node is returned as is."""
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.children if isinstance(node, And) else (node,))
    if not flat:
        raise ValueError("and_() needs at least one node")
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def or_(*nodes: Node) -> Node:
    """``Or`` of ``nodes``, flattened; a single node is returned as is."""
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.children if isinstance(node, Or) else (node,))
    if not flat:
        raise ValueError("or_() needs at least one node")
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def is_positional(node: Node) -> bool:
    """Whether ``node`` can be a ``NEAR`` operand: a positional leaf or an OR of them."""
    if isinstance(node, Or):
        return all(is_positional(child) for child in node.children)
    if isinstance(node, Phrase):
        return node.window is None
    return isinstance(node, Term | Wildcard | Hashtag | Mention)


def has_positive(node: Node) -> bool:
    """Whether ``node`` looks for something (is not made of exclusions only)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And | Or):
        return any(has_positive(child) for child in node.children)
    return True
