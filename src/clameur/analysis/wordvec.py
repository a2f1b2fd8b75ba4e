"""Pooled word vectors for the French sentiment head (numpy-only lookup at inference).

Words are the tokens of :func:`clameur.analysis.features.word_hashes` (normalised text split
on non-word characters), identified by the same deterministic 64-bit hash. A vocabulary is
a sorted array of word hashes plus, for each, a row of a vector table; a text's dense feature
is the mean of the (L2-normalised) vectors of its known words (zero if none).

Training reads the vectors of spaCy's ``fr_core_news_md`` (Explosion fastText vectors,
CC0; 20,000 distinct 300-d vectors shared by 500,000 keys) — spaCy is only needed to train.
The shipped artifact holds only the vocabulary hashes and the vectors already projected onto
the classifier's weights (``n_vectors x n_labels``), because mean pooling is linear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import _NON_WORD, word_hashes

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


@dataclass(frozen=True, slots=True)
class Vocabulary:
    keys: NDArray[np.uint64]  # sorted word hashes
    rows: NDArray[np.int64]  # row of each key in the vector table

    def lookup(self, normed: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(text ids, table rows)`` of every known word of the normalised texts."""
        hashes, text_ids = word_hashes(normed)
        if hashes.size == 0 or self.keys.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        idx = np.searchsorted(self.keys, hashes)
        idx[idx >= self.keys.size] = 0
        hit = self.keys[idx] == hashes
        return text_ids[hit], self.rows[idx[hit]]


def mean_pool(
    vocab: Vocabulary, table: NDArray[np.float32], normed: Sequence[str]
) -> NDArray[np.float32]:
    """Per-text mean of ``table`` rows over the known words (zeros for texts with none)."""
    n = len(normed)
    text_ids, rows = vocab.lookup(normed)
    out = np.zeros((n, table.shape[1]), dtype=np.float32)
    if rows.size == 0:
        return out
    counts = np.bincount(text_ids, minlength=n).astype(np.float32)
    np.add.at(out, text_ids, table[rows])
    out /= np.maximum(counts, 1.0)[:, None]
    return out


def load_spacy_vectors(package: str = SPACY_PACKAGE) -> tuple[Vocabulary, NDArray[np.float32]]:
    """The vocabulary and L2-normalised vector table of a spaCy package (training only)."""
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
        if not lower or _NON_WORD.sub(" ", lower) != lower or " " in lower:
            continue  # not a single token of our tokeniser: could never match
        exact = word == lower
        if lower not in best or (exact and not best[lower][0]):
            best[lower] = (exact, int(row))
    words = sorted(best)
    hashes, _ = word_hashes([" ".join(words)])
    rows = np.array([best[w][1] for w in words], dtype=np.int64)
    order = np.argsort(hashes, kind="stable")
    keys = hashes[order]
    rows = rows[order]
    unique = np.concatenate(([True], keys[1:] != keys[:-1]))  # (hash collisions: keep one)
    data = np.asarray(vectors.data, dtype=np.float32)
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    table = (data / np.maximum(norms, 1e-6)).astype(np.float32)
    return Vocabulary(keys=keys[unique], rows=rows[unique]), table
