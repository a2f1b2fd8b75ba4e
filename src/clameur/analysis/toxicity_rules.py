"""Transparent toxicity cues: a hand-written French/English lexicon read in context.

The learned toxicity model (:mod:`clameur.analysis.toxicity`) sees, next to the shared hashed
n-grams, a dozen counts computed here — how many insults aimed at someone, threats, slurs,
swear words aimed at nothing in particular, abusive words that are quoted, reported or
negated, leetspeak spellings of abusive words… Each count comes from a readable rule over
the words of ``lexicons/toxicity.txt``, so a score can be explained.

Texts are read from the shared normalisation (:func:`clameur.analysis.features.normalise_batch`:
lower-cased, URLs and mentions replaced, repeats squeezed to two, digits mapped to ``0``), with
two additions of their own:

1. **leetspeak** is undone from the *raw* text (where the digits are still there) on words
   mixing letters with digits or ``@$€|!*`` — ``c0nn4rd`` → ``connard``, ``s@l0pe`` →
   ``salope``, ``f*ck`` → ``fuck`` — when the result is a lexicon word; the word then replaces
   its normalised form, and such recoveries are counted;
2. quotation marks and clause punctuation become marker words (``zqo``, ``zqc``, ``zqt``,
   ``zpx``), so quotes and clause ends survive the split into words.

Lexicon words match with or without accents, and doubled letters count once on both sides
(``enculé``/``encule``, ``connard``/``conard``/``connaaard``). Everything is batch-wide: a
few regex passes with plain character classes (no Unicode ``\\w``, which is slow), one
``split``, one dict lookup per word, then numpy over the word ids.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import MAX_CHARS, normalise, normalise_batch

LEXICON_PATH = Path(__file__).resolve().parent / "lexicons" / "toxicity.txt"

CUE_NAMES: tuple[str, ...] = (
    "insult",  # an insult that only fits a person, not negated / quoted / reported
    "insult_addressed",  # an ambiguous insult (con, merde, porc…) aimed at "tu/vous" or "sale…"
    "insult_staff",  # an ambiguous insult in a clause naming a person (vendeur, livreur…)
    "criticism_addressed",  # criticism words (nul, incapable…) aimed at "tu/vous"
    "slur",  # a slur, not quoted or reported
    "abuse_phrase",  # fixed abuse ("ta gueule", "fils de pute"…)
    "threat",  # a threat phrase, or a violent verb aimed at someone
    "hate",  # a group word next to an insult, slur or dehumanising word; "sale" + group
    "swearing_untargeted",  # swear words aimed at no one (a furious customer and a printer)
    "neutralised",  # abusive words that are negated, quoted and reported, or about oneself
    "leetspeak",  # abusive words recovered from digits/symbols
    "denounce",  # words condemning abuse (inadmissible, plainte, raciste…)
)
N_CUES = len(CUE_NAMES)

# --- reading the words -------------------------------------------------------------------

_LETTER = "a-z\u00e0-\u00ff\u0153\u00e6"
_SEED = re.compile(rf"[0-9@$€|!*](?:(?<=[{_LETTER}].)|(?<!@)(?=[{_LETTER}]))")
_TOKEN = re.compile(rf"[{_LETTER}0-9@$€|!*]+")
_TOKEN_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyz0123456789@$€|!*"
    + "".join(chr(c) for c in range(0xE0, 0x100))
    + "œæ"
)
_LEET_CHARS = frozenset("0123456789@$€|!*")
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "€": "e",
        "!": "i",
        "|": "i",
    }
)
_DOUBLE = re.compile(rf"([{_LETTER}])\1+")
_QUOTE_OPEN, _QUOTE_CLOSE, _QUOTE_TOGGLE, _PUNCT, _ROW = "zqo", "zqc", "zqt", "zpx", "\x01"
_MARKS = (
    (re.compile(r"[.,;:!?…()\[\]{}]+"), f" {_PUNCT} "),
    (re.compile(r"[«“„‹]"), f" {_QUOTE_OPEN} "),
    (re.compile(r"[»”›]"), f" {_QUOTE_CLOSE} "),
    (re.compile(r"\""), f" {_QUOTE_TOGGLE} "),
)
_SEPARATORS = re.compile(rf"[^{_LETTER}0-9\x00 ]+")


def _strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def canonical(word: str) -> str:
    """The lexicon key of a word: no accents, doubled letters single (``enculé`` → ``encule``)."""
    return _DOUBLE.sub(r"\1", _strip_accents(word.replace("œ", "oe").replace("æ", "ae")))


def _split(joined: str) -> list[str]:
    """Words of a lower-cased text (or NUL-joined batch): punctuation and quotes as markers."""
    for pattern, marker in _MARKS:
        joined = pattern.sub(marker, joined)
    return _SEPARATORS.sub(" ", joined).replace("\x00", f" {_ROW} ").split()


def _undo_leet(
    texts: Sequence[str], normed: list[str], known: frozenset[str], abusive: frozenset[str]
) -> NDArray[np.int64]:
    """Rewrite leetspeak words of ``normed`` in place; return abusive recoveries per text."""
    n = len(texts)
    hits = np.zeros(n, np.int64)
    raw = "\x00".join(t[:MAX_CHARS].replace("\x00", " ") for t in texts).lower()
    seeds = [m.start() for m in _SEED.finditer(raw)]
    if not seeds:
        return hits
    codes = np.frombuffer(raw.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    rows = np.searchsorted(np.flatnonzero(codes == 0), np.asarray(seeds), side="right")
    done = -1
    for pos, row in zip(seeds, rows.tolist(), strict=True):
        if pos < done:
            continue
        start = pos
        while start > 0 and raw[start - 1] in _TOKEN_CHARS:
            start -= 1
        match = _TOKEN.match(raw, start)
        if match is None:  # pragma: no cover - the seed itself is a token character
            continue
        done = match.end()
        core = match.group().rstrip("!|*")
        if core.startswith("@") or not _LEET_CHARS.intersection(core):
            continue
        word = core.translate(_LEET)
        if "*" in word:  # a masked letter: the vowel that makes a lexicon word, if any
            word = next(
                (w for w in (word.replace("*", v) for v in "aeiou") if canonical(w) in known),
                word.replace("*", ""),
            )
        key = canonical(word)
        if key not in known:
            continue
        form = normalise(core)  # how the shared normalisation wrote it ("b@tard" → "b @user")
        pattern = rf"(?<![{_LETTER}0-9]){re.escape(form)}(?![{_LETTER}0-9])"
        replaced, count = re.subn(pattern, word, normed[row], count=1)
        if count:
            normed[row] = replaced
            hits[row] += key in abusive
    return hits


# --- the lexicon -------------------------------------------------------------------------

_SECTIONS: tuple[str, ...] = (
    "insult",
    "ambiguous",
    "critic",
    "slur",
    "profanity",
    "group",
    "dehumanise",
    "threat_strong",
    "threat_weak",
    "threat_phrase",
    "toxic_phrase",
    "negator",
    "addressee",
    "self",
    "person",
    "sale",
    "marker",
    "report",
    "denounce",
    "future",
)
_PHRASE_SECTIONS = frozenset({"threat_phrase", "toxic_phrase"})
_BIT: dict[str, int] = {name: 1 << i for i, name in enumerate(_SECTIONS)}
_BIT |= {
    name: 1 << (len(_SECTIONS) + i)
    for i, name in enumerate(("quote_open", "quote_close", "quote_toggle", "punct", "de"))
}
_BUILTIN = {
    "quote_open": [_QUOTE_OPEN],
    "quote_close": [_QUOTE_CLOSE],
    "quote_toggle": [_QUOTE_TOGGLE],
    "punct": [_PUNCT],
    "de": ["de", "d"],
    "future": ["vais", "va", "vas", "allons", "allez", "vont", "will", "gonna"],
}
_ABUSIVE_SECTIONS = ("insult", "ambiguous", "critic", "slur", "profanity")
_MAX_PHRASE = 4
_ROW_ID = 1  # id of the row separator word; 0 is "not in the lexicon"
_CACHE_SIZE = 200_000  # words remembered by Lexicon._ids before the cache is emptied


def read_lexicon(path: Path = LEXICON_PATH) -> dict[str, list[str]]:
    """Sections of the lexicon file: ``{section: [entry, …]}``; errors name file and line."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            if current not in _SECTIONS:
                raise ValueError(f"{path}:{number}: unknown section [{current}]")
            continue
        if current is None:
            raise ValueError(f"{path}:{number}: entry before any [section]")
        entries = [line] if current in _PHRASE_SECTIONS else line.split()
        sections.setdefault(current, []).extend(entries)
    return sections


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Word ids (every spelling variant of a word shares one id) and phrase tables."""

    vocab: dict[str, int]  # spelling → id
    word_bits: NDArray[np.int64]  # id → section bits of the single word
    phrase_keys: tuple[NDArray[np.int64], ...]  # index n-2: sorted keys of n-word phrases
    phrase_bits: tuple[NDArray[np.int64], ...]
    known: frozenset[str]  # canonical forms of every single word
    abusive: frozenset[str]  # canonical forms of the abusive single words
    cache: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, sections: dict[str, list[str]]) -> Lexicon:
        merged = {name: list(sections.get(name, [])) for name in _SECTIONS}
        for name, builtin in _BUILTIN.items():
            merged.setdefault(name, []).extend(builtin)
        ids: dict[str, int] = {}  # canonical → id
        vocab: dict[str, int] = {_ROW: _ROW_ID}
        bits: dict[int, int] = {}
        phrases: list[dict[int, int]] = [{} for _ in range(_MAX_PHRASE - 1)]
        abusive: set[str] = set()
        entries = [(name, entry) for name, values in merged.items() for entry in values]
        for _, entry in entries:
            for word in _split(entry.lower()):
                key = canonical(word)
                word_id = ids.setdefault(key, len(ids) + 2)
                for variant in (word, key):  # with and without accents
                    vocab[variant] = word_id
        size = len(ids) + 2
        for name, entry in entries:
            tokens = _split(entry.lower())
            word_ids = [ids[canonical(w)] for w in tokens]
            if len(word_ids) == 1:
                bits[word_ids[0]] = bits.get(word_ids[0], 0) | _BIT[name]
                if name in _ABUSIVE_SECTIONS:
                    abusive.add(canonical(tokens[0]))
            elif 1 < len(word_ids) <= _MAX_PHRASE:
                phrase = 0
                for part in word_ids:
                    phrase = phrase * size + part
                table = phrases[len(word_ids) - 2]
                table[phrase] = table.get(phrase, 0) | _BIT[name]
        word_bits = np.zeros(size, np.int64)
        for word_id, value in bits.items():
            word_bits[word_id] = value
        return cls(
            vocab=vocab,
            word_bits=word_bits,
            phrase_keys=tuple(np.array(sorted(t), np.int64) for t in phrases),
            phrase_bits=tuple(np.array([t[k] for k in sorted(t)], np.int64) for t in phrases),
            known=frozenset(ids),
            abusive=frozenset(abusive),
        )

    def _ids(self, words: list[str]) -> NDArray[np.int64]:
        """Word ids; a word not spelt as in the lexicon is retried with doubled letters made
        single (``connaard`` → ``conard``). Results are cached (bounded): texts repeat words,
        and a regex over the whole batch would cost more than the rest of the rules."""
        cache = self.cache
        ids = np.array(list(map(cache.get, words, repeat(-1))), dtype=np.int64)
        missing = np.flatnonzero(ids < 0)
        if missing.size:
            if len(cache) > _CACHE_SIZE:
                cache.clear()
            vocab = self.vocab
            for i in missing.tolist():
                word = words[i]
                found = cache.get(word)
                if found is None:
                    found = vocab.get(word, 0) or vocab.get(_DOUBLE.sub(r"\1", word), 0)
                    cache[word] = found
                ids[i] = found
        return ids

    def read(
        self, texts: Sequence[str], normed: Sequence[str]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """Section bits and text ids of every word of the batch, and leetspeak hits per text."""
        rewritten = list(normed)
        leet = _undo_leet(texts, rewritten, self.known, self.abusive)
        words = _split("\x00".join(rewritten))
        ids = self._ids(words)
        is_row = ids == _ROW_ID
        rows = np.cumsum(is_row)[~is_row]
        ids = ids[~is_row]
        out = self.word_bits[ids]
        size = self.word_bits.shape[0]
        n = ids.shape[0]
        for length in range(2, _MAX_PHRASE + 1):
            keys = self.phrase_keys[length - 2]
            if n < length or keys.shape[0] == 0:
                continue
            count = n - length + 1
            query = ids[:count].copy()
            for j in range(1, length):
                query = query * size + ids[j : j + count]
            idx = np.minimum(np.searchsorted(keys, query), keys.shape[0] - 1)
            found = (keys[idx] == query) & (rows[:count] == rows[length - 1 :])
            out[length - 1 :] |= np.where(found, self.phrase_bits[length - 2][idx], 0)
        return out, rows, leet


_DEFAULT: Lexicon | None = None


def default_lexicon() -> Lexicon:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Lexicon.build(read_lexicon())
    return _DEFAULT


# --- rules -------------------------------------------------------------------------------

_WINDOW = 6  # words: how far back a negation, a reporting verb or a pronoun reaches


@dataclass(frozen=True, slots=True)
class Cues:
    """Per-text cue counts (``values[:, k]`` is ``CUE_NAMES[k]``, capped at 3)."""

    values: NDArray[np.float32]  # (n, N_CUES)

    def column(self, name: str) -> NDArray[np.float32]:
        return self.values[:, CUE_NAMES.index(name)]


def cues(
    texts: Sequence[str], normed: Sequence[str] | None = None, lexicon: Lexicon | None = None
) -> Cues:
    """The rule cues of a batch: raw ``texts`` and their ``normalise_batch`` (computed if
    not given). See :data:`CUE_NAMES`."""
    lex = lexicon or default_lexicon()
    n = len(texts)
    out = np.zeros((n, N_CUES), np.float32)
    if n == 0:
        return Cues(out)
    if normed is None:
        normed = normalise_batch(texts)
    elif len(normed) != n:
        raise ValueError(f"{len(normed)} normalised texts for {n} texts")
    bits, rows, leet = lex.read(texts, normed)
    out[:, CUE_NAMES.index("leetspeak")] = np.minimum(leet, 3)
    size = bits.shape[0]
    if size == 0:
        return Cues(out)
    idx = np.arange(size)

    def has(*names: str) -> NDArray[np.bool_]:
        mask = 0
        for name in names:
            mask |= _BIT[name]
        return np.asarray((bits & mask) != 0, dtype=bool)

    new_row = np.ones(size, bool)
    new_row[1:] = rows[1:] != rows[:-1]
    boundary = new_row | has("punct")
    clause_start = np.maximum.accumulate(np.where(boundary, idx, 0))
    row_start = np.maximum.accumulate(np.where(new_row, idx, 0))
    clause = np.cumsum(boundary) - 1

    def last_before(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        acc = np.maximum.accumulate(np.where(mask, idx, -1))
        return np.concatenate(([-1], acc[:-1]))

    def next_after(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        acc = np.minimum.accumulate(np.where(mask, idx, size)[::-1])[::-1]
        return np.concatenate((acc[1:], [size]))

    def near_before(last: NDArray[np.int64], window: int = _WINDOW) -> NDArray[np.bool_]:
        return (last >= clause_start) & (last >= idx - window)

    def in_clause(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
        counts = np.bincount(clause, weights=mask, minlength=int(clause[-1]) + 1)
        return np.asarray(counts[clause] > 0, dtype=bool)

    def shifted(mask: NDArray[np.bool_], k: int) -> NDArray[np.bool_]:
        """``mask`` of the word ``k`` places before (k > 0) or after (k < 0), same text."""
        out_mask = np.zeros(size, bool)
        if k > 0 and size > k:
            out_mask[k:] = mask[:-k] & (rows[k:] == rows[:-k])
        elif k < 0 and size > -k:
            out_mask[:k] = mask[-k:] & (rows[:k] == rows[-k:])
        return out_mask

    def since_row_start(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        counts = np.concatenate(([0], np.cumsum(mask)))
        return counts[idx] - counts[row_start]

    quoted = (since_row_start(has("quote_open")) > since_row_start(has("quote_close"))) | (
        since_row_start(has("quote_toggle")) % 2 == 1
    )
    reporting_text = np.bincount(rows, weights=has("report", "denounce"), minlength=n) > 0
    addr_last = last_before(has("addressee"))
    self_last = last_before(has("self"))
    report_last = last_before(has("report"))
    self_ref = near_before(self_last) & (self_last > addr_last)
    reported = (quoted & reporting_text[rows]) | (
        near_before(report_last) & (addr_last < report_last)
    )
    marked = shifted(has("marker"), 1) | (shifted(has("de"), 1) & shifted(has("marker"), 2))
    negated = near_before(last_before(has("negator"))) & ~marked
    neutral = reported | self_ref
    clean = ~neutral & ~negated
    addressed = in_clause(has("addressee"))
    person = in_clause(has("person"))
    insult_word = has("insult")
    # "gros"/"grosse" are markers and ambiguous insults, but before a plain word they describe
    # a thing ("en gros caractères", "un gros problème"), not a person
    plain_next = shifted(~has("punct", *_ABUSIVE_SECTIONS), -1)
    descriptive = has("ambiguous") & has("marker") & plain_next
    ambiguous = has("ambiguous") & ~insult_word & ~descriptive
    after = next_after(has("addressee", "person"))
    after_same = (after < size) & (after <= idx + 3)
    after_same[after_same] &= clause[after[after_same]] == clause[after_same]
    future_before = near_before(last_before(has("future")), 3)

    masks = {
        "insult": insult_word & clean,
        "insult_addressed": ambiguous & (addressed | marked) & clean,
        "insult_staff": ambiguous & person & ~(addressed | marked) & clean,
        "criticism_addressed": has("critic") & ~ambiguous & ~insult_word & addressed & clean,
        "slur": has("slur") & ~neutral,
        "abuse_phrase": has("toxic_phrase") & ~neutral,
        "threat": (has("threat_phrase") & ~reported)
        | (has("threat_strong") & ~self_ref & ~reported & (near_before(addr_last, 2) | after_same))
        | (
            has("threat_weak")
            & ~reported
            & future_before
            & (shifted(has("addressee"), 1) | shifted(has("addressee"), -1))
        ),
        "hate": (  # the abusive word must itself be clean: "ne sont pas des voleurs" is not
            has("group")
            & (
                in_clause(has("insult", "slur", "dehumanise") & clean)
                | in_clause(ambiguous & ~has("profanity") & clean)
            )
            & clean
        )
        | (shifted(has("sale"), 1) & has("group")),
        "swearing_untargeted": has("profanity") & ~(addressed | marked | person),
        "neutralised": has("insult", "ambiguous", "slur", "toxic_phrase", "threat_phrase")
        & (neutral | negated),
        "denounce": has("denounce"),
    }
    # "sale" + a person word, and an ambiguous insult standing alone as a clause (", débile")
    n_clauses = int(clause[-1]) + 1
    words = np.bincount(clause, weights=~has("punct"), minlength=n_clauses)
    clause_size = words[clause]
    vocative = ambiguous & ~has("profanity") & (clause_size == 1) & clean
    masks["insult_addressed"] |= (shifted(has("sale"), 1) & has("person") & ~neutral) | vocative
    for name, mask in masks.items():
        counts = np.bincount(rows[mask], minlength=n)
        out[:, CUE_NAMES.index(name)] = np.minimum(counts, 3)
    return Cues(out)
