"""Archive search, the query side: index tokens, the database pre-filter, key-only decisions.

Pure functions, no database: the store step imports :func:`document_keys` and
:func:`search_text`; :mod:`clameur.listening.search` runs the queries. See that module for
the design.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, cast

from clameur.listening.query import (
    And,
    Document,
    Field,
    Hashtag,
    Mention,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    PreparedDocument,
    Rating,
    Term,
    Wildcard,
    evaluate,
    tokenize,
)
from clameur.listening.query.evaluate import host_of
from clameur.listening.query.text import fold, nfc, query_tokens

# -- index keys as backend-neutral tokens -----------------------------------------------------

MAX_TOKEN: Final = 120
"""Longest index token; longer ones are cut (a cut key still finds its mention)."""
MAX_SEARCH_TEXT: Final = 200_000
"""Beyond this, ``search_text`` holds :data:`OVERFLOW` only (PostgreSQL caps a tsvector at
1 MB); such a mention is a candidate for every query and the evaluator decides."""
OVERFLOW: Final = "q0000"
"""The token of an over-long mention (``q0000`` would be the escape of U+0000, never a key)."""
FTS_TABLE: Final = "mentions_fts"
"""SQLite: the FTS5 table over ``mentions.search_text`` (external content, kept by triggers)."""
VOCABULARY: Final = "search_vocabulary"
"""Every token some mention's ``search_text`` has held, kept by triggers on ``mentions``
(migration 0010 on PostgreSQL, 0012 on SQLite): what ``?`` wildcards expand against."""
PG_INDEX: Final = "ix_mentions_search"
"""PostgreSQL: the GIN index over :data:`PG_VECTOR`."""
PG_VECTOR: Final = "array_to_tsvector(string_to_array(search_text, ' '))"
"""The indexed expression: the tokens as lexemes, with no parser or dictionary in between."""

_PLAIN = re.compile(r"[a-pr-z0-9]+")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _escape(char: str) -> str:
    code = ord(char)
    digits = ""
    for _ in range(4):  # 36**4 > 0x10FFFF: every code point fits in 4 base-36 digits
        code, rest = divmod(code, 36)
        digits = _B36[rest] + digits
    return "q" + digits


@lru_cache(maxsize=1 << 17)
def index_token(key: str) -> str:
    """``key`` as one ``[a-z0-9]+`` token, cut at :data:`MAX_TOKEN`: ASCII lower-case letters
    and digits are kept, any other character (``q`` included) becomes ``q`` + its code point
    in 4 base-36 digits (``#volta`` → ``q000zvolta``, ``quoi`` → ``q0035uoi``).

    A prefix code, character by character: below :data:`MAX_TOKEN`, two keys have the same
    token only if they are equal, and a key starts with a prefix exactly when its token starts
    with the prefix's token (wildcards become prefix lookups).
    """
    if _PLAIN.fullmatch(key):
        return key[:MAX_TOKEN]
    out = "".join(c if c in _KEPT else _escape(c) for c in key)
    return out[:MAX_TOKEN]


_KEPT = frozenset("abcdefghijklmnoprstuvwxyz0123456789")


def document_keys(text: str) -> frozenset[str]:
    """The index keys of a text, as :attr:`PreparedDocument.keys` has them."""
    keys: set[str] = set()
    for token in tokenize(text):
        keys.add(token.norm)
        keys.add(token.key)
    return frozenset(keys)


def search_text(keys: Iterable[str]) -> str:
    """The value of ``mentions.search_text`` for a mention with these index keys."""
    out = " ".join(sorted({index_token(key) for key in keys}))
    return OVERFLOW if len(out) > MAX_SEARCH_TEXT else out


# -- the pre-filter: an AND/OR expression over index tokens -------------------------------


@dataclass(frozen=True, slots=True)
class Key:
    """One index token, or every token starting with it (``prefix``)."""

    token: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Filter, ...]


Filter = Key | AllOf | AnyOf


def _combine(kind: type[AllOf] | type[AnyOf], parts: Iterable[Filter]) -> Filter:
    flat: list[Filter] = []
    for part in parts:
        for sub in part.parts if isinstance(part, kind) else (part,):
            if sub not in flat:
                flat.append(sub)
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def text_filter(node: Node, expansions: Expansions | None = None) -> Filter | None:
    """What a mention's index tokens must satisfy for ``node`` to possibly match it.

    Sound by construction (checked by a property test): whenever ``evaluate(node, doc)``
    holds, :func:`filter_holds` holds for the document's tokens. None: nothing to look up.
    ``expansions``: the index tokens each ``?`` wildcard may match (:func:`expand`).
    """
    if expansions:
        return _text_filter(node, expansions)
    return _text_filter(node, {})


def _text_filter(node: Node, expansions: Expansions) -> Filter | None:
    match node:
        case Term(text) | Phrase(text):
            words = query_tokens(text)
            if not words:
                return None
            return _combine(AllOf, (Key(index_token(w.key)) for w in words))
        case Hashtag(tag):
            return Key(index_token("#" + fold(nfc(tag))))
        case Mention(handle):
            return Key(index_token("@" + fold(nfc(handle))))
        case Wildcard(pattern, raw):
            expansion = expansions.get(node)
            if expansion is not None:
                return expansion.filter
            return _wildcard_filter(pattern, raw)
        case Field() | Rating() | Not():
            return None
        case Near(left, right):
            return _all(_text_filter(left, expansions), _text_filter(right, expansions))
        case And(children):
            return _all(*(_text_filter(child, expansions) for child in children))
        case Or(children):
            parts = [_text_filter(child, expansions) for child in children]
            if any(part is None for part in parts):
                return None
            return _combine(AnyOf, cast(list[Filter], parts))
    raise TypeError(f"not a query node: {node!r}")  # pragma: no cover


def _all(*parts: Filter | None) -> Filter | None:
    usable = [part for part in parts if part is not None]
    return _combine(AllOf, usable) if usable else None


def _wildcard_filter(pattern: str, raw: bool) -> Filter | None:
    # The evaluator compares fold(pattern) with each token's norm (raw: nfc(pattern) with
    # the raw token, whose norm then starts with the fold of the literal part, since fold
    # works character by character). The literal part before the first ? or * is a prefix.
    text = nfc(pattern)
    if not raw:
        text = fold(text)
    literal = re.split(r"[?*]", text, maxsplit=1)[0]
    prefix = fold(literal) if raw else literal
    if not prefix:
        return None
    return Key(index_token(prefix), prefix=True)


# -- ``?`` wildcards: expanded against the index vocabulary ---------------------------------

MAX_EXPANSION: Final = 2_000
"""Distinct index tokens one ``?`` wildcard may stand for; more is an error (be precise)."""


@dataclass(frozen=True, slots=True)
class Expansion:
    """The index tokens a ``?`` wildcard may match. ``exact``: a mention matches the wildcard
    exactly when it holds one of them (else they are only a superset: ``raw:``, cut tokens)."""

    tokens: frozenset[str]
    exact: bool

    @property
    def filter(self) -> Filter:
        if not self.tokens:  # nothing in the archive: only over-long mentions may match
            return Key(OVERFLOW)
        return _combine(AnyOf, (Key(token) for token in sorted(self.tokens)))


Expansions = Mapping[Wildcard, Expansion]


def jokers(node: Node) -> list[Wildcard]:
    """The wildcards with ``?`` in ``node``, in query order, each once."""
    found: list[Wildcard] = []

    def walk(item: Node) -> None:
        match item:
            case Wildcard(pattern) if "?" in pattern and item not in found:
                found.append(item)
            case Not(child):
                walk(child)
            case And(children) | Or(children):
                for child in children:
                    walk(child)
            case Near(left, right):
                walk(left)
                walk(right)

    walk(node)
    return found


def vocabulary_range(wildcard: Wildcard) -> tuple[str, str]:
    """Index tokens ``lo <= token < hi`` include every token the wildcard may match: those
    starting with the token of its literal part before the first ``?`` or ``*``."""
    text = nfc(wildcard.pattern)
    literal = fold(re.split(r"[?*]", text, maxsplit=1)[0])
    start = index_token(literal) if literal else ""
    return start, start + "{"  # tokens are [a-z0-9]: "{" sorts after all of them


def decode_token(token: str) -> tuple[str, bool]:
    """The index key a token stands for, and whether it is whole (not cut at MAX_TOKEN)."""
    out: list[str] = []
    i, n = 0, len(token)
    while i < n:
        char = token[i]
        if char != "q":
            out.append(char)
            i += 1
            continue
        digits = token[i + 1 : i + 5]
        if len(digits) < 4:
            return "".join(out), False
        out.append(chr(int(digits, 36)))
        i += 5
    return "".join(out), n < MAX_TOKEN


_UNIT: Final = "(?:[a-pr-z0-9]|q[0-9a-z]{4})"
"""One character of a key, in token form (see :func:`index_token`)."""
_SIGILS: Final = (index_token("#"), index_token("@"))


def expansion_regex(wildcard: Wildcard) -> re.Pattern[str]:
    """A regular expression over whole index tokens (one per line) for the keys the wildcard
    may match: exactly :func:`wildcard_match` on the folded key (``?`` is one character),
    or, for ``raw:``, the folded literal parts in order with anything where ``?``/``*``
    stood (folding may drop or expand a character)."""
    text = nfc(wildcard.pattern)
    body, star = (text[:-1], True) if text.endswith("*") else (text, False)
    out: list[str] = []
    if wildcard.raw:
        parts = re.split(r"[?*]", text)
        out.append("[a-z0-9]*".join(re.escape(_token_of(fold(part))) for part in parts))
    else:
        for char in fold(body):
            out.append(_UNIT if char == "?" else re.escape(_token_of(char)))
        if star:
            out.append("[a-z0-9]*")
    return re.compile("^" + "".join(out) + "$", re.MULTILINE)


def _token_of(text: str) -> str:
    """``text`` in token form, uncut (every character as :func:`index_token` writes it)."""
    return "".join(c if c in _KEPT else _escape(c) for c in text)


class Vocabulary:
    """Index tokens read from the database, ready to be matched by many wildcards."""

    def __init__(self, tokens: Iterable[str]) -> None:
        whole: list[str] = []
        self.cut: list[str] = []
        for token in tokens:
            if len(token) >= MAX_TOKEN:
                self.cut.append(token)
            elif not token.startswith(_SIGILS):  # #tags and @handles: their words are keys
                whole.append(token)
        self.joined = "\n".join(whole)


def expand(wildcard: Wildcard, vocabulary: Vocabulary | Iterable[str]) -> Expansion | None:
    """The tokens of ``vocabulary`` (index tokens in :func:`vocabulary_range`) the wildcard
    may match; None when there are more than :data:`MAX_EXPANSION`. Cut tokens (of words
    over :data:`MAX_TOKEN`) are kept as candidates: the evaluator decides."""
    words = vocabulary if isinstance(vocabulary, Vocabulary) else Vocabulary(vocabulary)
    found = set(expansion_regex(wildcard).findall(words.joined))
    start = vocabulary_range(wildcard)[0]
    cut = [token for token in words.cut if token.startswith(start)]
    found.update(cut)
    if len(found) > MAX_EXPANSION:
        return None
    return Expansion(frozenset(found), exact=not wildcard.raw and not cut)


Decider = Callable[[frozenset[str], PreparedDocument], bool]
"""A query's test on a mention's index tokens (from ``search_text``) and metadata."""


def key_decider(node: Node, expansions: Expansions | None = None) -> Decider | None:
    """A test equal to :func:`evaluate` that needs no tokenising: None if the query needs the
    text itself (multi-word phrases, ``NEAR``, ``raw:``, ``?`` wildcards).

    Words, hashtags, mentions and ``word*`` prefixes (not ``raw:``) are decided by the index
    tokens — a word matches when its folded form is among the mention's keys, and
    :func:`index_token` is one-to-one below :data:`MAX_TOKEN` — fields and ratings by the
    metadata, and any AND, OR, NOT of those likewise. Confirming a candidate then costs a few
    microseconds instead of tokenising its text (except over-long mentions, whose index holds
    only :data:`OVERFLOW`). ``?`` wildcards are decided when their :func:`expand`-ed tokens
    are exact.
    """
    return _key_decider(node, expansions or {})


def _key_decider(node: Node, expansions: Expansions) -> Decider | None:
    match node:
        case Term(text, False) | Phrase(text, False):
            words = query_tokens(text)
            if len(words) != 1 or not _short(words[0].key):
                return None
            return _has(index_token(words[0].key))
        case Hashtag(tag):
            key = "#" + fold(nfc(tag))
            return _has(index_token(key)) if _short(key) else None
        case Mention(handle):
            key = "@" + fold(nfc(handle))
            return _has(index_token(key)) if _short(key) else None
        case Wildcard(pattern, False) if node in expansions:
            expansion = expansions[node]
            if not expansion.exact:
                return None
            found = expansion.tokens
            return lambda tokens, _doc: not found.isdisjoint(tokens)
        case Wildcard(pattern, False):
            folded = fold(nfc(pattern))
            prefix = folded[:-1]
            if not (
                folded.endswith("*")
                and prefix
                and prefix[0].isalnum()
                and "*" not in prefix
                and "?" not in prefix
                and _short(prefix)
            ):
                return None
            start = index_token(prefix)
            return lambda tokens, _doc: any(t.startswith(start) for t in tokens)
        case Field() | Rating():
            return lambda _tokens, doc: evaluate(node, doc)
        case Not(child):
            inner = _key_decider(child, expansions)
            return None if inner is None else lambda tokens, doc: not inner(tokens, doc)
        case And(children) | Or(children):
            parts = [_key_decider(child, expansions) for child in children]
            if any(part is None for part in parts):
                return None
            tests = cast(list[Decider], parts)
            if isinstance(node, And):
                return lambda tokens, doc: all(test(tokens, doc) for test in tests)
            return lambda tokens, doc: any(test(tokens, doc) for test in tests)
    return None


def sql_exact(node: Node, expansions: Expansions | None = None) -> bool:
    """Whether :func:`text_filter` is exactly the query (not only a superset) for every
    mention that is not over-long: words, ``#tags``, ``@handles``, ``word*`` and exactly
    expanded ``?`` wildcards, under AND and OR. The database can then count the matches
    itself (facets in SQL), without confirming each one in Python."""
    known = expansions or {}
    match node:
        case Term(text, False) | Phrase(text, False, None):
            words = query_tokens(text)
            return len(words) == 1 and _short(words[0].key)
        case Hashtag(tag):
            return _short("#" + fold(nfc(tag)))
        case Mention(handle):
            return _short("@" + fold(nfc(handle)))
        case Wildcard(pattern, False):
            if node in known:
                return known[node].exact
            return "?" not in pattern and _key_decider(node, known) is not None
        case And(children) | Or(children):
            return all(sql_exact(child, known) for child in children)
    return False


NO_METADATA: Final = PreparedDocument(Document(""), ())


def _has(token: str) -> Decider:
    return lambda tokens, _doc: token in tokens


def metadata_only(doc: Document) -> PreparedDocument:
    """``doc`` for field and rating tests, without tokenising its text."""
    return PreparedDocument(doc, (), {}, {}, frozenset(), host_of(doc.url))


def _short(key: str) -> bool:
    return len(index_token(key)) < MAX_TOKEN


MAX_FILTER_DEPTH: Final = 20
"""Deepest AND/OR nesting sent to the database. The parser's limits keep accepted queries
below it (16 levels of parentheses); :func:`bounded` guarantees it whatever the query, since
SQLite FTS5's parser stack overflows near 34 alternating levels."""


def filter_depth(flt: Filter) -> int:
    if isinstance(flt, Key):
        return 0
    return 1 + max(filter_depth(part) for part in flt.parts)


def bounded(flt: Filter | None, depth: int = MAX_FILTER_DEPTH) -> Filter | None:
    """``flt`` cut to ``depth`` levels of AND/OR, still a superset of its matches: below the
    cut an AND keeps only its single keys (fewer conditions), an OR that cannot be kept
    whole is dropped from the AND above it (None: no pre-filter at all)."""
    if flt is None or isinstance(flt, Key) or filter_depth(flt) <= depth:
        return flt
    if depth <= 0:  # room for one key only: any key an AND requires
        if isinstance(flt, AnyOf):
            return None
        return next((part for part in flt.parts if isinstance(part, Key)), None)
    kept = [bounded(part, depth - 1) for part in flt.parts]
    if isinstance(flt, AnyOf):
        if any(part is None for part in kept):
            return None
        return _combine(AnyOf, cast(list[Filter], kept))
    usable = [part for part in kept if part is not None]
    return _combine(AllOf, usable) if usable else None


def filter_holds(flt: Filter, tokens: frozenset[str]) -> bool:
    """Whether a mention with these index tokens passes the filter (the backends' semantics)."""
    match flt:
        case Key(token, prefix):
            return token in tokens or (prefix and any(t.startswith(token) for t in tokens))
        case AllOf(parts):
            return all(filter_holds(part, tokens) for part in parts)
        case AnyOf(parts):
            return any(filter_holds(part, tokens) for part in parts)
    raise TypeError(f"not a filter: {flt!r}")  # pragma: no cover


def fts5_expression(flt: Filter, *, overflow: bool = True) -> str:
    """SQLite FTS5 ``MATCH`` syntax; ``overflow``: over-long mentions are candidates too."""
    return f"({_fts5(flt)}) OR {OVERFLOW}" if overflow else _fts5(flt)


def _fts5(flt: Filter) -> str:
    match flt:
        case Key(token, prefix):
            return f'"{token}"*' if prefix else f'"{token}"'
        case AllOf(parts):
            return "(" + " AND ".join(_fts5(p) for p in parts) + ")"
        case AnyOf(parts):
            return "(" + " OR ".join(_fts5(p) for p in parts) + ")"
    raise TypeError(f"not a filter: {flt!r}")  # pragma: no cover


def tsquery_expression(flt: Filter, *, overflow: bool = True) -> str:
    """PostgreSQL ``tsquery`` input (lexemes quoted, so nothing is parsed or normalised);
    ``overflow``: over-long mentions are candidates too."""
    return f"({_tsquery(flt)}) | '{OVERFLOW}'" if overflow else _tsquery(flt)


def _tsquery(flt: Filter) -> str:
    match flt:
        case Key(token, prefix):
            return f"'{token}':*" if prefix else f"'{token}'"
        case AllOf(parts):
            return "(" + " & ".join(_tsquery(p) for p in parts) + ")"
        case AnyOf(parts):
            return "(" + " | ".join(_tsquery(p) for p in parts) + ")"
    raise TypeError(f"not a filter: {flt!r}")  # pragma: no cover
