"""Normalisation and tokenisation, shared by query terms and mention texts.

A token is a run of letters and digits (combining marks included), a hashtag (``#`` + letters,
digits, ``_``) or a mention (``@`` + the same). Everything else separates tokens, apostrophes
and hyphens included: ``l'énergie`` → ``l`` ``énergie``, ``aujourd'hui`` → ``aujourd`` ``hui``.
Because queries are cut the same way, a multi-token query term is matched as a phrase.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

TokenKind = Literal["word", "hashtag", "mention"]

_SIGIL: dict[str, str] = {"word": "", "hashtag": "#", "mention": "@"}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``raw`` as written (NFC, no sigil), ``norm`` folded.

    ``key`` is the index key: the folded word, with ``#``/``@`` for hashtags and mentions.
    """

    raw: str
    norm: str
    kind: TokenKind
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", _SIGIL[self.kind] + self.norm)


def is_word_start(char: str) -> bool:
    return char.isalnum()


def is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char).startswith("M")


def is_tag_start(char: str) -> bool:
    return char.isalnum() or char == "_"


def is_tag_char(char: str) -> bool:
    return is_word_char(char) or char == "_"


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, casefold, combining marks dropped."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=1 << 17)
def _token(raw: str, kind: TokenKind) -> Token:
    """Tokens are immutable: the same word anywhere is the same object (cached)."""
    return Token(raw, fold(raw) or raw.casefold(), kind)


def tokenize(text: str) -> tuple[Token, ...]:
    """Cut ``text`` into word, hashtag and mention tokens."""
    text = nfc(text)
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if (
            char in "#@"
            and i + 1 < n
            and is_tag_start(text[i + 1])
            and (i == 0 or not is_tag_char(text[i - 1]))
        ):
            j = i + 1
            while j < n and is_tag_char(text[j]):
                j += 1
            out.append(_token(text[i + 1 : j], "hashtag" if char == "#" else "mention"))
            i = j
        elif is_word_start(char):
            j = i + 1
            while j < n and is_word_char(text[j]):
                j += 1
            out.append(_token(text[i:j], "word"))
            i = j
        else:
            i += 1
    return tuple(out)


@lru_cache(maxsize=16384)
def query_tokens(text: str) -> tuple[Token, ...]:
    """``tokenize`` with a cache, for the (few, repeated) texts of queries."""
    return tokenize(text)


def is_tag_body(body: str) -> bool:
    """Whether ``body`` is exactly one hashtag/mention body (what follows ``#`` or ``@``)."""
    body = nfc(body)
    return bool(body) and is_tag_start(body[0]) and all(is_tag_char(c) for c in body)
