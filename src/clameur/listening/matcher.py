"""Brand matching, first version: case- and accent-insensitive whole-word term match.

Each of a brand's queries is read as one term or phrase (``Volta Mobile``, ``@voltamobile``,
``#voltamobile``). The boolean query language and the indexed matcher of the listening
issue replace this module's matching; the step's contract stays.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.mentions.draft import Draft, StepContext
from clameur.tenancy.models import Brand, Tenant

_NON_WORD = re.compile(r"[^\w@#]+")
# Combining marks of the Basic Multilingual Plane, dropped after NFKD: "é" → "e".
_COMBINING = {c: None for c in range(0x10000) if unicodedata.combining(chr(c))}


@lru_cache(maxsize=4096)
def _fold_term(term: str) -> str:
    return fold(term)


def fold(text: str) -> str:
    """Lower-case, strip accents, keep letters, digits, ``@`` and ``#``; pad with spaces."""
    stripped = text.casefold()
    if not stripped.isascii():
        stripped = unicodedata.normalize("NFKD", stripped).translate(_COMBINING)
    return f" {_NON_WORD.sub(' ', stripped).replace('_', ' ').strip()} "


@dataclass(frozen=True, slots=True)
class BrandEntry:
    tenant_id: int
    tenant_slug: str
    brand_id: int
    slug: str
    terms: tuple[str, ...]


class BrandCatalog:
    """Every brand with its folded terms, loaded once per batch."""

    def __init__(self, entries: list[BrandEntry]) -> None:
        self.entries = entries
        self.by_slug: dict[str, list[BrandEntry]] = defaultdict(list)
        for entry in entries:
            self.by_slug[entry.slug].append(entry)

    @classmethod
    def load(cls, session: Session, tenant_id: int | None = None) -> BrandCatalog:
        stmt = select(Brand.id, Brand.tenant_id, Brand.slug, Brand.queries, Tenant.slug).join(
            Tenant, Tenant.id == Brand.tenant_id
        )
        if tenant_id is not None:
            stmt = stmt.where(Brand.tenant_id == tenant_id)
        entries = []
        for brand_id, tid, slug, queries, tenant_slug in session.execute(stmt):
            terms = tuple(t for t in (_fold_term(q) for q in queries) if t.strip())
            entries.append(BrandEntry(tid, tenant_slug, brand_id, slug, terms))
        return cls(entries)

    def matches(self, text: str) -> list[BrandEntry]:
        folded = fold(text)
        return [e for e in self.entries if any(term in folded for term in e.terms)]


def match_brands(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Pipeline step: set each draft's tenant and brands.

    - an edit keeps its tenant and is matched again within it;
    - a record naming a ``brand`` slug goes to that brand (refused if unknown or ambiguous);
    - with a fixed tenant every record belongs to it, brands from its queries (maybe none);
    - otherwise the record fans out to every tenant one of whose brands matches; a record
      no brand matches is counted as unmatched.
    """
    catalog = BrandCatalog.load(ctx.session)
    out: list[Draft] = []
    for draft in drafts:
        if draft.existing_id is not None:
            draft.brand_ids = [
                e.brand_id for e in catalog.matches(draft.mention.text)
                if e.tenant_id == draft.tenant_id
            ]  # fmt: skip
            out.append(draft)
            continue
        named = draft.mention.brand
        if named is not None:
            candidates = [
                e for e in catalog.by_slug.get(named, [])
                if ctx.tenant_id is None or e.tenant_id == ctx.tenant_id
            ]  # fmt: skip
            if not candidates:
                where = " in the import's tenant" if ctx.tenant_id is not None else ""
                ctx.report.reject_draft(draft, f"unknown brand {named!r}{where}")
                continue
            if len(candidates) > 1:
                tenants = ", ".join(sorted(e.tenant_slug for e in candidates))
                ctx.report.reject_draft(
                    draft, f"brand {named!r} is ambiguous (tenants {tenants}): use --tenant"
                )
                continue
            draft.tenant_id = candidates[0].tenant_id
            draft.brand_ids = [candidates[0].brand_id]
            out.append(draft)
            continue
        found = catalog.matches(draft.mention.text)
        if ctx.tenant_id is not None:
            draft.tenant_id = ctx.tenant_id
            draft.brand_ids = [e.brand_id for e in found if e.tenant_id == ctx.tenant_id]
            out.append(draft)
            continue
        by_tenant: dict[int, list[int]] = defaultdict(list)
        for entry in found:
            by_tenant[entry.tenant_id].append(entry.brand_id)
        if not by_tenant:
            ctx.report.mark_draft(draft, "unmatched")
            continue
        for tenant_id, brand_ids in sorted(by_tenant.items()):
            out.append(_for_tenant(draft, tenant_id, brand_ids))
    return out


def _for_tenant(draft: Draft, tenant_id: int, brand_ids: list[int]) -> Draft:
    return Draft(
        line=draft.line,
        mention=draft.mention,
        tenant_id=tenant_id,
        content_hash=draft.content_hash,
        edit_history=list(draft.edit_history),
        brand_ids=brand_ids,
        analysis=draft.analysis,
        superseded=draft.superseded,
    )
