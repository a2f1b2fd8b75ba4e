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

from collections.abc import Sequence
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


def sampled(texts: Sequence[str]) -> list[NDArray[np.int64]]:
    """The sampled shingles of each shingle string (unique, sorted)."""
    if not texts:
        return []
    hashes, starts = shingle_hashes(texts)
    ends = np.append(starts[1:], len(hashes))
    out = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        chunk = hashes[start:end]
        out.append(np.unique(chunk[chunk % SAMPLE == 0]).astype(np.int64))
    return out


def day_of(epoch_seconds: int) -> int:
    return epoch_seconds // _DAY_S


def batch_counts(
    shingles: Sequence[NDArray[np.int64]], days: Sequence[int]
) -> list[tuple[int, int, int]]:
    """``(shingle, day, docs)`` the batch adds to the vocabulary (the totals included)."""
    if not shingles:
        return []
    s = np.concatenate([*shingles, np.full(len(days), TOTAL, dtype=np.int64)])
    d = np.concatenate(
        [np.repeat(np.array(days, dtype=np.int64), [len(x) for x in shingles]), np.array(days)]
    )
    pairs, counts = np.unique(np.stack([s, d], axis=1), axis=0, return_counts=True)
    return [(int(a), int(b), int(c)) for (a, b), c in zip(pairs, counts, strict=True)]


def rare_counts(
    shingles: Sequence[NDArray[np.int64]],
    days: Sequence[int],
    known: Sequence[tuple[int, int, int]],
) -> list[int]:
    """How many of each mention's sampled shingles were rare before its day.

    ``known``: ``(shingle, day, docs)`` rows of every earlier batch for these shingles and
    the totals; the batch's own counts are added here (its earlier days count too).
    """
    rows = [*known, *batch_counts(shingles, days)]
    if not rows:
        return [0 for _ in shingles]
    table = np.array(rows, dtype=np.int64)
    out = [0] * len(shingles)
    for day in sorted(set(days)):
        keep = (table[:, 1] < day) & (table[:, 1] >= day - HORIZON_DAYS)
        names, where = np.unique(table[keep, 0], return_inverse=True)
        df = np.bincount(where, weights=table[keep, 2], minlength=len(names))
        position = np.searchsorted(names, TOTAL)
        total = float(df[position]) if position < len(names) and names[position] == TOTAL else 0.0
        limit = RARE_DOCS + RARE_SHARE * total
        for i, (own, d) in enumerate(zip(shingles, days, strict=True)):
            if d != day:
                continue
            if not len(names):
                out[i] = len(own)
                continue
            at = np.minimum(np.searchsorted(names, own), len(names) - 1)
            freq = np.where(names[at] == own, df[at], 0.0)
            out[i] = int(np.count_nonzero(freq < limit))
    return out
