"""What a spike's mentions talk about: their distinctive words (for the alert's top terms)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clameur.mentions.draft import Draft

_STOP = frozenset(
    [
        "avec",
        "dans",
        "pour",
        "mais",
        "plus",
        "tout",
        "tous",
        "toute",
        "sont",
        "cette",
        "votre",
        "vous",
        "nous",
        "leur",
        "leurs",
        "elle",
        "ils",
        "être",
        "avoir",
        "fait",
        "faire",
        "comme",
        "aussi",
        "encore",
        "alors",
        "depuis",
        "chez",
        "très",
        "bien",
        "même",
        "that",
        "this",
        "with",
        "from",
        "have",
        "your",
        "just",
        "what",
        "when",
        "they",
        "them",
        "there",
        "their",
        "about",
        "would",
        "been",
        "were",
        "will",
        "than",
        "then",
        "into",
        "only",
        "also",
        "more",
        "some",
    ]
)


def terms_of(draft: Draft) -> list[str]:
    keys = draft.search_keys or frozenset()
    return sorted(k for k in keys if len(k) >= 4 and k.isalpha() and k not in _STOP)
