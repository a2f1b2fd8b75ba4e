"""How distinctive a text is in its tenant's own archive: rare shingles, from document
frequencies kept per day in ``campaign_vocabulary``.

Near-identical texts are evidence of coordination only when the text is the campaign's
own: "Très bien, rien à redire, je recommande" is written by hundreds of genuine reviewers
and says nothing. Each mention's character 4-grams are sampled (those whose 32-bit hash
is a multiple of :data:`SAMPLE`, the same ones in every text), and a sampled shingle is
*rare* when fewer than ``RARE_DOCS + RARE_SHARE × N`` of the tenant's mentions of the
previous :data:`HORIZON_DAYS` days held it (``N``: those mentions). A mention's ``rare``
is how many of its sampled shingles are rare — about a quarter of its distinctive
4-grams. Only days strictly before the mention's own count, so the answer is the same
whatever the batch size (batches arrive in event-time order), and a campaign's own posts
never make it look common while it runs (it lasts hours).

On a new tenant every shingle is rare: distinctiveness then proves nothing either way and
the burst and account signals decide (docs/detection.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from clameur.detection.campaign_sketch import shingle_hashes

SAMPLE: Final = 4
HORIZON_DAYS: Final = 28
RARE_DOCS: Final = 3
RARE_SHARE: Final = 0.003
TOTAL: Final = -1
"""The ``shingle`` of the row counting a day's mentions."""
_DAY_S: Final = 86_400


@dataclass(frozen=True, slots=True)
class Sample:
    """The sampled shingles of a batch's texts, as (text, shingle) pairs, each pair once."""

    text: NDArray[np.int64]
    """Index of the text of each pair."""
    shingle: NDArray[np.int64]
    texts: int


def sampled(texts: Sequence[str]) -> Sample:
    """The sampled shingles of shingle strings (see ``campaign_sketch.shingle_text``)."""
    if not texts:
        empty = np.empty(0, dtype=np.int64)
        return Sample(empty, empty, 0)
    hashes, starts = shingle_hashes(texts)
    owner = np.repeat(
        np.arange(len(texts), dtype=np.int64), np.diff(np.append(starts, len(hashes)))
    )
    keep = hashes % SAMPLE == 0
    key = np.unique((owner[keep] << 32) | hashes[keep].astype(np.int64))
    return Sample(key >> 32, key & 0xFFFFFFFF, len(texts))


def day_of(epoch_seconds: int) -> int:
    return epoch_seconds // _DAY_S


def batch_counts(sample: Sample, days: Sequence[int]) -> list[tuple[int, int, int]]:
    """``(shingle, day, docs)`` the batch adds to the vocabulary (the totals included)."""
    if not sample.texts:
        return []
    day = np.asarray(days, dtype=np.int64)
    key, docs = np.unique((day[sample.text] << 32) | sample.shingle, return_counts=True)
    total_days, totals = np.unique(day, return_counts=True)
    shingles = np.concatenate([key & 0xFFFFFFFF, np.full(len(total_days), TOTAL)])
    on = np.concatenate([key >> 32, total_days])
    counts = np.concatenate([docs, totals])
    return list(zip(shingles.tolist(), on.tolist(), counts.tolist(), strict=True))


Stored = Callable[[int], tuple[NDArray[np.int64], NDArray[np.int64]]]
"""``day`` → the stored shingles and their documents over the :data:`HORIZON_DAYS` before
it (sorted by shingle; the totals under :data:`TOTAL`)."""


def _lookup(
    names: NDArray[np.int64], values: NDArray[np.int64], wanted: NDArray[np.int64]
) -> NDArray[np.int64]:
    if not len(names):
        return np.zeros(len(wanted), dtype=np.int64)
    at = np.minimum(np.searchsorted(names, wanted), len(names) - 1)
    return np.where(names[at] == wanted, values[at], 0)


def rare_counts(sample: Sample, days: Sequence[int], stored: Stored) -> list[int]:
    """How many of each text's sampled shingles were rare before its day: the stored
    counts of earlier batches, plus this batch's own earlier days."""
    out = np.zeros(sample.texts, dtype=np.int64)
    if not sample.texts:
        return []
    day = np.asarray(days, dtype=np.int64)
    pair_day = day[sample.text]
    for d in np.unique(day).tolist():
        names, docs = stored(d)
        prior = (pair_day < d) & (pair_day >= d - HORIZON_DAYS)
        own, own_docs = np.unique(sample.shingle[prior], return_counts=True)
        total = int(_lookup(names, docs, np.array([TOTAL]))[0])
        total += int(np.count_nonzero((day < d) & (day >= d - HORIZON_DAYS)))
        limit = RARE_DOCS + RARE_SHARE * total
        on = pair_day == d
        wanted = sample.shingle[on]
        freq = _lookup(names, docs, wanted) + _lookup(own, own_docs.astype(np.int64), wanted)
        out += np.bincount(sample.text[on][freq < limit], minlength=sample.texts)
    return [int(x) for x in out.tolist()]
