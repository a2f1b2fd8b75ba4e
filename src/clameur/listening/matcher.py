"""Brand matching: which brands (of which tenants) each mention of a batch is about.

Every brand query is parsed once (cached) into the query language of
:mod:`clameur.listening.query`. An inverted index maps each query's required keys (words,
``#tags``, ``@handles``) to the queries that need them, so a mention is tested only against
the queries it could match, plus the few that cannot be indexed (wildcards, fields alone).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from clameur.listening.query import (
    Document,
    Hashtag,
    Mention,
    Node,
    Or,
    PreparedDocument,
    QuerySyntaxError,
    Term,
    parse,
    prepare,
)
from clameur.listening.query import required_terms as _required_terms
from clameur.listening.query.compile import Predicate, compile_query
from clameur.listening.query.text import query_tokens
from clameur.mentions.draft import Draft, StepContext
from clameur.tenancy.models import Brand, Tenant

log = logging.getLogger(__name__)


@lru_cache(maxsize=65536)
def parse_cached(query: str) -> Node:
    return parse(query, limits=False)


@lru_cache(maxsize=65536)
def required_terms(query: Node) -> frozenset[str] | None:
    return _required_terms(query)


@dataclass(frozen=True, slots=True)
class BrandEntry:
    tenant_id: int
    tenant_slug: str
    brand_id: int
    slug: str
    queries: tuple[Node, ...]


class BrandCatalog:
    """Every brand with its parsed queries and the index over their required keys."""

    def __init__(self, entries: list[BrandEntry]) -> None:
        self.entries = entries
        self.by_slug: dict[str, list[BrandEntry]] = defaultdict(list)
        # Candidates are (entry number, compiled query, decided by the index alone), by key.
        self._candidates: list[tuple[int, Predicate, bool]] = []
        self._index: dict[str, list[int]] = defaultdict(list)
        self._unindexed: list[int] = []
        for number, entry in enumerate(entries):
            self.by_slug[entry.slug].append(entry)
            for query in entry.queries:
                keys = required_terms(query)
                cid = len(self._candidates)
                self._candidates.append(
                    (number, compile_query(query), keys is not None and _exact(query))
                )
                if keys is None:
                    self._unindexed.append(cid)
                    continue
                for key in keys:
                    self._index[key].append(cid)

    @classmethod
    def load(cls, session: Session, tenant_id: int | None = None) -> BrandCatalog:
        stmt = select(Brand.id, Brand.tenant_id, Brand.slug, Brand.queries, Tenant.slug).join(
            Tenant, Tenant.id == Brand.tenant_id
        )
        if tenant_id is not None:
            stmt = stmt.where(Brand.tenant_id == tenant_id)
        entries = []
        for brand_id, tid, slug, queries, tenant_slug in session.execute(stmt):
            parsed = []
            for text in queries:
                try:
                    parsed.append(parse_cached(text))
                except QuerySyntaxError as exc:  # saved before validation existed
                    log.warning(
                        "brand query ignored",
                        extra={"brand": slug, "query": text, "error": str(exc)},
                    )
            entries.append(BrandEntry(tid, tenant_slug, brand_id, slug, tuple(parsed)))
        return cls(entries)

    def matches(self, doc: Document | PreparedDocument) -> list[BrandEntry]:
        prepared = doc if isinstance(doc, PreparedDocument) else prepare(doc)
        found: set[int] = set()
        tried: set[int] = set()
        candidates = self._candidates
        index = self._index
        for cid in self._unindexed:
            number, test, _ = candidates[cid]
            if number not in found and test(prepared):
                found.add(number)
        for key in prepared.keys:
            for cid in index.get(key, ()):
                if cid in tried:
                    continue
                tried.add(cid)
                number, test, exact = candidates[cid]
                if number not in found and (exact or test(prepared)):
                    found.add(number)
        return [self.entries[number] for number in sorted(found)]


def _exact(node: Node) -> bool:
    """Whether finding one of the query's index keys in a document proves that it matches.

    True for a plain (not ``raw:``) one-word term, a hashtag, a mention, and an OR of those:
    their keys are exactly the folded tokens they look for.
    """
    match node:
        case Hashtag() | Mention():
            return True
        case Term(text, raw):
            tokens = query_tokens(text)
            return not raw and len(tokens) == 1 and tokens[0].kind == "word"
        case Or(children):
            return all(_exact(child) for child in children)
    return False


def document_of(draft: Draft) -> Document:
    m = draft.mention
    lang = draft.analysis.lang if draft.analysis and draft.analysis.lang else m.lang
    return Document(
        text=m.text,
        author=m.author.handle,
        source=m.source,
        lang=lang,
        url=m.url,
        rating=m.rating,
    )


def match_brands(ctx: StepContext, drafts: list[Draft]) -> list[Draft]:
    """Pipeline step: set each draft's tenant and brands.

    - an edit keeps its tenant and is matched again within it;
    - a record naming a ``brand`` slug goes to that brand (refused if unknown or ambiguous);
    - with a fixed tenant every record belongs to it, brands from its queries (maybe none;
      with ``ctx.keep_unmatched`` off — connectors — a record none matches is unmatched);
    - otherwise the record fans out to every tenant one of whose brands matches; a record
      no brand matches is counted as unmatched.
    """
    catalog = BrandCatalog.load(ctx.session)
    out: list[Draft] = []
    for draft in drafts:
        if draft.existing_id is not None:
            prepared = prepare(document_of(draft))
            draft.search_keys = prepared.keys
            draft.brand_ids = [
                e.brand_id for e in catalog.matches(prepared) if e.tenant_id == draft.tenant_id
            ]
            out.append(draft)
            continue
        named = draft.mention.brand
        if named is not None:
            candidates = [
                e
                for e in catalog.by_slug.get(named, [])
                if ctx.tenant_id is None or e.tenant_id == ctx.tenant_id
            ]
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
        prepared = prepare(document_of(draft))
        draft.search_keys = prepared.keys  # reused by the store step for archive search
        found = catalog.matches(prepared)
        if ctx.tenant_id is not None:
            draft.tenant_id = ctx.tenant_id
            draft.brand_ids = [e.brand_id for e in found if e.tenant_id == ctx.tenant_id]
            if not draft.brand_ids and not ctx.keep_unmatched:
                ctx.report.mark_draft(draft, "unmatched")
                continue
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
        search_keys=draft.search_keys,
        superseded=draft.superseded,
    )
