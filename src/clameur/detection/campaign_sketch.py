"""Near-duplicate sketches of mention texts: folded words → 4-gram shingles → MinHash → LSH.

The text is folded (case, accents), cut into words, and its set of character 4-grams (over
the words joined by one space) is summarised by a 64-value MinHash: datasketch's
``affine32`` scheme (MurmurHash3 finaliser, then affine permutations modulo 2**32, drawn
from the same seeded generator), computed here for a whole batch with one numpy matrix
operation instead of one object per text; a test checks the values equal datasketch's.
datasketch itself is not imported at run time: it pulls in scipy.integrate (0.6 s).
Character shingles survive what campaign templates do to avoid looking identical: swapped
or added words, typos, names, emojis (dropped by the folding), reordered sentences.

The first 30 values of the signature are cut into 10 bands of 3 for locality-sensitive
hashing: two texts with Jaccard similarity ``J`` share a band with probability
``1 - (1 - J**3)**10`` (0.74 at 0.5, 0.91 at 0.6, 0.99 at 0.7; 0.08 at 0.2). A campaign's
members are each close to several earlier ones, so a missed pair is found through another
(clusters merge). Each band is a row written on the import's hot path: 16 bands of 4
found the same campaigns with 60 % more rows, 8 bands of 4 missed members of small
campaigns (measured on generated campaigns of 6 to 20 rewrites, docs/detection.md).
The similarity that decides a link is estimated on all 64 values. Everything is
deterministic (no salted ``hash()``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final, cast

import numpy as np
from numpy.typing import NDArray

MIN_WORDS: Final = 6
"""Shorter texts are not compared ("Panne Volta ?" is everyone's words, not a template)."""
SHINGLE: Final = 4
NUM_PERM: Final = 64
BANDS: Final = 10
ROWS: Final = 3
MAX_CHARS: Final = 1_000
"""Texts are cut to this many characters: a campaign's posts are short, and a copied long
text is recognised from its beginning (the cost grows with the length)."""
SEED: Final = 1
_SHINGLES_PER_CHUNK: Final = 200_000
"""Bounds the (permutations × shingles) matrix of :func:`minhash` to ~50 MB."""

_WORD = re.compile(r"\w+")
_P = np.uint64(0x100000001B3)
_LOW32 = np.uint64(0xFFFFFFFF)

_COMBINING = {c: None for c in range(0x300, 0x10000) if unicodedata.combining(chr(c))}


def permutations(num_perm: int = NUM_PERM, seed: int = SEED) -> NDArray[np.uint32]:
    """``(a, b)`` of the affine permutations, as ``datasketch.MinHash(num_perm, seed)``
    draws them for its ``affine32`` scheme (odd multipliers)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return np.array([a, b], dtype=np.uint32)


_PERMUTATIONS = permutations()
_BAND_SALT = (np.arange(BANDS, dtype=np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)


def words(text: str) -> list[str]:
    """Folded words (case and accents removed); punctuation and emojis dropped."""
    decomposed = unicodedata.normalize("NFKD", text[:MAX_CHARS].casefold())
    if not decomposed.isascii():
        decomposed = decomposed.translate(_COMBINING)
    return _WORD.findall(decomposed)


def shingle_text(text: str) -> str | None:
    """The string whose 4-grams are the text's shingles; None when the text is too short."""
    found = words(text)
    if len(found) < MIN_WORDS:
        return None
    return " " + " ".join(found) + " "


def _fmix32(h: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """MurmurHash3's finaliser: datasketch applies it before its affine permutations."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return cast(NDArray[np.uint32], h ^ (h >> np.uint32(16)))


def shingle_hashes(texts: Sequence[str]) -> tuple[NDArray[np.uint32], NDArray[np.intp]]:
    """32-bit hashes of every 4-gram of ``texts`` (one buffer), and where each text starts.

    A polynomial hash over the code points, computed for the batch at once; windows that
    cross the separator between two texts are left out.
    """
    buffer = "\x00".join(texts) + "\x00"
    codes = np.frombuffer(buffer.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    codes = codes.astype(np.uint64)
    n = len(codes) - SHINGLE + 1
    h = codes[:n].copy()
    crosses = codes[:n] == 0
    for k in range(1, SHINGLE):
        h = h * _P + codes[k : k + n]
        crosses |= codes[k : k + n] == 0
    folded = ((h >> np.uint64(32)) ^ (h & _LOW32)).astype(np.uint32)
    keep = np.flatnonzero(~crosses)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.intp, count=len(texts))
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.intp)
    return folded[keep], np.searchsorted(keep, starts).astype(np.intp)


def minhash(texts: Sequence[str]) -> NDArray[np.uint32]:
    """MinHash signatures (``len(texts)`` × 64) of shingle strings (see :func:`shingle_text`).

    Equal to ``datasketch.MinHash(num_perm=64, seed=1)`` updated with the 4-gram hashes
    (a test checks it), at a fraction of the cost: one matrix operation per chunk.
    """
    out = np.empty((len(texts), NUM_PERM), dtype=np.uint32)
    a, b = _PERMUTATIONS[0][:, None], _PERMUTATIONS[1][:, None]
    start = 0
    while start < len(texts):
        end, size = start, 0
        while end < len(texts) and (end == start or size + len(texts[end]) <= _SHINGLES_PER_CHUNK):
            size += len(texts[end])
            end += 1
        hashes, offsets = shingle_hashes(texts[start:end])
        permuted = a * _fmix32(hashes)[None, :] + b
        out[start:end] = np.minimum.reduceat(permuted, offsets, axis=1).T
        start = end
    return out


def band_hashes(signatures: NDArray[np.uint32]) -> NDArray[np.int64]:
    """One signed 64-bit hash per LSH band (``n`` × 10), salted by the band's position."""
    values = signatures[:, : BANDS * ROWS].reshape(len(signatures), BANDS, ROWS).astype(np.uint64)
    h = np.broadcast_to(_BAND_SALT, (len(signatures), BANDS)).copy()
    for r in range(ROWS):
        h = (h ^ values[:, :, r]) * _P
    h ^= h >> np.uint64(31)
    return h.view(np.int64)


def similarity(a: NDArray[np.uint32], b: NDArray[np.uint32]) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal values."""
    return int(np.count_nonzero(a == b)) / NUM_PERM


def candidate_pairs(bands: NDArray[np.int64], first_new: int) -> tuple[NDArray[np.intp], ...]:
    """Every pair ``(i, j)``, ``i < j``, ``j >= first_new``, sharing at least one band.

    Rows are mentions in processing order (stored ones first, then the batch's): each new
    mention is paired with every earlier one of its buckets, for the whole batch at once
    (sorting each band's hashes, then expanding each bucket's earlier members with index
    arithmetic instead of a Python loop per mention). Returned sorted by ``j`` then ``i``.
    """
    n = len(bands)
    firsts: list[NDArray[np.intp]] = []
    seconds: list[NDArray[np.intp]] = []
    index = np.arange(n, dtype=np.intp)
    for b in range(bands.shape[1]):
        order = np.lexsort((index, bands[:, b]))
        keys, rows = bands[order, b], index[order]
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = keys[1:] != keys[:-1]
        group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
        rank = np.arange(n) - group_start  # how many earlier rows share this bucket
        pick = (rows >= first_new) & (rank > 0)
        counts = rank[pick]
        total = int(counts.sum())
        if not total:
            continue
        offsets = np.repeat(np.cumsum(counts) - counts, counts)
        within = np.arange(total) - offsets
        firsts.append(rows[np.repeat(group_start[pick], counts) + within])
        seconds.append(np.repeat(rows[pick], counts))
    if not firsts:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty
    pairs = np.unique(np.concatenate(seconds).astype(np.int64) * n + np.concatenate(firsts))
    return (pairs % n).astype(np.intp), (pairs // n).astype(np.intp)
