"""The detection interface and the ``detect`` pipeline step.

A detector sees each batch in event time, keeps its own state in the database, and raises
or updates :class:`~clameur.detection.models.Alert` rows (notifications go through the
outbox). The detectors themselves come with the detection issue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from clameur.mentions.draft import Draft, StepContext


class Detector(Protocol):
    def detect(self, ctx: StepContext, drafts: list[Draft]) -> None: ...


class NullDetector:
    """Raises nothing."""

    def detect(self, ctx: StepContext, drafts: list[Draft]) -> None:
        return None


def detect(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Pipeline step: hand the batch, in event-time order, to the tenant's detectors."""
    ctx.detector.detect(ctx, sorted(drafts, key=lambda d: d.mention.created_at))
    return drafts
