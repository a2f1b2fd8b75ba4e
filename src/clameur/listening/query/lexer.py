"""Lexer: query text → tokens with their 1-based column.

Words are runs of anything but spaces, parentheses and double quotes; the parser decides what a
word is (term, wildcard, hashtag, mention, field value). The lexer recognises the upper-case
keywords ``AND`` ``OR`` ``NOT`` ``NEAR/n`` ``NEAR/nf``, ``-`` glued to an operand, phrases
(``\\"`` and ``\\\\`` escapes, optional ``~n``), ``raw:`` and ``field:`` prefixes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum

from clameur.listening.query.ast import FIELDS
from clameur.listening.query.errors import QuerySyntaxError
from clameur.listening.query.limits import MAX_DISTANCE


class Kind(Enum):
    WORD = "word"
    PHRASE = "phrase"
    LPAREN = "("
    RPAREN = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    MINUS = "-"
    NEAR = "NEAR"
    FIELD = "field"
    RAW = "raw:"
    EOF = "end"


@dataclass(frozen=True, slots=True)
class Tok:
    """A token. ``text``: word, phrase content, field name or NEAR spelling.

    ``value``: for FIELD and RAW, the value glued after the colon (``source:twitter``), if any;
    ``number``: the NEAR distance or the phrase window; ``ordered``: ``NEAR/nf``.
    """

    kind: Kind
    column: int
    text: str = ""
    value: str | None = None
    number: int | None = None
    ordered: bool = False

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of query"
        if self.kind is Kind.PHRASE:
            return f'phrase "{self.text}"'
        if self.kind is Kind.FIELD:
            return f"field '{self.text}:'"
        if self.kind is Kind.MINUS:
            return "'-'"
        if self.kind in (Kind.WORD, Kind.NEAR):
            return f"'{self.text}'"
        return f"'{self.kind.value}'"


_KEYWORDS = {"AND": Kind.AND, "OR": Kind.OR, "NOT": Kind.NOT}
_STOP = '()"'


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def bounded_int(digits: str, limit: int) -> int | None:
    """The value of the ASCII ``digits``, or None when it is above ``limit``.

    Never converts a huge string: Python refuses ``int()`` of more than 4,300 digits, and a
    query must fail with a :class:`QuerySyntaxError`, not a ``ValueError``.
    """
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(limit)):
        return None
    value = int(significant)
    return value if value <= limit else None


def _field_prefix(word: str) -> str | None:
    """``source`` for ``source:x``; None when the word does not start with ``letters:``."""
    colon = word.find(":")
    if colon <= 0:
        return None
    name = word[:colon]
    return name if name.isascii() and name.isalpha() else None


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, [*FIELDS, "raw"], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Tok] = []

    def error(self, message: str, column: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, column, query=self.text)

    def run(self) -> list[Tok]:
        text, n = self.text, len(self.text)
        while self.pos < n:
            char = text[self.pos]
            col = self.pos + 1
            if char.isspace():
                self.pos += 1
            elif char == "(":
                self.tokens.append(Tok(Kind.LPAREN, col))
                self.pos += 1
            elif char == ")":
                self.tokens.append(Tok(Kind.RPAREN, col))
                self.pos += 1
            elif char == '"':
                self.tokens.append(self._phrase())
            elif char == "-":
                if self.pos + 1 >= n or text[self.pos + 1].isspace():
                    raise self.error(
                        f"'-' at column {col} must be glued to what it excludes, e.g. -spam",
                        col,
                    )
                self.tokens.append(Tok(Kind.MINUS, col))
                self.pos += 1
            else:
                self._word()
        self.tokens.append(Tok(Kind.EOF, n + 1))
        return self.tokens

    def _phrase(self) -> Tok:
        text, n = self.text, len(self.text)
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while True:
            if self.pos >= n:
                raise self.error(f"unterminated phrase starting at column {start + 1}", start + 1)
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < n and text[self.pos + 1] in '"\\':
                chars.append(text[self.pos + 1])
                self.pos += 2
            elif char == '"':
                self.pos += 1
                break
            else:
                chars.append(char)
                self.pos += 1
        window: int | None = None
        if self.pos < n and text[self.pos] == "~":
            tilde = self.pos + 1
            end = tilde
            while end < n and text[end].isascii() and text[end].isdigit():
                end += 1
            if end == tilde:
                raise self.error(f"expected a number after '~' at column {tilde}", tilde)
            window = bounded_int(text[tilde:end], MAX_DISTANCE)
            if window is None:
                raise self.error(
                    f"~ at column {tilde}: the window must be at most {MAX_DISTANCE} words",
                    tilde,
                )
            self.pos = end
        return Tok(Kind.PHRASE, start + 1, "".join(chars), number=window)

    def _word(self) -> None:
        text, n = self.text, len(self.text)
        start = self.pos
        end = start
        while end < n and not text[end].isspace() and text[end] not in _STOP:
            end += 1
        word = text[start:end]
        self.pos = end
        col = start + 1
        if word in _KEYWORDS:
            self.tokens.append(Tok(_KEYWORDS[word], col, word))
            return
        if word == "NEAR" or word.startswith("NEAR/"):
            self.tokens.append(self._near(word, col))
            return
        name = _field_prefix(word)
        if name is None:
            self.tokens.append(Tok(Kind.WORD, col, word))
            return
        lowered = name.lower()
        if lowered != "raw" and lowered not in FIELDS:
            raise self.error(
                f"unknown field '{name}' at column {col}{_suggest(lowered)}; "
                f"put a word containing ':' in quotes: \"{word}\"",
                col,
            )
        rest = word[len(name) + 1 :]
        if not rest and (end >= n or text[end] not in '("'):
            raise self.error(
                f"'{name}:' at column {col} needs a value right after the colon, "
                f"e.g. {lowered}:{'5' if lowered == 'rating' else 'value'}",
                col,
            )
        kind = Kind.RAW if lowered == "raw" else Kind.FIELD
        self.tokens.append(Tok(kind, col, lowered, value=rest or None))

    def _near(self, word: str, col: int) -> Tok:
        spec = word[5:]
        ordered = spec[-1:] in ("f", "F")
        digits = spec[:-1] if ordered else spec
        if not _is_number(digits):
            raise self.error(
                f"'{word}' at column {col}: expected a distance, e.g. NEAR/5 or NEAR/5f", col
            )
        distance = bounded_int(digits, MAX_DISTANCE)
        if distance is None:
            shown = word if len(word) <= 20 else word[:16] + "…"
            raise self.error(
                f"{shown} at column {col}: distance must be at most {MAX_DISTANCE}", col
            )
        if distance < 1:
            raise self.error(f"{word} at column {col}: distance must be at least 1", col)
        return Tok(Kind.NEAR, col, word, number=distance, ordered=ordered)


def lex(text: str) -> list[Tok]:
    """Tokens of ``text``, ending with an EOF token."""
    return Lexer(text).run()
