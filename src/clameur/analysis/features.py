"""Text normalisation and hashed sparse features for the analysis models.

Everything here is deterministic (no use of Python's salted ``hash()``) and batch-oriented:
:func:`extract` turns a list of texts into one CSR-like :class:`HashedBatch` (numpy arrays
only, no scipy needed at inference).

Features, all hashed into ``2**bits`` buckets:

* character n-grams (default 2–5) over the normalised text padded with spaces, so n-grams
  at word starts and ends carry the boundary; computed for the whole batch at once with a
  vectorised polynomial rolling hash over the code points;
* word unigrams and bigrams (``zlib.crc32``);
* optional lexicon features: one feature per polarity class of a hand-written lexicon
  (word or emoji) with a simple negation flip.

Values are sublinear term frequencies (``1 + log(tf)``), L2-normalised per text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_CHARS = 2_000
"""Texts are cut to this many characters before feature extraction (mentions are short)."""

_URL = re.compile(r"(?:https?://|www\.)[^\s\x00]+")
_USER = re.compile(r"@\w+")
_REPEAT = re.compile(r"([^\x00])\1{2,}")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\x00]+|_+")

# Multipliers and mixer for the hashes (odd 64-bit constants).
_P = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BIGRAM = np.uint64(0xC2B2AE3D27D4EB4F)
_SEP = 0  # code point separating texts in the batch buffer; never appears in normalised text


def normalise_batch(texts: Sequence[str]) -> list[str]:
    """Lower-case, map @mentions/URLs/digits to placeholder tokens, squeeze repeats.

    The whole batch is processed as one string (much faster than text by text). Robust to
    anything a ``str`` can hold: NULs become spaces, lone surrogates are kept as code points.
    """
    if not texts:
        return []
    big = "\x00".join(t[:MAX_CHARS].replace("\x00", " ") for t in texts).lower()
    big = _URL.sub(" http ", big)
    big = _USER.sub(" @user ", big)
    big = _REPEAT.sub(r"\1\1", big)
    big = _DIGITS.sub("0", big)
    big = _SPACES.sub(" ", big).replace(" \x00", "\x00").replace("\x00 ", "\x00")
    out = big.split("\x00")
    if len(out) != len(texts):  # defensive: a pattern must never eat a separator
        raise RuntimeError("normalise_batch lost a text separator")
    out[0] = out[0].lstrip()
    out[-1] = out[-1].rstrip()
    return out


def normalise(text: str) -> str:
    """Normalise one text (see :func:`normalise_batch`)."""
    return normalise_batch([text])[0]


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    bits: int = 18
    char_min: int = 2
    char_max: int = 5
    word_ngrams: int = 2
    lexicon: bool = True
    sublinear: bool = True

    def to_dict(self) -> dict[str, int | bool]:
        return {
            "bits": self.bits,
            "char_min": self.char_min,
            "char_max": self.char_max,
            "word_ngrams": self.word_ngrams,
            "lexicon": self.lexicon,
            "sublinear": self.sublinear,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FeatureConfig:
        def _int(key: str, default: int) -> int:
            value = data.get(key, default)
            return int(value) if isinstance(value, int | float | str) else default

        return cls(
            bits=_int("bits", 18),
            char_min=_int("char_min", 2),
            char_max=_int("char_max", 5),
            word_ngrams=_int("word_ngrams", 2),
            lexicon=bool(data.get("lexicon", True)),
            sublinear=bool(data.get("sublinear", True)),
        )


@dataclass(frozen=True, slots=True)
class HashedBatch:
    """A CSR sparse matrix as three numpy arrays (rows = texts, columns = hash buckets)."""

    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    data: NDArray[np.float32]
    n_features: int

    @property
    def n_rows(self) -> int:
        return int(self.indptr.shape[0] - 1)

    def dot(self, weights: NDArray[np.float32]) -> NDArray[np.float32]:
        """``X @ weights`` for a dense ``(n_features, k)`` weight matrix, numpy only."""
        k = weights.shape[1]
        out = np.zeros((self.n_rows, k), dtype=np.float32)
        if self.indices.size == 0:
            return out
        contrib = weights[self.indices].astype(np.float32) * self.data[:, None]
        starts = self.indptr[:-1]
        nonempty = self.indptr[1:] > starts
        sums = np.add.reduceat(contrib, starts[nonempty], axis=0)
        out[nonempty] = sums
        return out

    def to_scipy(self) -> Any:
        """The batch as a ``scipy.sparse.csr_matrix`` (training only; imports scipy)."""
        from scipy import sparse  # type: ignore[import-untyped]

        return sparse.csr_matrix(
            (self.data, self.indices, self.indptr), shape=(self.n_rows, self.n_features)
        )


# --- a tiny hand-written polarity lexicon (French + English; emoji and emoticons) ----------

_POS_WORDS = """
bien bon bonne bons bonnes super génial géniale excellent excellente parfait parfaite merci
bravo top magnifique superbe beau belle beaux belles adore adorer aime aimer j'aime j'adore
heureux heureuse content contente ravi ravie formidable incroyable félicitations chouette
sympa cool réussi réussite gagné gagner victoire espoir plaisir joie rire merveilleux
merveilleuse fier fière meilleur meilleure meilleurs agréable efficace recommande hâte
good great excellent perfect thanks thank love loved loving like awesome amazing happy glad
best better beautiful nice wonderful fantastic congrats congratulations win won enjoy
enjoyed fun excited proud lovely brilliant cute yay wow hope favorite favourite recommend
"""
_NEG_WORDS = """
mal mauvais mauvaise nul nulle pire horrible honte honteux triste déçu déçue déception
décevant décevante colère énervé énervée marre pourri arnaque problème problèmes panne
bug bugs scandale scandaleux inadmissible inacceptable catastrophe désastre grave mort
morts peur danger dangereux menace haine déteste détester dommage hélas malheureusement
galère lent lente cher chère inutile ridicule stupide con connerie merde putain fuck
bad worse worst terrible awful hate hated sad angry disappointed disappointing fail
failed failure poor problem problems broken scam sucks horrible shame shameful stupid
useless slow wrong ugly disaster crisis death dead kill killed fear threat never sorry
"""
_NEGATORS = """
ne pas n plus jamais rien aucun aucune sans not no never don doesn didn isn wasn can cannot
won nothing nor
"""
_POS_EMOJI = "😀😃😄😁😆😊🙂😍🥰😘😇🤩👍👏🙌💪🎉🥳❤♥💕💖💗💙💚💛💜🧡✨🔥👌😎🤗☺😻🌟⭐"
_NEG_EMOJI = "😠😡🤬😢😭😞😔😟😕🙁☹😩😫😤👎💔😒😣😖😰😱🤮🤢😷💩😑"


# --- hashing helpers (vectorised polynomial hashes over code points) ------------------------

_MASK64 = (1 << 64) - 1
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))


def _codes(text: str) -> NDArray[np.uint64]:
    raw = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return raw.astype(np.uint64)


def _prefix_hashes(
    codes: NDArray[np.uint64],
) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """``G`` with ``G[i] = sum_{j<i} (c[j]+1) * P**j`` and the table of ``P**-i`` (mod 2**64).

    The hash of ``codes[a:b]`` is then ``(G[b] - G[a]) * P**-a``, independent of ``a``.
    """
    n = codes.shape[0]
    powers = np.empty(n + 1, dtype=np.uint64)
    powers[0] = 1
    powers[1:] = _P
    np.cumprod(powers, out=powers)
    inv = np.empty(n + 1, dtype=np.uint64)
    inv[0] = 1
    inv[1:] = _P_INV
    np.cumprod(inv, out=inv)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum((codes + np.uint64(1)) * powers[:n], out=prefix[1:])
    return prefix, inv


def _word_spans(
    words_text: str,
) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Hashes and row ids of the space/NUL-separated words of ``words_text`` (NUL = new row)."""
    codes = _codes(words_text)
    n = codes.shape[0]
    if n == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    is_word = (codes != 32) & (codes != _SEP)
    padded = np.concatenate(([False], is_word, [False]))
    edges = np.diff(padded.astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    prefix, inv = _prefix_hashes(codes)
    hashes = (prefix[ends] - prefix[starts]) * inv[starts]
    rows = np.cumsum(codes == _SEP)[starts].astype(np.int64)
    return hashes, rows


def _lexicon_hashes(words: str) -> NDArray[np.uint64]:
    hashes, _ = _word_spans(" ".join(words.split()))
    return np.unique(hashes)


_LEX_POS = _lexicon_hashes(_POS_WORDS)
_LEX_NEG = _lexicon_hashes(_NEG_WORDS)
_LEX_NEGATORS = _lexicon_hashes(_NEGATORS)
_EMO_POS = np.unique(_codes(_POS_EMOJI))
_EMO_NEG = np.unique(_codes(_NEG_EMOJI))


def _bucket(hashes: NDArray[np.uint64], salt: int, bits: int) -> NDArray[np.int64]:
    mixed = (hashes ^ np.uint64(salt)) * _MIX
    return (mixed >> np.uint64(64 - bits)).astype(np.int64)


# --- extraction ------------------------------------------------------------------------


def _char_hashes(
    normed: Sequence[str], config: FeatureConfig
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row ids and buckets of every char n-gram of every normalised text, vectorised."""
    buffer = "\x00" + "\x00".join(f" {t} " for t in normed) + "\x00"
    codes = _codes(buffer)
    is_sep = codes == _SEP
    row_of = np.cumsum(is_sep) - 1  # row of each position (a separator opens the next row)
    sep_cum = np.concatenate(([0], np.cumsum(is_sep)))
    length = codes.shape[0]
    rows_parts: list[NDArray[np.int64]] = []
    cols_parts: list[NDArray[np.int64]] = []
    h = codes.copy()
    for n in range(2, config.char_max + 1):
        count = length - n + 1
        if count <= 0:
            break
        h = h[:count] * _P + codes[n - 1 : n - 1 + count]
        if n < config.char_min:
            continue
        starts = np.flatnonzero(sep_cum[n : n + count] == sep_cum[:count])
        cols_parts.append(_bucket(h[starts], n * 0x51ED27, config.bits))
        rows_parts.append(row_of[starts].astype(np.int64))
    if not rows_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows_parts), np.concatenate(cols_parts)


def _word_features(
    normed: Sequence[str], config: FeatureConfig
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Word unigrams, bigrams (within a text) and lexicon features, vectorised."""
    words_text = _NON_WORD.sub(" ", "\x00".join(normed))
    hashes, rows = _word_spans(words_text)
    rows_parts = [rows]
    cols_parts = [_bucket(hashes, 0x1111, config.bits)]
    if config.word_ngrams >= 2 and hashes.shape[0] > 1:
        same = rows[1:] == rows[:-1]
        big = hashes[:-1][same] * _BIGRAM + hashes[1:][same]
        rows_parts.append(rows[1:][same])
        cols_parts.append(_bucket(big, 0x2222, config.bits))
    if config.lexicon and hashes.shape[0]:
        pos = np.isin(hashes, _LEX_POS)
        neg = np.isin(hashes, _LEX_NEG)
        negator = np.isin(hashes, _LEX_NEGATORS)
        flip = np.zeros(hashes.shape[0], dtype=bool)
        for back in (1, 2, 3):  # a negator up to three words before, in the same text
            flip[back:] |= negator[:-back] & (rows[back:] == rows[:-back])
        lex_pos = (pos & ~flip) | (neg & flip)
        lex_neg = (neg & ~flip) | (pos & flip)
        for mask, salt in ((lex_pos, 0x3333), (lex_neg, 0x4444)):
            rows_parts.append(rows[mask])
            cols_parts.append(_bucket(np.zeros(int(mask.sum()), np.uint64), salt, config.bits))
        codes = _codes("\x00".join(normed))
        row_of = np.cumsum(codes == _SEP)
        for table, salt in ((_EMO_POS, 0x5555), (_EMO_NEG, 0x6666)):
            hit = np.flatnonzero(np.isin(codes, table))
            rows_parts.append(row_of[hit].astype(np.int64))
            cols_parts.append(_bucket(np.zeros(hit.shape[0], np.uint64), salt, config.bits))
    return np.concatenate(rows_parts), np.concatenate(cols_parts)


def extract(
    texts: Sequence[str],
    config: FeatureConfig | None = None,
    *,
    normed: Sequence[str] | None = None,
) -> HashedBatch:
    """Hashed, sublinear-TF, L2-normalised features of a batch of raw texts.

    ``normed`` may pass ``normalise_batch(texts)`` when the caller already has it.
    """
    config = config or FeatureConfig()
    n_features = 1 << config.bits
    normed = normalise_batch(texts) if normed is None else normed
    r1, c1 = _char_hashes(normed, config)
    r2, c2 = _word_features(normed, config)
    rows = np.concatenate((r1, r2))
    cols = np.concatenate((c1, c2))
    if config.sublinear:
        # Exact sublinear TF: merge duplicate (row, bucket) pairs first.
        uniq, counts = np.unique(rows * n_features + cols, return_counts=True)
        out_rows = uniq // n_features
        out_cols = uniq % n_features
        values = (1.0 + np.log(counts)).astype(np.float32)
    else:
        # Raw TF, duplicates left in place (summed by the dot product); the norm treats every
        # occurrence as distinct — cheaper (no sort), and what training saw too.
        order = np.argsort(rows, kind="stable")
        out_rows = rows[order]
        out_cols = cols[order]
        values = np.ones(out_rows.shape[0], dtype=np.float32)
    norms = np.sqrt(np.bincount(out_rows, weights=values * values, minlength=len(texts)))
    norms[norms == 0] = 1.0
    values /= norms[out_rows].astype(np.float32)
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(out_rows, minlength=len(texts)), out=indptr[1:])
    return HashedBatch(indptr=indptr, indices=out_cols, data=values, n_features=n_features)


def word_hashes(normed: Sequence[str]) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """64-bit hashes and text ids of the words of normalised texts (split on non-word chars).

    The same tokens (and hashes, before bucketing) as the word n-gram features.
    """
    return _word_spans(_NON_WORD.sub(" ", "\x00".join(normed)))
