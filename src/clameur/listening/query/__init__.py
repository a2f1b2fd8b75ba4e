"""The listening query language: parse, format, evaluate and index boolean brand queries.

>>> from clameur.listening.query import Document, evaluate, parse
>>> evaluate(parse('volta (panne OR "hors service") -#pub'), Document("Volta en panne ce matin"))
True
"""

from clameur.listening.query.ast import (
    FIELDS,
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
    and_,
    or_,
)
from clameur.listening.query.errors import QuerySyntaxError
from clameur.listening.query.evaluate import Document, PreparedDocument, evaluate, prepare
from clameur.listening.query.format import format_query
from clameur.listening.query.parser import parse
from clameur.listening.query.required import may_match, required_terms
from clameur.listening.query.text import Token, fold, tokenize

format = format_query  # noqa: A001 - the documented name; prefer format_query in code

__all__ = [
    "FIELDS",
    "And",
    "Document",
    "Field",
    "Hashtag",
    "Mention",
    "Near",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "PreparedDocument",
    "QuerySyntaxError",
    "Rating",
    "Term",
    "Token",
    "Wildcard",
    "and_",
    "evaluate",
    "fold",
    "format",
    "format_query",
    "may_match",
    "or_",
    "parse",
    "prepare",
    "required_terms",
    "tokenize",
]
