"""Pipeline steps owned by mentions: dedupe, author resolution, storage."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, delete, select, update

from clameur.analysis.influence import author_score
from clameur.analysis.prioritise import record_influence
from clameur.db.bulk import (
    copy_rows,
    insert_missing_returning_ids,
    insert_returning_ids,
    keys_in,
    update_by_id,
)
from clameur.listening.search_facets import brand_set, facet_code
from clameur.listening.search_index import document_keys, search_text
from clameur.mentions.draft import Draft, StepContext
from clameur.mentions.models import Author, Mention
from clameur.tenancy.models import MentionBrand

# Bulk writes go through Core tables: the ORM's bulk paths cost more than the SQL here.
AUTHORS = cast(Table, Author.__table__)
MENTIONS = cast(Table, Mention.__table__)
MENTION_BRANDS = cast(Table, MentionBrand.__table__)


@dataclass(slots=True)
class _Version:
    """The current version of a mention while a batch's lines for it are folded in."""

    text: str
    content_hash: str
    history: list[dict[str, Any]]
    draft: Draft | None = None
    """The batch's line holding this version; None while it is the stored one."""
    applied: list[int] = field(default_factory=list)
    """Earlier lines of the batch whose versions this one replaced."""

    def seen(self, text: str) -> bool:
        return any(entry.get("text") == text for entry in self.history)


def _fold(ctx: StepContext, current: _Version | None, group: list[Draft]) -> _Version | None:
    """Apply the batch's lines for one mention, in file order, to its current version.

    One rule for every line, whether the version it meets came from the database or from an
    earlier line of the same batch — so the outcome never depends on the batch size: the
    same version again changes nothing; a text already replaced before (in the history) is
    a replay of that older version and is ignored; any other version is newer and replaces
    the current one, whose text goes to the history.
    """
    for draft in group:
        if current is None:
            current = _Version(draft.mention.text, draft.content_hash, [], draft)
            continue
        if draft.content_hash == current.content_hash or current.seen(draft.mention.text):
            ctx.report.mark(draft.line, "unchanged")
            continue
        history = list(current.history)
        if current.text != draft.mention.text:
            history.append(_version(ctx, current.text))
        applied = current.applied + ([current.draft.line] if current.draft is not None else [])
        current = _Version(draft.mention.text, draft.content_hash, history, draft, applied)
    return current


def dedupe(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Drop what is already stored unchanged; turn edits into updates that keep history.

    Idempotent on ``(source, external_id)``: the same record twice changes nothing. Lines
    of one mention are taken in file order (the later line is the later version) and
    folded in by :func:`_fold`, so replaying a file that holds both versions of an edited
    mention leaves the newest in place, and a file gives the same result at any batch size.
    """
    groups: dict[tuple[str, str], list[Draft]] = defaultdict(list)
    for draft in sorted(drafts, key=lambda d: d.line):
        if not draft.content_hash:  # computed by normalise_batch, line by line
            draft.content_hash = draft.mention.content_hash()
        groups[draft.key].append(draft)

    stored: dict[tuple[str, str], list[Any]] = defaultdict(list)
    columns = (
        Mention.id,
        Mention.tenant_id,
        Mention.source,
        Mention.external_id,
        Mention.content_hash,
        Mention.text,
        Mention.edit_history,
    )
    for among in keys_in(ctx.session, (Mention.source, Mention.external_id), list(groups)):
        stmt = select(*columns).where(among)
        if ctx.tenant_id is not None:
            stmt = stmt.where(Mention.tenant_id == ctx.tenant_id)
        for row in ctx.session.execute(stmt.order_by(Mention.id)):
            stored[(row.source, row.external_id)].append(row)

    out: list[Draft] = []
    for key, group in groups.items():
        rows = stored.get(key)
        if not rows:
            final = _fold(ctx, None, group)
            assert final is not None, "a group is never empty"
            assert final.draft is not None, "a fold from nothing ends on a line"
            final.draft.edit_history = final.history
            final.draft.superseded = final.applied
            out.append(final.draft)
            continue
        for row in rows:
            start = _Version(row.text, row.content_hash, list(row.edit_history))
            final = _fold(ctx, start, group)
            if final is None or final.draft is None:
                continue  # every line unchanged for this tenant's copy
            draft = final.draft
            out.append(
                Draft(
                    line=draft.line,
                    mention=draft.mention,
                    tenant_id=row.tenant_id,
                    existing_id=row.id,
                    edit_history=final.history,
                    content_hash=draft.content_hash,
                    superseded=final.applied,
                )
            )
    return sorted(out, key=lambda d: d.line)


def _version(ctx: StepContext, text: str) -> dict[str, Any]:
    return {"text": text, "replaced_at": ctx.clock.now().isoformat()}


def resolve_authors(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Find or create each draft's author (per tenant, source and handle), in bulk.

    Profile fields (followers, name, verification) follow the author's latest mention in
    event time, so replaying a file in any order of batches converges to the same profile.
    Race-safe: new authors go in with ``ON CONFLICT DO NOTHING``; one that a concurrent
    import stored meanwhile is selected and updated like any stored author.
    """
    by_key: dict[tuple[int, str, str], list[Draft]] = defaultdict(list)
    for draft in drafts:
        assert draft.tenant_id is not None, "resolve_authors runs after brand matching"
        by_key[(draft.tenant_id, draft.mention.source, draft.mention.author.handle)].append(draft)
    if not by_key:
        return drafts

    found = _stored_authors(ctx, list(by_key))
    newest = {key: max(group, key=lambda d: d.mention.created_at) for key, group in by_key.items()}
    first = {key: min(d.mention.created_at for d in group) for key, group in by_key.items()}
    profiles = {key: _profile(draft) for key, draft in newest.items()}

    ids = {key: row.id for key, row in found.items()}
    influence: list[tuple[int, float | None, float | None]] = []
    inserts = [
        {
            "tenant_id": key[0],
            "source": key[1],
            "handle": key[2],
            "first_seen_at": first[key],
            "last_seen_at": newest[key].mention.created_at,
            **profiles[key],
        }
        for key in sorted(set(by_key) - set(found))  # one lock order for every importer
    ]
    new_ids = insert_missing_returning_ids(
        ctx.session, AUTHORS, inserts, ("tenant_id", "source", "handle")
    )
    lost: list[tuple[int, str, str]] = []
    for row, new_id in zip(inserts, new_ids, strict=True):
        key = (row["tenant_id"], row["source"], row["handle"])
        if new_id is None:
            lost.append(key)  # a concurrent import stored it first
            continue
        ids[key] = new_id
        influence.append((key[0], None, row["influence_score"]))
    if lost:
        raced = _stored_authors(ctx, lost)
        found.update(raced)
        ids.update({key: row.id for key, row in raced.items()})

    updates: list[dict[str, Any]] = []
    for key, row in found.items():
        change: dict[str, Any] = {}
        latest = newest[key].mention.created_at
        if latest >= row.last_seen_at:
            change.update(profiles[key], last_seen_at=latest)
            influence.append((key[0], row.influence_score, profiles[key]["influence_score"]))
        if first[key] < row.first_seen_at:
            change["first_seen_at"] = first[key]
        if change:
            updates.append({"id": row.id, **change})
    update_by_id(ctx.session, AUTHORS, updates)
    record_influence(ctx.session, influence)
    for key, group in by_key.items():
        for draft in group:
            draft.author_id = ids[key]
    return drafts


def _stored_authors(
    ctx: StepContext, keys: list[tuple[int, str, str]]
) -> dict[tuple[int, str, str], Any]:
    found: dict[tuple[int, str, str], Any] = {}
    for among in keys_in(ctx.session, (Author.tenant_id, Author.source, Author.handle), keys):
        stmt = select(
            Author.id,
            Author.tenant_id,
            Author.source,
            Author.handle,
            Author.first_seen_at,
            Author.last_seen_at,
            Author.influence_score,
        ).where(among)
        for hit in ctx.session.execute(stmt):
            found[(hit.tenant_id, hit.source, hit.handle)] = hit
    return found


def _profile(draft: Draft) -> dict[str, Any]:
    a = draft.mention.author
    score = draft.analysis.author_score if draft.analysis is not None else None
    if score is None:
        score = author_score(a.followers, a.verified, a.created_at, draft.mention.created_at)
    return {
        "name": a.name,
        "followers": a.followers,
        "account_created_at": a.created_at,
        "verified": a.verified,
        "url": a.url,
        "influence_score": score,
    }


def _columns(draft: Draft) -> dict[str, Any]:
    m = draft.mention
    a = draft.analysis
    return {
        "author_id": draft.author_id,
        "text": m.text,
        # the match step's tokens when it kept them; tokenising again otherwise
        "search_text": search_text(
            draft.search_keys if draft.search_keys is not None else document_keys(m.text)
        ),
        "brand_set": brand_set(draft.brand_ids),
        "facet_code": facet_code(
            m.source,
            a.sentiment if a else None,
            a.lang if a else m.lang,
            brand_set(draft.brand_ids),
        ),
        "created_at": m.created_at,
        "url": m.url,
        "in_reply_to": m.in_reply_to,
        "rating": m.rating,
        "metrics": m.metrics,
        "raw": m.extra,
        "content_hash": draft.content_hash,
        "edit_history": draft.edit_history,
        "lang": a.lang if a else m.lang,
        "sentiment": a.sentiment if a else None,
        "sentiment_score": a.sentiment_score if a else None,
        "intent": a.intent if a else None,
        "intent_score": a.intent_score if a else None,
        "toxicity": a.toxicity if a else None,
        "toxicity_labels": list(a.toxicity_labels) if a else [],
        "actionability": a.actionability if a else None,
        "influence": a.influence if a else None,
        "reach": a.reach if a else None,
        "priority": a.priority if a else None,
        "priority_level": a.priority_level if a else None,
        "priority_reasons": list(a.priority_reasons) if a else [],
    }


def store(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Write new mentions (bulk insert) and edits (update in place), with brand links."""
    new = [d for d in drafts if d.existing_id is None]
    edited = [d for d in drafts if d.existing_id is not None]
    now = ctx.clock.now()
    if new:
        rows = [
            {
                "tenant_id": d.tenant_id,
                "source": d.mention.source,
                "external_id": d.mention.external_id,
                "conversation_id": d.conversation_id,
                "ingested_at": now,
                **_columns(d),
            }
            for d in new
        ]
        ids = insert_returning_ids(
            ctx.session, MENTIONS, rows, ("tenant_id", "source", "external_id")
        )
        for draft, new_id in zip(new, ids, strict=True):
            draft.mention_id = new_id
        for d in new:
            ctx.report.mark_draft(d, "imported")
    for d in edited:
        d.mention_id = d.existing_id
        ctx.session.execute(
            update(Mention).where(Mention.id == d.existing_id).values(**_columns(d))
        )
        ctx.report.mark_draft(d, "updated")
    if edited:
        ctx.session.execute(
            delete(MentionBrand).where(MentionBrand.mention_id.in_([d.existing_id for d in edited]))
        )
    links = [(d.tenant_id, d.mention_id, b) for d in drafts for b in dict.fromkeys(d.brand_ids)]
    copy_rows(ctx.session, MENTION_BRANDS, ("tenant_id", "mention_id", "brand_id"), links)
    return drafts
