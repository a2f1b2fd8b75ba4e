"""What a spike's mentions talk about: their distinctive words (for the alert's top terms)."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING, Final

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
