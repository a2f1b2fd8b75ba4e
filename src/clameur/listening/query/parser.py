"""Recursive-descent parser: query text → :mod:`~clameur.listening.query.ast` tree.

Grammar (upper-case words are keywords; juxtaposition is an implicit AND)::

    query    := or_expr EOF
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (["AND"] unary)*
    unary    := "NOT" unary | near
    near     := primary [NEAR primary]
    primary  := "-" primary | "(" or_expr ")" | "raw:" (word | phrase)
              | field ":" (value | phrase | "(" or_expr-of-values ")")
              | phrase | word

Binding, tightest first: ``NEAR``, ``NOT``/``-``, ``AND`` (explicit or implicit), ``OR``.
"""

from __future__ import annotations

from clameur.listening.query.ast import (
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
    has_positive,
    is_positional,
    or_,
)
from clameur.listening.query.errors import QuerySyntaxError
from clameur.listening.query.lexer import Kind, Tok, bounded_int, lex
from clameur.listening.query.limits import (
    MAX_DEPTH,
    MAX_DISTANCE,
    MAX_GROUPS,
    MAX_RATING,
    Budget,
    too_long,
)
from clameur.listening.query.text import is_tag_body, is_word_char, is_word_start, query_tokens

__all__ = ["MAX_DEPTH", "MAX_GROUPS", "MAX_RATING", "MIN_PREFIX", "Parser", "parse"]

MIN_PREFIX = 3

_OPERAND_START = {
    Kind.WORD,
    Kind.PHRASE,
    Kind.LPAREN,
    Kind.NOT,
    Kind.MINUS,
    Kind.FIELD,
    Kind.RAW,
}


class Parser:
    def __init__(self, text: str, *, limits: bool = True) -> None:
        self.text = text
        self.budget: Budget | None = None
        if limits:
            error = too_long(text)
            if error is not None:
                raise error
            self.budget = Budget(text)
        self.tokens = lex(text)
        self.index = 0
        self.depth = 0
        self.groups = 0
        self.field: str | None = None  # inside ``field:( … )``: the field's name

    # -- helpers --------------------------------------------------------------------------
    @property
    def tok(self) -> Tok:
        return self.tokens[self.index]

    def peek(self) -> Kind:
        return self.tokens[self.index].kind

    def advance(self) -> Tok:
        tok = self.tokens[self.index]
        if tok.kind is not Kind.EOF:
            self.index += 1
        return tok

    def error(self, message: str, column: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, column, query=self.text)

    def unexpected(self, expected: str) -> QuerySyntaxError:
        tok = self.tok
        if tok.kind is Kind.RPAREN and expected == "end of query":
            return self.error(f"unexpected ')' at column {tok.column}; no matching '('", tok.column)
        return self.error(
            f"unexpected {tok.describe()} at column {tok.column}; expected {expected}", tok.column
        )

    def enter(self, column: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                f"query nested too deeply at column {column} (more than {MAX_DEPTH} levels)",
                column,
            )

    # -- grammar --------------------------------------------------------------------------
    def parse(self) -> Node:
        if self.peek() is Kind.EOF:
            raise self.error("empty query", 1)
        node = self.or_expr()
        if self.peek() is not Kind.EOF:
            raise self.unexpected("end of query")
        if not has_positive(node):
            raise self.error(
                "the query only excludes (NOT / -): it would match every mention; "
                "add what to look for, e.g. 'volta -spam'",
                1,
            )
        return node

    def or_expr(self) -> Node:
        nodes = [self.and_expr()]
        while self.peek() is Kind.OR:
            self.advance()
            nodes.append(self.and_expr())
        return or_(*nodes)

    def and_expr(self) -> Node:
        nodes = [self.unary()]
        while True:
            if self.peek() is Kind.AND:
                self.advance()
                nodes.append(self.unary())
            elif self.peek() in _OPERAND_START:
                nodes.append(self.unary())
            else:
                return and_(*nodes)

    def unary(self) -> Node:
        if self.peek() is Kind.NOT:
            tok = self.advance()
            self.enter(tok.column)
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.near()

    def near(self) -> Node:
        left_col = self.tok.column
        left = self.primary()
        if self.peek() is not Kind.NEAR:
            return left
        near = self.advance()
        self._check_near_operand(left, near, left_col, "left")
        right_col = self.tok.column
        right = self.primary()
        self._check_near_operand(right, near, right_col, "right")
        if self.peek() is Kind.NEAR:
            raise self.error(
                f"{self.tok.text} at column {self.tok.column}: NEAR cannot be chained; "
                "combine two NEARs with AND: (a NEAR/3 b) AND (b NEAR/3 c)",
                self.tok.column,
            )
        assert near.number is not None
        if self.budget is not None:
            self.budget.near(near.column, _alternatives(left), _alternatives(right))
        return Near(left, right, near.number, near.ordered)

    def _check_near_operand(self, node: Node, near: Tok, column: int, side: str) -> None:
        if not is_positional(node):
            raise self.error(
                f"{near.text} at column {near.column}: its {side} side (column {column}) must "
                "be a word, phrase, hashtag or mention, or an OR group of them",
                column,
            )

    def primary(self) -> Node:
        tok = self.tok
        kind = tok.kind
        if kind is Kind.MINUS:
            self.advance()
            self.enter(tok.column)
            node = Not(self.primary())
            self.depth -= 1
            return node
        if kind is Kind.LPAREN:
            return self.group()
        if kind is Kind.RAW:
            return self.raw()
        if kind is Kind.FIELD:
            return self.field_filter()
        if kind is Kind.PHRASE:
            self.advance()
            if self.field is not None:
                return self.field_value(self.field, tok.text, tok.column, tok)
            return self.phrase(tok, raw=False)
        if kind is Kind.WORD:
            self.advance()
            if self.field is not None:
                return self.field_value(self.field, tok.text, tok.column, None)
            return self.word(tok.text, tok.column, raw=False)
        raise self.unexpected("a term")

    def group(self) -> Node:
        open_tok = self.advance()
        self.enter(open_tok.column)
        self.groups += 1
        if self.groups > MAX_GROUPS:
            raise self.error(
                f"query nested too deeply at column {open_tok.column} "
                f"(more than {MAX_GROUPS} levels of parentheses)",
                open_tok.column,
            )
        if self.peek() is Kind.RPAREN:
            raise self.error(f"empty parentheses at column {open_tok.column}", open_tok.column)
        node = self.or_expr()
        if self.peek() is Kind.EOF:
            raise self.error(f"unclosed '(' opened at column {open_tok.column}", open_tok.column)
        if self.peek() is not Kind.RPAREN:
            raise self.unexpected("')'")
        self.advance()
        self.depth -= 1
        self.groups -= 1
        return node

    # -- leaves ---------------------------------------------------------------------------
    def raw(self) -> Node:
        tok = self.advance()
        if self.field is not None:
            raise self.error(
                f"raw: at column {tok.column} cannot be used inside '{self.field}:(…)'",
                tok.column,
            )
        if tok.value is not None:
            col = tok.column + 4
            if tok.value[0] in "#@-":
                raise self.error(
                    f"raw: at column {tok.column} applies to a word or a phrase, "
                    f"not to '{tok.value}'",
                    tok.column,
                )
            return self.word(tok.value, col, raw=True)
        if self.peek() is Kind.PHRASE:
            return self.phrase(self.advance(), raw=True)
        raise self.error(
            f"raw: at column {tok.column} must be followed by a word or a phrase, "
            'e.g. raw:Volta or raw:"Volta Mobile"',
            tok.column,
        )

    def phrase(self, tok: Tok, *, raw: bool) -> Node:
        words = query_tokens(tok.text)
        if not words:
            raise self.error(
                f"empty phrase at column {tok.column}: it has no letters or digits", tok.column
            )
        window = tok.number
        if window is not None:
            if window < len(words):
                raise self.error(
                    f"~{window} after the phrase at column {tok.column}: the window must be at "
                    f"least the phrase's {len(words)} words",
                    tok.column,
                )
            if window > MAX_DISTANCE:
                raise self.error(
                    f"~{window} after the phrase at column {tok.column}: the window must be "
                    f"at most {MAX_DISTANCE} words",
                    tok.column,
                )
        if self.budget is not None:
            self.budget.term(tok.column, len(words))
        return Phrase(tok.text, raw, window)

    def word(self, text: str, column: int, *, raw: bool) -> Node:
        if text[0] in "#@" and not raw:
            body = text[1:]
            what = "hashtag" if text[0] == "#" else "mention"
            if not is_tag_body(body):
                raise self.error(
                    f"invalid {what} '{text}' at column {column}: after '{text[0]}' use only "
                    "letters, digits and '_'",
                    column,
                )
            if self.budget is not None:
                self.budget.term(column)
            return Hashtag(body) if text[0] == "#" else Mention(body)
        if "*" in text or "?" in text:
            return self.wildcard(text, column, raw=raw)
        words = query_tokens(text)
        if not words:
            raise self.error(
                f"'{text}' at column {column} is not a searchable term (no letters or digits)",
                column,
            )
        if self.budget is not None:
            self.budget.term(column, len(words))
        return Term(text, raw)

    def wildcard(self, text: str, column: int, *, raw: bool) -> Node:
        star = text.find("*")
        if star != -1 and star != len(text) - 1:
            raise self.error(
                f"'*' at column {column + star} is only allowed at the end of a word", column + star
            )
        body = text[:-1] if star != -1 else text
        for offset, char in enumerate(body):
            ok = char == "?" or (is_word_char(char) if offset else is_word_start(char))
            if not ok:
                raise self.error(
                    f"wildcard '{text}' at column {column}: '{char}' at column {column + offset} "
                    "is not allowed; use letters, digits, '?' and a final '*'",
                    column + offset,
                )
        letters = sum(1 for char in body if char != "?")
        if star != -1 and letters < MIN_PREFIX:
            raise self.error(
                f"wildcard needs at least {MIN_PREFIX} letters before '*' at column "
                f"{column + star}",
                column + star,
            )
        if letters == 0:
            raise self.error(
                f"wildcard '{text}' at column {column} needs at least one letter or digit",
                column,
            )
        if self.budget is not None:
            self.budget.wildcard(column, text)
        return Wildcard(text, raw)

    # -- fields ---------------------------------------------------------------------------
    def field_filter(self) -> Node:
        tok = self.advance()
        name = tok.text
        if self.field is not None:
            raise self.error(
                f"field '{name}:' at column {tok.column} cannot be used inside '{self.field}:(…)'",
                tok.column,
            )
        if tok.value is not None:
            return self.field_value(name, tok.value, tok.column + len(name) + 1, None)
        if self.peek() is Kind.PHRASE:
            phrase = self.advance()
            return self.field_value(name, phrase.text, phrase.column, phrase)
        self.field = name
        try:
            return self.group()
        finally:
            self.field = None

    def field_value(self, name: str, value: str, column: int, phrase: Tok | None) -> Node:
        if phrase is not None and phrase.number is not None:
            raise self.error(
                f"'~' is not allowed after the value of '{name}:' at column {column}", column
            )
        if not value:
            raise self.error(f"empty value for '{name}:' at column {column}", column)
        if self.budget is not None:
            self.budget.term(column)
        if name == "rating":
            return self.rating(value, column)
        return Field(name, value)

    def rating(self, value: str, column: int) -> Node:
        for op in ("<=", ">=", "<", ">", "="):
            if value.startswith(op):
                number = value[len(op) :]
                if _is_digits(number):
                    return Rating(op, self.stars(number, value, column))
                break
        else:
            if _is_digits(value):
                return Rating("=", self.stars(value, value, column))
            low, sep, high = value.partition("..")
            if sep and _is_digits(low) and _is_digits(high):
                lowest = self.stars(low, value, column)
                highest = self.stars(high, value, column)
                if lowest > highest:
                    raise self.error(
                        f"rating range '{value}' at column {column}: {low} is above {high}",
                        column,
                    )
                return Rating("..", lowest, highest)
        raise self.error(
            f"rating value '{_shorten(value)}' at column {column}: expected a number, <n, "
            "<=n, >n, >=n or n..m",
            column,
        )

    def stars(self, digits: str, value: str, column: int) -> int:
        number = bounded_int(digits, MAX_RATING)
        if number is None:
            raise self.error(
                f"rating value '{_shorten(value)}' at column {column}: a number of stars must "
                f"be between 0 and {MAX_RATING}",
                column,
            )
        return number


def _alternatives(node: Node) -> int:
    return len(node.children) if isinstance(node, Or) else 1


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _shorten(text: str) -> str:
    return text if len(text) <= 20 else text[:16] + "…"


def parse(text: str, *, limits: bool = True) -> Node:
    """Parse a listening query; raises :class:`QuerySyntaxError` with the column at fault.

    ``limits``: refuse a query past :mod:`~clameur.listening.query.limits` (length, terms,
    wildcards, ``NEAR``, cost). Only queries accepted before the limits existed (brand queries
    already saved, loaded by the matcher) are read without them.
    """
    return Parser(text, limits=limits).parse()
