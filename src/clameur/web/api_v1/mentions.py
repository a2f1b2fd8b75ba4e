"""Archive search and query test-drive over the REST API (``/api/v1``), in the tenant of
the request's principal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from clameur.config import Settings
from clameur.errors import InvalidInputError
from clameur.listening import (
    SearchHit,
    SearchTimeout,
    describe_query_error,
    preview_query,
    search,
)
from clameur.listening.query import QuerySyntaxError
from clameur.mentions.schemas import DATE_RANGE, in_date_range
from clameur.tenancy.principal import Principal
from clameur.web.api_v1.common import ClockDep, SessionDep, operation
from clameur.web.api_v1.search_rate import limiter_of
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["search"])

MAX_PAGE = 200


class MentionOut(BaseModel):
    id: int
    source: str
    external_id: str
    created_at: datetime
    text: str
    author: str
    url: str | None
    lang: str | None
    sentiment: str | None = Field(
        description="negative, neutral, positive, or uncertain: the model was not confident "
        "enough, or the language is not one it was trained on (read the text); null: not "
        "analysed yet."
    )
    rating: int | None
    brands: list[str] = Field(description="Slugs of the tenant's brands the mention is about.")


class FacetCount(BaseModel):
    value: str | None = Field(description="null: mentions without this field (or brand).")
    count: int


class Facets(BaseModel):
    source: list[FacetCount]
    sentiment: list[FacetCount]
    lang: list[FacetCount]
    brand: list[FacetCount]


class MentionPage(BaseModel):
    items: list[MentionOut] = Field(description="Newest first.")
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")
    total: int | None = Field(description="Size of the whole match set (first page, facets).")
    facets: Facets | None = Field(description="Counts over the whole match set (first page).")
    facets_stopped: bool = Field(
        False,
        description="The facets and total took too long to count and were left out (null); "
        "the page itself is complete. Narrow the query to get them.",
    )


class QueryTestDriveIn(BaseModel):
    query: str = Field(description="A draft listening query (docs/queries.md).")
    days: int = Field(30, ge=1, le=366, description="Look at the mentions of the last N days.")
    sample_size: int = Field(10, ge=0, le=MAX_PAGE, description="How many matches to show.")


class QueryTestDriveOut(BaseModel):
    query: str = Field(description="The query as understood (canonical form).")
    days: int
    since: datetime
    until: datetime
    mentions: int = Field(description="The tenant's stored mentions in the window.")
    matched: int = Field(description="How many of them the query matches.")
    sample: list[MentionOut] = Field(description="The newest matches.")
    facets: Facets


class SearchError(InvalidInputError):
    """A bad parameter: a 422 problem whose ``errors`` give its location (and the query
    column for a syntax error)."""

    def __init__(self, loc: list[str], message: str, kind: str, column: int | None = None):
        super().__init__(message, where=".".join(loc))
        self.detail: dict[str, Any] = {"loc": loc, "msg": message, "type": kind}
        if column is not None:
            self.detail["column"] = column


def _admit(request: Request, principal: Principal) -> tuple[float | None, float | None]:
    """Spend one of the principal's searches (429 past the rate); the search's timeout and
    the facets' (best effort)."""
    limiter_of(request).take(principal)
    settings: Settings = request.app.state.settings
    return settings.search_timeout_seconds or None, settings.search_facets_seconds or None


def _too_slow(exc: SearchTimeout) -> HTTPException:
    """503: the search was stopped at its deadline; the detail says to narrow it."""
    return HTTPException(503, detail=str(exc))


def _hit(hit: SearchHit) -> MentionOut:
    return MentionOut(
        id=hit.id,
        source=hit.source,
        external_id=hit.external_id,
        created_at=hit.created_at,
        text=hit.text,
        author=hit.author,
        url=hit.url,
        lang=hit.lang,
        sentiment=hit.sentiment,
        rating=hit.rating,
        brands=list(hit.brands),
    )


def _facets(counts: dict[str, list[tuple[str | None, int]]]) -> Facets:
    return Facets(
        **{
            name: [FacetCount(value=value, count=count) for value, count in pairs]
            for name, pairs in counts.items()
        }
    )


@router.get(
    "/mentions",
    response_model=MentionPage,
    summary="Search the tenant's stored mentions with the listening query language",
    **operation("mentions.read", 429, 503),
)
def list_mentions(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    q: Annotated[str | None, Query(description="A listening query; absent: every mention.")] = None,
    since: Annotated[
        datetime | None, Query(description="Created at or after (ISO 8601 with zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Created before (ISO 8601 with zone).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
    facets: Annotated[
        bool,
        Query(
            description="With the first page (no cursor): `total` and counts per source, "
            "sentiment, lang and brand over the whole match set."
        ),
    ] = True,
) -> MentionPage:
    for name, value in (("since", since), ("until", until)):
        if value is not None and not in_date_range(value):
            raise SearchError(["query", name], f"a date from {DATE_RANGE}", "value_error")
    facets = facets and cursor is None  # the first page carries them; later pages need not
    timeout, facets_timeout = _admit(request, principal)
    try:
        found = search(
            session,
            principal.tenant_id,
            q,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
            facets=facets,
            brands=True,
            timeout=timeout,
            facets_timeout=facets_timeout,
        )
    except SearchTimeout as exc:
        raise _too_slow(exc) from None
    except QuerySyntaxError as exc:
        raise SearchError(
            ["query", "q"], describe_query_error(exc), "query_syntax", exc.column
        ) from None
    except InvalidInputError as exc:
        raise SearchError(["query", exc.where or "q"], exc.reason, "value_error") from None
    return MentionPage(
        items=[_hit(hit) for hit in found.hits],
        next=found.next_cursor,
        total=found.total if facets else None,
        facets=_facets(found.facets) if found.facets is not None else None,
        facets_stopped=found.facets_stopped,
    )


@router.post(
    "/queries/test-drive",
    response_model=QueryTestDriveOut,
    summary="How many recent mentions a draft query matches, with a sample (nothing saved)",
    **operation("brands.read", 429, 503),
)
def query_test_drive(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    body: QueryTestDriveIn,
) -> QueryTestDriveOut:
    timeout, _facets_timeout = _admit(request, principal)  # the test-drive needs its counts
    try:
        preview = preview_query(
            session,
            principal.tenant_id,
            body.query,
            now=clock.now(),
            days=body.days,
            sample_size=body.sample_size,
            timeout=timeout,
        )
    except SearchTimeout as exc:
        raise _too_slow(exc) from None
    except QuerySyntaxError as exc:
        raise SearchError(
            ["body", "query"], describe_query_error(exc), "query_syntax", exc.column
        ) from None
    return QueryTestDriveOut(
        query=preview.query,
        days=preview.days,
        since=preview.since,
        until=preview.until,
        mentions=preview.mentions,
        matched=preview.matched,
        sample=[_hit(hit) for hit in preview.sample],
        facets=_facets(preview.facets),
    )
