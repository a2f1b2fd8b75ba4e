"""What a spike's mentions talk about: their distinctive words (for the alert's top terms)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib.resources import files
from typing import TYPE_CHECKING, Final

from clameur.listening.query.text import fold

if TYPE_CHECKING:
    from clameur.mentions.draft import Draft


def _load(name: str) -> frozenset[str]:
    text = files("clameur.detection").joinpath("lexicons", name).read_text(encoding="utf-8")
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return frozenset(word for line in lines for word in line.split())


_STOP: Final = _load("generic_words.txt")
"""Function words, time words, greetings: never what an incident is about."""


def terms_of(draft: Draft) -> list[str]:
    keys = draft.search_keys or frozenset()
    return sorted(k for k in keys if len(k) >= 4 and k.isalpha() and k not in _STOP)


def brand_words(names: Iterable[str]) -> frozenset[str]:
    """The words of a brand's name and slug, folded as search keys are ("Volta Énergie" →
    volta, energie, voltaenergie; "volta-mobile" → volta, mobile, voltamobile)."""
    out: set[str] = set()
    for name in names:
        words = re.findall(r"[^\W\d_]+", fold(name))
        out.update(words)
        out.add("".join(words))
    return frozenset(w for w in out if w)


def distinctive(terms: Iterable[str], brand: frozenset[str]) -> list[str]:
    """``terms`` without the brand's own words: every mention of a spike names the brand,
    which says nothing about what the incident is (nor does its hashtag, "voltamobile")."""
    return [t for t in terms if t not in brand]
