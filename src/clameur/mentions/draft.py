"""A mention in flight through the pipeline, the context every step receives, and the report.

Steps are plain functions ``step(ctx, drafts) -> drafts`` over a batch; they flush, never
commit — the caller (CLI command, worker, request) owns the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy.orm import Session

from clameur.clock import Clock
from clameur.mentions.schemas import MentionIn

if TYPE_CHECKING:
    from clameur.analysis import Analysis, Analyzer
    from clameur.detection import Detector

LineStatus = Literal["imported", "updated", "unchanged", "unmatched", "rejected"]
_RANK: Final[dict[str, int]] = {
    "unchanged": 0,
    "unmatched": 1,
    "imported": 2,
    "updated": 3,
    "rejected": 4,
}


@dataclass(slots=True)
class Draft:
    """One mention for one tenant, enriched step after step."""

    line: int
    """1-based line of the input (or sequence number of a live batch)."""
    mention: MentionIn
    tenant_id: int | None = None
    existing_id: int | None = None
    """Set when this draft updates a stored mention (an edit)."""
    edit_history: list[dict[str, Any]] = field(default_factory=list)
    content_hash: str = ""
    brand_ids: list[int] = field(default_factory=list)
    analysis: Analysis | None = None
    search_keys: frozenset[str] | None = None
    """Index keys of the text (folded words, #tags, @handles), kept by the match step from its
    tokenisation so that the store step need not tokenise again for archive search."""
    author_id: int | None = None
    conversation_id: int | None = None
    mention_id: int | None = None
    superseded: list[int] = field(default_factory=list)
    """Earlier lines of the same batch with older versions of this mention."""
    flags: list[str] = field(default_factory=list)
    """Set by detection: "campaign" for a suspected member of a coordinated campaign."""
    alert_ids: list[int] = field(default_factory=list)
    """Alerts (incidents) this mention was attached to by detection, for care's grouping."""

    @property
    def key(self) -> tuple[str, str]:
        return self.mention.source, self.mention.external_id


@dataclass
class BatchReport:
    """What happened to every input line: counted once, with the reasons of rejections."""

    status: dict[int, LineStatus] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def mark(self, line: int, status: LineStatus) -> None:
        current = self.status.get(line)
        if current is None or _RANK[status] > _RANK[current]:
            self.status[line] = status

    def mark_draft(self, draft: Draft, status: LineStatus) -> None:
        """Mark a draft's line and the earlier lines it superseded in the same batch.

        A new mention whose batch held several versions counts as imported once, then
        updated for each later version.
        """
        lines = [*draft.superseded, draft.line]
        if status == "imported":
            self.mark(lines[0], "imported")
            for line in lines[1:]:
                self.mark(line, "updated")
            return
        for line in lines:
            self.mark(line, status)

    def reject_draft(self, draft: Draft, reason: str) -> None:
        for line in [*draft.superseded, draft.line]:
            self.reject(line, reason)

    def reject(self, line: int, reason: str) -> None:
        self.mark(line, "rejected")
        self.errors.append({"line": line, "reason": reason})

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("imported", "updated", "unchanged", "unmatched", "rejected"), 0)
        for status in self.status.values():
            out[status] += 1
        return out

    def merge(self, other: BatchReport) -> None:
        for line, status in other.status.items():
            self.mark(line, status)
        self.errors.extend(other.errors)


@dataclass(frozen=True, slots=True)
class RetroFlag:
    """Stored posts of a campaign recognised in this batch (detection → care)."""

    tenant_id: int
    alert_id: int
    members: tuple[tuple[str, str], ...]
    """``(source, external_id)`` of the posts stored before the alert."""
    at: datetime
    """Event time of the recognition (the timeline event's time)."""


@dataclass
class StepContext:
    session: Session
    clock: Clock
    analyzer: Analyzer
    detector: Detector
    tenant_id: int | None = None
    """Fixed tenant (``import --tenant``, a tenant's connector); None lets brand queries decide."""
    conversation_window_hours: int = 48
    keep_unmatched: bool = True
    """With a fixed tenant: keep records none of its brands match (``import --tenant``);
    False for connectors, whose unmatched records are counted ``unmatched``, not stored."""
    report: BatchReport = field(default_factory=BatchReport)
    prefetched: Mapping[int, tuple[str, Analysis]] | None = None
    """Analyses computed ahead of the batch (a long import analyses the next batches in a
    child process while this one is written): line → (content hash, analysis)."""
    retro_flags: list[RetroFlag] = field(default_factory=list)
    """Set by detection, read by care in the same batch: campaign posts stored before their
    campaign was recognised, whose conversations care flags and takes out of the queues."""
