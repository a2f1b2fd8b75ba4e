"""Language identification: lingua, restricted to the configured languages, with fallbacks.

lingua (n-gram models bundled in the wheel, nothing downloaded) runs in its low-accuracy mode
— trigrams only, ~0.15 ms a text, 94 % on the 7 lingua-covered val sets of tweets — and
only over the configured languages (default fr en de es it nl pt ar), which is both faster
and more accurate than asking it about 75 languages.

Function words first (#17): lingua's trigrams send short and mixed texts astray ("Worst
airline ever" → German, "Ma box est dead depuis ce matin, any news ?" → English). The
grammatical words of a sentence — articles, pronouns, negation, auxiliaries — belong to the
language it is built in, whatever nouns it borrows, so when the words of one configured
language (French, English, Dutch, German, Spanish: :data:`FUNCTION_WORDS`, each word
unambiguous between them) outnumber every other's by :data:`FUNCTION_MARGIN`, that language
is the answer and lingua is not asked.

Languages no model was trained for: lingua also weighs :data:`OTHER_LANGUAGES` (Polish,
Swedish, Turkish, Czech, Finnish, Hungarian, …). When one of them wins clearly on a text
with no function word of a configured language, its code is returned (``pl``…): the
analyser then gives "uncertain" rather than a sentiment read through the wrong language.

Very short or letter-poor texts (emoji only, "ok", a URL) carry too little evidence:

1. the record's own hint (a network's ``lang`` field) is kept when the text is short or
   lingua is unsure between its two best languages; on longer texts a configured hint
   close to lingua's best (within :data:`HINT_MARGIN`) wins;
2. otherwise a script decides when it is unambiguous (Arabic letters → ``ar``, Devanagari
   → ``hi`` when configured, …);
3. otherwise the language is left empty (``None``) rather than guessed.

Codes are ISO 639-1 (``fr``, ``en``…).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Final

from clameur.errors import InvalidInputError

DEFAULT_LANGUAGES: Final[tuple[str, ...]] = ("fr", "en", "de", "es", "it", "nl", "pt", "ar")

MIN_LETTERS: Final = 12
"""Below this many letters, a text is "short": the hint wins and lingua must be confident."""
MIN_DISTANCE: Final = 0.08
"""Short texts: lingua's best language must beat the second by this confidence margin."""
HINT_MARGIN: Final = 0.2
"""A configured hint wins when lingua's confidence in it is within this of its best."""
FUNCTION_MARGIN: Final = 2
"""Function words of one language must outnumber the next language's by this many."""
OTHER_MARGIN: Final = 0.3
"""An unconfigured language must beat the best configured one by this confidence."""


def _latin(text: str) -> bool:
    """At least 80 % of the letters are Latin (every one of :data:`OTHER_LANGUAGES` is)."""
    letters = _LETTER.findall(text[:200])
    return sum(ord(ch) < 0x250 for ch in letters) >= 0.8 * len(letters)


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


MIN_OTHER_LETTERS: Final = 20
"""Below this many letters, a text is never said to be in an unconfigured language."""
OTHER_LANGUAGES: Final[tuple[str, ...]] = (
    "pl",
    "cs",
    "sk",
    "sv",
    "da",
    "nb",
    "fi",
    "hu",
    "ro",
    "tr",
    "hr",
    "sl",
    "et",
    "lt",
    "lv",
)
"""Languages no model was trained for, weighed so that their texts are not forced into a
configured one (only the ones not configured)."""
FUNCTION_WORDS: Final[dict[str, frozenset[str]]] = {
    "fr": _words(
        "les est et je tu ils elle vous nous ne pas mon mes ton votre vos ce cette ces qui "
        "pour avec sur dans au aux toujours encore tres rien depuis j n qu c suis sont ont ai "
        "avez etait sans chez moi toi deja jamais aucun quoi pourquoi comment"
    ),
    "en": _words(
        "the are were my your you it this that and to of for with at not have has had does "
        "did why how what where when please thanks thank still again never they our be been "
        "can could would will got from just any nothing"
    ),
    "nl": _words(
        "het een niet ik jij jullie wij mijn uw van voor met naar nog geen weer wat waar "
        "waarom hoe dat dit zijn heb heeft hebben ook maar bij altijd nooit wordt werd zeg "
        "aub deze"
    ),
    "de": _words(
        "der das und ist nicht ich wir mein meine ihr ihre von mit auf fur kein keine wieder "
        "warum wo bitte danke seit immer schon zu dem ein eine einen sie"
    ),
    "es": _words("el los las y yo mis sus todavia otra gracias cuando donde estan sin muy pero"),
}
"""Grammatical words of each language, none shared by two of them (accents folded)."""
_WORD = re.compile(r"[^\W\d_]+")

_LETTER = re.compile(r"[^\W\d_]")
_URL = re.compile(r"(?:https?://|www\.)\S+|[@#]\w+")
_SCRIPTS: Final[dict[str, str]] = {
    "ARABIC": "ar",
    "DEVANAGARI": "hi",
    "HEBREW": "he",
    "GREEK": "el",
    "THAI": "th",
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "GEORGIAN": "ka",
    "ARMENIAN": "hy",
}


def _lingua_language(code: str) -> Any:
    from lingua import IsoCode639_1, Language

    try:
        iso = getattr(IsoCode639_1, code.upper())
    except AttributeError:
        raise InvalidInputError(
            f"unknown ISO 639-1 language code {code!r}", where="languages"
        ) from None
    return Language.from_iso_code_639_1(iso)


@lru_cache(maxsize=16)
def _detector(languages: tuple[str, ...], others: bool = False) -> Any:
    """lingua over ``languages`` (and, with ``others``, the :data:`OTHER_LANGUAGES` not
    among them)."""
    from lingua import LanguageDetectorBuilder

    if len(languages) == 1:
        return None
    # The models' languages too: a Spanish text for a French/English tenant is Spanish,
    # not an unknown language (it is then given the closest configured one).
    wide = DEFAULT_LANGUAGES + OTHER_LANGUAGES
    extra = tuple(c for c in dict.fromkeys(wide) if c not in languages) if others else ()
    langs = [_lingua_language(code) for code in languages + extra]
    return LanguageDetectorBuilder.from_languages(*langs).with_low_accuracy_mode().build()


def _fold_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.lower())
    return _WORD.findall("".join(ch for ch in folded if not unicodedata.combining(ch)))


def function_words(text: str, allowed: Sequence[str]) -> tuple[str | None, int]:
    """``(language, n)``: the configured language whose function words outnumber every
    other's by :data:`FUNCTION_MARGIN` in ``text`` (else ``None``), and how many function
    words of any configured language the text has."""
    counts = dict.fromkeys((c for c in allowed if c in FUNCTION_WORDS), 0)
    if not counts:
        return None, 0
    for word in _fold_words(text):
        for code in counts:
            if word in FUNCTION_WORDS[code]:
                counts[code] += 1
    ranked = sorted(counts.values(), reverse=True) + [0]
    total = sum(counts.values())
    if ranked[0] - ranked[1] < FUNCTION_MARGIN:
        return None, total
    return max(counts, key=lambda c: counts[c]), total


def parse_languages(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"fr, en"`` or ``["fr", "en"]`` → ``("fr", "en")``, each code checked."""
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = tuple(dict.fromkeys(c.strip().lower() for c in items if c.strip()))
    if not codes:
        raise InvalidInputError("at least one language code is needed", where="languages")
    for code in codes:
        _lingua_language(code)
    return codes


def _script_language(text: str, allowed: tuple[str, ...]) -> str | None:
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha() and ord(ch) > 0x2FF:
            try:
                script = unicodedata.name(ch).split(" ", 1)[0]
            except ValueError:
                continue
            if (code := _SCRIPTS.get(script)) is not None:
                counts[code] = counts.get(code, 0) + 1
    if not counts:
        return None
    best = max(counts, key=lambda c: counts[c])
    return best if best in allowed else None


class LanguageDetector:
    """Detects the language of a batch of texts among ``languages``."""

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES) -> None:
        self.languages = parse_languages(languages)
        self._lingua = _detector(self.languages)
        self._wide = _detector(self.languages, others=True)

    def detect(
        self, texts: Sequence[str], hints: Sequence[str | None] | None = None
    ) -> list[str | None]:
        hints = hints if hints is not None else [None] * len(texts)
        cleaned = [_URL.sub(" ", t[:2_000]) for t in texts]
        letters = [len(_LETTER.findall(t[:200])) for t in cleaned]
        out: list[str | None] = []
        detector = self._lingua
        for text, n_letters, hint in zip(cleaned, letters, hints, strict=True):
            hint = hint.lower() if hint else None
            if n_letters == 0:
                out.append(hint)
                continue
            if detector is None:
                out.append(self.languages[0])
                continue
            by_words, n_words = function_words(text, self.languages)
            if by_words is not None:
                out.append(by_words)
                continue
            if n_letters < MIN_LETTERS:
                if hint is not None:
                    out.append(hint)
                    continue
                out.append(self._confident(text) or _script_language(text, self.languages))
                continue
            # No grammatical word of a configured language: maybe none of them.
            wide = n_words == 0 and n_letters >= MIN_OTHER_LETTERS and _latin(text)
            choice = self._lingua_choice(text, hint, wide)
            out.append(choice or _script_language(text, self.languages))
        return out

    def _scores(self, text: str, wide: bool = False) -> list[tuple[str, float]]:
        detector = self._wide if wide else self._lingua
        values = detector.compute_language_confidence_values(text)
        return [(str(v.language.iso_code_639_1.name.lower()), float(v.value)) for v in values]

    def _lingua_choice(self, text: str, hint: str | None, wide: bool) -> str | None:
        """lingua's best configured language, the hint when close to it, or (``wide``) an
        unconfigured language that wins clearly (see the module docstring)."""
        scores = self._scores(text, wide)
        if not scores:
            return hint
        mine = [(c, v) for c, v in scores if c in self.languages]
        best, best_value = mine[0] if mine else (None, 0.0)
        top, top_value = scores[0]
        unknown = top in OTHER_LANGUAGES and top not in self.languages
        if unknown and top_value - best_value >= OTHER_MARGIN:
            return top
        if hint is not None and hint in self.languages:
            hinted = dict(mine).get(hint, 0.0)
            if best_value - hinted <= HINT_MARGIN:
                return hint
        return best or hint

    def _confident(self, text: str) -> str | None:
        values = [(c, v) for c, v in self._scores(text) if c in self.languages]
        if not values:
            return None
        if len(values) > 1 and values[0][1] - values[1][1] < MIN_DISTANCE:
            return None
        return values[0][0]
