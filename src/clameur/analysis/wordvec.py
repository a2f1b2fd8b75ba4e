"""Pooled word vectors for the sentiment model (numpy-only lookup at inference).

Tokens are the words of :func:`clameur.analysis.features.word_hashes` (normalised text split
on non-word characters), identified by the same deterministic 64-bit hash, plus every emoji
or pictographic symbol (:data:`SYMBOL_RANGES`), each its own token, whose key is its code
point + 1 (the hash a one-character word would get; symbols are never word characters). A
:class:`Vocabulary` is a sorted array of word hashes plus, optionally, for each the row of a
vector table (identity when ``rows`` is ``None``); a text's dense feature is the mean of the
table rows of its known words (zero if none).

Mean pooling is linear, so a classifier over pooled vectors can ship the vectors already
projected onto its weights (``n_words x n_labels``): the artifact holds only word hashes
and those small rows. The vectors themselves are needed at training time only
(:mod:`clameur.analysis.sentiment_vectors`; :func:`load_spacy_vectors` reads spaCy's
``fr_core_news_md`` — Explosion fastText vectors, CC0).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import _NON_WORD, _codes, word_hashes

SPACY_PACKAGE = "fr_core_news_md"
_COMPONENTS = (
    "tok2vec",
    "morphologizer",
    "parser",
    "senter",
    "ner",
    "attribute_ruler",
    "lemmatizer",
)
SYMBOL_RANGES: tuple[tuple[int, int], ...] = ((0x2190, 0x2BFF), (0x1F000, 0x1FAFF))
"""Code points that are tokens of their own: arrows, symbols, dingbats, emoji."""


def is_symbol(token: str) -> bool:
    return len(token) == 1 and any(lo <= ord(token) <= hi for lo, hi in SYMBOL_RANGES)


def token_hashes(normed: Sequence[str]) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Keys and text ids of the tokens (words, then symbols) of normalised texts."""
    hashes, text_ids = word_hashes(normed)
    codes = _codes("\x00".join(normed))
    is_sym = np.zeros(codes.shape[0], dtype=bool)
    for lo, hi in SYMBOL_RANGES:
        is_sym |= (codes >= lo) & (codes <= hi)
    if not is_sym.any():
        return hashes, text_ids
    sym_rows = np.cumsum(codes == 0)[is_sym].astype(np.int64)
    return (
        np.concatenate((hashes, codes[is_sym] + np.uint64(1))),
        np.concatenate((text_ids, sym_rows)),
    )


def text_tokens(text: str) -> list[str]:
    """The tokens of one normalised text as strings (training-time helper)."""
    return _NON_WORD.sub(" ", text).split() + [c for c in text if is_symbol(c)]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    keys: NDArray[np.uint64]  # sorted, unique word hashes
    rows: NDArray[np.int64] | None = None  # row of each key in the table (None: i -> i)

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def lookup(self, normed: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(text ids, table rows)`` of every known token of the normalised texts."""
        return self.find(*token_hashes(normed))

    def find(
        self, hashes: NDArray[np.uint64], text_ids: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(text ids, table rows)`` of the tokens (``hashes``) this vocabulary knows."""
        if hashes.size == 0 or self.keys.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        idx = np.searchsorted(self.keys, hashes)
        idx[idx >= self.keys.size] = 0
        hit = self.keys[idx] == hashes
        found = idx[hit].astype(np.int64)
        return text_ids[hit], (found if self.rows is None else self.rows[found])


def is_single_word(word: str) -> bool:
    """True when ``word`` is one token of the feature tokeniser (so it can ever match)."""
    return bool(word) and _NON_WORD.sub(" ", word) == word and " " not in word


def vocabulary_of(words: Sequence[str]) -> tuple[Vocabulary, NDArray[np.int64]]:
    """Identity-row vocabulary of ``words`` (single tokens) and, per key, the word's index.

    Keys are sorted; on a 64-bit hash collision the first word is kept.
    """
    if not words:
        return Vocabulary(keys=np.zeros(0, np.uint64)), np.zeros(0, np.int64)
    hashes = np.zeros(len(words), dtype=np.uint64)
    plain: list[int] = []
    for i, word in enumerate(words):
        if is_symbol(word):
            hashes[i] = ord(word) + 1
        elif is_single_word(word):
            plain.append(i)
        else:
            raise ValueError(f"vocabulary: {word!r} is not a single normalised word")
    if plain:
        word_keys, _ = word_hashes([" ".join(words[i] for i in plain)])
        hashes[plain] = word_keys
    order = np.argsort(hashes, kind="stable")
    keys = hashes[order]
    unique = np.concatenate(([True], keys[1:] != keys[:-1]))
    return Vocabulary(keys=keys[unique]), order[unique].astype(np.int64)


def mean_pool(
    vocab: Vocabulary, table: NDArray[np.float32], normed: Sequence[str]
) -> NDArray[np.float32]:
    """Per-text mean of ``table`` rows over the known words (zeros for texts with none)."""
    return pool_rows(table, *vocab.lookup(normed), len(normed))


def pool_rows(
    table: NDArray[np.float32], text_ids: NDArray[np.int64], rows: NDArray[np.int64], n: int
) -> NDArray[np.float32]:
    """Per-text mean ``(n, dim)`` of ``table[rows]`` grouped by ``text_ids`` (zeros if none)."""
    out = np.zeros((n, table.shape[1]), dtype=np.float32)
    if rows.size == 0:
        return out
    counts = np.bincount(text_ids, minlength=n).astype(np.float32)
    if table.shape[1] <= 8:  # a few projected columns: one bincount each beats add.at
        picked = table[rows]
        for j in range(table.shape[1]):
            out[:, j] = np.bincount(text_ids, weights=picked[:, j], minlength=n)
    else:
        np.add.at(out, text_ids, table[rows])
    out /= np.maximum(counts, 1.0)[:, None]
    return out


@functools.lru_cache(maxsize=1)
def load_spacy_vectors(package: str = SPACY_PACKAGE) -> tuple[Vocabulary, NDArray[np.float32]]:
    """The vocabulary and L2-normalised vector table of a spaCy package (training only).

    Cached for the process (reading 500,000 keys takes seconds): treat as read-only."""
    import spacy  # type: ignore[import-not-found,unused-ignore]

    nlp: Any = spacy.load(package, exclude=list(_COMPONENTS))
    vectors = nlp.vocab.vectors
    strings = nlp.vocab.strings
    best: dict[str, tuple[bool, int]] = {}  # lower-cased word -> (was lower-case, row)
    for key, row in vectors.key2row.items():
        try:
            word = strings[key]
        except KeyError:
            continue
        lower = word.lower()
        if not is_single_word(lower):
            continue  # not a single token of our tokeniser: could never match
        exact = word == lower
        if lower not in best or (exact and not best[lower][0]):
            best[lower] = (exact, int(row))
    words = sorted(best)
    vocab, index = vocabulary_of(words)
    rows = np.array([best[words[int(i)]][1] for i in index], dtype=np.int64)
    data = np.asarray(vectors.data, dtype=np.float32)
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    table = (data / np.maximum(norms, 1e-6)).astype(np.float32)
    return Vocabulary(keys=vocab.keys, rows=rows), table
