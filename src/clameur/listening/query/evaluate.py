"""Reference evaluator: does a query match a mention?

Naïve and exhaustive on purpose (a fast, indexed matcher is to be checked against it). A
mention is prepared once (:func:`prepare`) and then tested against any number of queries.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

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
from clameur.listening.query.text import Token, fold, nfc, query_tokens, tokenize

Span = tuple[int, int]  # first and last token positions, inclusive


@dataclass(frozen=True, slots=True)
class Document:
    """A mention as the query language sees it."""

    text: str
    author: str | None = None
    source: str | None = None
    lang: str | None = None
    url: str | None = None
    country: str | None = None
    rating: int | None = None


@dataclass(slots=True)
class PreparedDocument:
    """A document with its tokens cut and indexed, ready for many queries."""

    doc: Document
    tokens: tuple[Token, ...]
    by_norm: dict[str, list[int]] = field(default_factory=dict)
    raw_index: dict[str, list[int]] | None = None  # built on first use: few queries are raw
    keys: frozenset[str] = frozenset()
    host: str | None = None
    _sorted: dict[bool, list[str]] = field(default_factory=dict)

    @property
    def by_raw(self) -> dict[str, list[int]]:
        """Positions of each word as written (NFC), for ``raw:`` queries."""
        index = self.raw_index
        if index is None:
            index = self.raw_index = {}
            for position, token in enumerate(self.tokens):
                index.setdefault(token.raw, []).append(position)
        return index

    def sorted_words(self, raw: bool) -> list[str]:
        """The distinct words (raw or folded), sorted: prefix lookups by bisection."""
        words = self._sorted.get(raw)
        if words is None:
            words = self._sorted[raw] = sorted(self.by_raw if raw else self.by_norm)
        return words

    @property
    def norms(self) -> list[str]:
        return [token.norm for token in self.tokens]


def prepare(doc: Document) -> PreparedDocument:
    """Tokenise and index ``doc`` once."""
    tokens = tokenize(doc.text)
    by_norm: dict[str, list[int]] = {}
    tags: list[str] = []
    for position, token in enumerate(tokens):
        positions = by_norm.get(token.norm)
        if positions is None:
            by_norm[token.norm] = [position]
        else:
            positions.append(position)
        if token.kind != "word":
            tags.append(token.key)
    keys = frozenset(by_norm).union(tags) if tags else frozenset(by_norm)
    return PreparedDocument(doc, tokens, by_norm, None, keys, host_of(doc.url))


def host_of(url: str | None) -> str | None:
    """The lower-case host of ``url`` (scheme optional), None if there is none."""
    if not url:
        return None
    url = url.strip()
    try:
        host = urlsplit(url if "://" in url else "//" + url).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


def evaluate(node: Node, doc: Document | PreparedDocument) -> bool:
    """Whether the query ``node`` matches ``doc``."""
    prepared = doc if isinstance(doc, PreparedDocument) else prepare(doc)
    return _eval(node, prepared)


def _eval(node: Node, doc: PreparedDocument) -> bool:
    match node:
        case And(children):
            return all(_eval(child, doc) for child in children)
        case Or(children):
            return any(_eval(child, doc) for child in children)
        case Not(child):
            return not _eval(child, doc)
        case Phrase(text, raw, window) if window is not None:
            return _within_window(query_tokens(text), raw, window, doc)
        case Field(name, value):
            return _field(name, value, doc)
        case Rating():
            return _rating(node, doc.doc.rating)
        case Near(left, right, distance, ordered):
            return _near(spans(left, doc), spans(right, doc), distance, ordered)
    return bool(spans(node, doc))


# -- positions --------------------------------------------------------------------------
def spans(node: Node, doc: PreparedDocument) -> list[Span]:
    """Where a positional node (leaf, or OR of leaves) occurs in ``doc``."""
    match node:
        case Term(text, raw) | Phrase(text, raw, None):
            return _sequence(query_tokens(text), raw, doc)
        case Wildcard(pattern, raw):
            return _wildcard(pattern, raw, doc)
        case Hashtag(tag):
            return _tagged(tag, "hashtag", doc)
        case Mention(handle):
            return _tagged(handle, "mention", doc)
        case Or(children):
            return sorted({span for child in children for span in spans(child, doc)})
    raise TypeError(f"not a positional query node: {node!r}")


def _same(query: Token, token: Token, raw: bool) -> bool:
    if query.kind != "word" and query.kind != token.kind:
        return False
    return query.raw == token.raw if raw else query.norm == token.norm


def _sequence(words: Sequence[Token], raw: bool, doc: PreparedDocument) -> list[Span]:
    first = words[0]
    starts = (doc.by_raw if raw else doc.by_norm).get(first.raw if raw else first.norm, [])
    found: list[Span] = []
    size = len(words)
    for start in starts:
        if start + size > len(doc.tokens):
            break
        if all(_same(w, doc.tokens[start + k], raw) for k, w in enumerate(words)):
            found.append((start, start + size - 1))
    return found


def _tagged(name: str, kind: str, doc: PreparedDocument) -> list[Span]:
    norm = fold(nfc(name))
    return [(p, p) for p in doc.by_norm.get(norm, []) if doc.tokens[p].kind == kind]


def wildcard_match(pattern: str, word: str) -> bool:
    """``?`` is exactly one character, a final ``*`` any ending (maybe empty)."""
    if pattern.endswith("*"):
        pattern = pattern[:-1]
        if len(word) < len(pattern):
            return False
        word = word[: len(pattern)]
    elif len(word) != len(pattern):
        return False
    return all(p == "?" or p == w for p, w in zip(pattern, word, strict=True))


def _wildcard(pattern: str, raw: bool, doc: PreparedDocument) -> list[Span]:
    pattern = nfc(pattern) if raw else fold(nfc(pattern))
    where = doc.by_raw if raw else doc.by_norm
    words = doc.sorted_words(raw)
    joker = pattern.find("?")
    stem = pattern.rstrip("*") if joker < 0 else pattern[:joker]
    positions: list[int] = []
    for k in range(bisect_left(words, stem), len(words)):
        word = words[k]
        if not word.startswith(stem):
            break
        if wildcard_match(pattern, word):
            positions.extend(where[word])
    return [(p, p) for p in sorted(positions)]


def _near(left: Iterable[Span], right: Iterable[Span], distance: int, ordered: bool) -> bool:
    rights = list(right)
    for l_start, l_end in left:
        for r_start, r_end in rights:
            if l_end < r_start:
                gap = r_start - l_end
            elif not ordered and r_end < l_start:
                gap = l_start - r_end
            else:
                continue
            if gap <= distance:
                return True
    return False


def _within_window(words: Sequence[Token], raw: bool, window: int, doc: PreparedDocument) -> bool:
    """All ``words`` on distinct positions of some ``window`` consecutive tokens."""
    tokens = doc.tokens
    # Hashtag/mention words only match their kind: place them before plain words.
    ordered = sorted(words, key=lambda w: w.kind == "word")
    last_start = max(len(tokens) - window, 0)
    for start in range(last_start + 1):
        free = list(range(start, min(start + window, len(tokens))))
        for word in ordered:
            hit = next((p for p in free if _same(word, tokens[p], raw)), None)
            if hit is None:
                break
            free.remove(hit)
        else:
            return True
    return False


# -- metadata ---------------------------------------------------------------------------
def _field(name: str, value: str, doc: PreparedDocument) -> bool:
    meta = doc.doc
    wanted = value.strip().casefold()
    if not wanted:
        return False
    if name == "site":
        host = doc.host
        site = host_of(value)
        if host is None or site is None:
            return False
        return host == site or host.endswith("." + site)
    if name == "url":
        return meta.url is not None and wanted in meta.url.casefold()
    if name == "author":
        return meta.author is not None and (
            meta.author.strip().casefold().lstrip("@") == wanted.lstrip("@")
        )
    if name == "lang":
        lang = (meta.lang or "").strip().casefold().replace("_", "-")
        return bool(lang) and (lang == wanted or lang.startswith(wanted.replace("_", "-") + "-"))
    if name == "source":
        return (meta.source or "").strip().casefold() == wanted
    if name == "country":
        return (meta.country or "").strip().casefold() == wanted
    raise ValueError(f"unknown field {name!r}")


def _rating(node: Rating, rating: int | None) -> bool:
    if rating is None:
        return False
    value = node.value
    match node.op:
        case "=":
            return rating == value
        case "<":
            return rating < value
        case "<=":
            return rating <= value
        case ">":
            return rating > value
        case ">=":
            return rating >= value
        case "..":
            return node.upper is not None and value <= rating <= node.upper
    return False  # pragma: no cover
