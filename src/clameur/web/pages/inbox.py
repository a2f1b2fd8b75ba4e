"""The inbox (``/`` and ``/inbox``): the person's views and queues beside the list of
conversations, highest priority first, with filters, bulk actions and the keyboard.

- ``GET /`` and ``GET /inbox?view=…&brand=&source=&lang=&level=&status=&sentiment=&intent=
  &tag=&q=&cursor=``: the page. Without ``view``: an agent's own conversations, everyone
  else's "all open" (:func:`clameur.care.inbox_views.default_view`).
- ``GET /inbox/rows?…``: the list alone (htmx): refreshed live on the ``inbox`` and
  ``presence`` events, and the next page (``cursor``, ``append=1``: rows to append and the
  new "load more"). ``shown`` asks for as many rows as the page had loaded (up to 200),
  so a live refresh keeps them.
- ``GET /inbox/views?…``: the views and their counts (the side bar), refreshed live.
- ``POST /inbox/bulk``: :mod:`clameur.web.pages.inbox_bulk`.

A page reads a handful of statements whatever the number of conversations (the list: two,
plus the search's when there is one; the counts: one; the choices: four). Presence (who is
viewing or typing) is in the process's registry; its names are one query.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from babel import Locale
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from clameur.care.inbox import Page
from clameur.care.inbox_views import (
    ACTING_ROLES,
    INTENTS,
    LEVELS,
    SENTIMENTS,
    STATUS_CHOICES,
    Choices,
    View,
    choices,
    limit_of,
    view_counts,
    view_page,
)
from clameur.errors import ForbiddenError, InvalidInputError
from clameur.listening import describe_query_error
from clameur.listening.query import QuerySyntaxError
from clameur.mentions.schemas import SOURCE_ORDER
from clameur.tenancy.principal import Principal
from clameur.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    CurrentPage,
    PageSession,
    check_csrf,
    clock_of,
    page_session,
)
from clameur.web.deps import db_session
from clameur.web.i18n import gettext_for
from clameur.web.pages.common import (
    INTENT_LABELS,
    N_,
    SENTIMENT_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    forbidden,
    language,
    render,
    working_page,
)
from clameur.web.pages.inbox_bulk import MAX_BACK, problem_of, run_bulk, summary, wanted_ids
from clameur.web.pages.inbox_query import InboxQuery, parse
from clameur.web.pages.live import others_on

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

DbSession = Annotated[Session, Depends(db_session, scope="function")]
PAGE_SIZE = 50
LANGUAGES = ("fr", "en", "es", "de", "it", "pt", "nl", "ar")
"""Languages offered by the filter (any code can be typed in the address)."""

FIELD_MESSAGES = {
    "view": N_("This view does not exist."),
    "brand": N_("Choose a brand from the list."),
    "source": N_("Choose a source from the list."),
    "lang": N_("Enter a language code such as fr or en."),
    "level": N_("Choose a priority from the list."),
    "status": N_("Choose a status from the list."),
    "sentiment": N_("Choose a sentiment from the list."),
    "intent": N_("Choose an intent from the list."),
    "tag": N_("A tag is at most 40 characters."),
    "q": N_("The search cannot be read:"),
    "cursor": N_("This page of results has expired: here is the first one."),
}
VIEW_LABELS = {
    "mine": N_("Mine"),
    "unassigned": N_("Not assigned"),
    "all": N_("All open"),
    "p1": N_("P1 — urgent"),
    "sla": N_("SLA at risk"),
    "backoffice": N_("Waiting on back office"),
}
REASON_NAMES = {
    "churn threat": N_("churn threat"),
    "complaint": N_("complaint"),
    "request": N_("request"),
    "question": N_("question"),
    "spam": N_("spam"),
    "negative": N_("negative"),
    "first-hand fact": N_("first-hand fact"),
    "attack": N_("attack"),
    "toxic": N_("toxic"),
    "verified": N_("verified account"),
}
REASON_PATTERNS = (
    (re.compile(r"influencer (\S+) followers"), N_("influencer, %(n)s followers")),
    (
        re.compile(r"top (\d+)% audience \((\S+) followers\)"),
        N_("top %(n)s%% audience (%(m)s followers)"),
    ),
    (re.compile(r"top (\d+)% audience"), N_("top %(n)s%% audience")),
    (re.compile(r"reach ~(\S+)"), N_("reach ~%(n)s")),
    (re.compile(r"old \((\d+) days\)"), N_("old (%(n)s days)")),
)
"""The priority's reasons (:mod:`clameur.analysis.priority` writes them in English)."""


def reason_text(lang: str, reason: str) -> str:
    """One priority reason in the person's language (unknown ones as written)."""
    _ = gettext_for(lang)
    if reason in REASON_NAMES:
        return _(REASON_NAMES[reason])
    for pattern, message in REASON_PATTERNS:
        found = pattern.fullmatch(reason)
        if found:
            values = dict(zip(("n", "m"), found.groups(), strict=False))
            return _(message, **values)
    return reason


STATUS_FILTER_LABELS = {"active": N_("everything to handle"), "any": N_("any status")}


def _principal(request: Request, page: PageSession, session: Session) -> Principal | HTMLResponse:
    found = working_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    return found.principal


def views_for(principal: Principal, offered: Choices) -> list[View]:
    """The views in the side bar: the fixed ones (``mine`` for those who hold
    conversations), then one per queue and per open incident."""
    fixed = ["mine"] if principal.role in ACTING_ROLES else []
    fixed += ["unassigned", "all", "p1", "sla", "backoffice"]
    return [
        *(View(kind) for kind in fixed),
        *(View("queue", q.id) for q in offered.queues),
        *(View("incident", i.id) for i in offered.incidents),
    ]


def load_rows(
    request: Request,
    session: Session,
    principal: Principal,
    query: InboxQuery,
    *,
    limit: int = PAGE_SIZE,
) -> tuple[InboxQuery, Page]:
    """The query's page; a search that cannot be read or a stale cursor is reported in
    the query's errors and the page shown without it."""
    now = clock_of(request).now()
    try:
        return query, view_page(
            session,
            principal,
            query.view,
            query.filters,
            now=now,
            limit=limit,
            cursor=query.cursor,
        )
    except QuerySyntaxError as exc:
        errors = {**query.errors, "q": describe_query_error(exc)}
        query = InboxQuery(query.view, replace(query.filters, q=None), None, errors)
    except InvalidInputError as exc:
        if exc.where != "cursor":
            raise
        query = InboxQuery(query.view, query.filters, None, {**query.errors, "cursor": ""})
    page = view_page(session, principal, query.view, query.filters, now=now, limit=limit)
    return query, page


def rows_context(
    request: Request,
    session: Session,
    principal: Principal,
    query: InboxQuery,
    found: Page,
    *,
    lang: str,
    failed: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    ids = [item.id for item in found.items]
    return {
        "reasons": {i.id: [reason_text(lang, r) for r in i.priority_reasons] for i in found.items},
        "query": query,
        "items": found.items,
        "next_cursor": found.next_cursor,
        "others": others_on(request, session, ids, principal.user_id),
        "failed": dict(failed or {}),
        "me": principal.user_id,
        "view_labels": VIEW_LABELS,
        "sentiment_labels": SENTIMENT_LABELS,
        "intent_labels": INTENT_LABELS,
    }


def _error_messages(request: Request, page: PageSession, query: InboxQuery) -> dict[str, str]:
    _ = gettext_for(language(request, page.user))
    out = {}
    for name, detail in query.errors.items():
        message = _(FIELD_MESSAGES.get(name, FIELD_MESSAGES["q"]))
        out[name] = f"{message} {detail}" if name == "q" else message
    return out


def inbox_page(
    request: Request,
    page: PageSession,
    session: Session,
    params: Mapping[str, str],
    *,
    notice: str | None = None,
    failed: Mapping[int, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The whole page for ``params`` (the GET's query, or the address a bulk action came
    from)."""
    principal = _principal(request, page, session)
    if isinstance(principal, HTMLResponse):
        return principal
    lang = language(request, page.user)
    query = parse(principal, params)
    offered = choices(session, principal)
    query, found = load_rows(request, session, principal, query)
    views = views_for(principal, offered)
    now = clock_of(request).now()
    counts = view_counts(session, principal, views, now=now)
    context = {
        "section": "inbox",
        "live": True,
        "search_text": query.filters.q,
        **rows_context(request, session, principal, query, found, lang=lang, failed=failed),
        **_side_context(query, offered, views, counts),
        "errors": _error_messages(request, page, query),
        "notice": notice,
        "options": filter_options(lang, query),
        "view_title": view_title(lang, query.view, offered),
        "brands": offered.brands,
        "agents": offered.agents,
    }
    bad = query.errors and not set(query.errors) <= {"cursor"}
    return render(
        request,
        "inbox.html",
        context,
        page=page,
        session=session,
        status_code=422 if bad and status_code == 200 else status_code,
    )


def filter_options(lang: str, query: InboxQuery) -> dict[str, list[tuple[str, str]]]:
    """Each filter's choices as (value, label in the person's language)."""
    _ = gettext_for(lang)
    names = Locale.parse(lang).languages
    languages = sorted({*LANGUAGES, *([query.filters.lang] if query.filters.lang else [])})
    return {
        "status": [
            (s, _(STATUS_FILTER_LABELS.get(s) or STATUS_LABELS.get(s, s))) for s in STATUS_CHOICES
        ],
        "level": [(level, level) for level in LEVELS],
        "source": [(s, _(SOURCE_LABELS.get(s, s))) for s in SOURCE_ORDER],
        "lang": [(code, names.get(code, code.upper())) for code in languages],
        "sentiment": [(s, _(SENTIMENT_LABELS.get(s, s))) for s in SENTIMENTS],
        "intent": [(i, _(INTENT_LABELS.get(i, i))) for i in INTENTS],
    }


def view_title(lang: str, view: View, offered: Choices) -> str:
    if view.kind in VIEW_LABELS:
        return gettext_for(lang)(VIEW_LABELS[view.kind])
    named = offered.queues if view.kind == "queue" else offered.incidents
    return next((c.name for c in named if c.id == view.target), f"#{view.target}")


def _side_context(
    query: InboxQuery, offered: Choices, views: list[View], counts: Mapping[str, int | None]
) -> dict[str, Any]:
    names = {
        **{f"queue:{q.id}": q.name for q in offered.queues},
        **{f"incident:{i.id}": i.name for i in offered.incidents},
    }
    current = query.view.key
    if query.view.kind in ("queue", "incident") and current not in names:
        names[current] = f"#{query.view.target}"
    return {"views": views, "view_names": names, "view_counts": counts}


def rows_fragment(
    request: Request,
    page: PageSession,
    session: Session,
    principal: Principal,
    query: InboxQuery,
    *,
    shown: int | None = None,
    append: bool = False,
    failed: Mapping[int, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    query, found = load_rows(request, session, principal, query, limit=limit_of(shown))
    lang = language(request, page.user)
    context = {
        **rows_context(request, session, principal, query, found, lang=lang, failed=failed),
        "append": append,
    }
    return render(
        request,
        "inbox/rows.html",
        context,
        page=page,
        session=None,
        status_code=status_code,
        headers=headers,
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, page: CurrentPage, session: DbSession) -> HTMLResponse:
    """After sign-in: the person's inbox."""
    return inbox_page(request, page, session, request.query_params)


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, page: CurrentPage, session: DbSession) -> HTMLResponse:
    return inbox_page(request, page, session, request.query_params)


@router.get("/inbox/rows", response_class=HTMLResponse)
def rows(
    request: Request,
    page: CurrentPage,
    session: DbSession,
    shown: Annotated[int | None, Query(ge=0, le=10_000)] = None,
    append: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    principal = _principal(request, page, session)
    if isinstance(principal, HTMLResponse):
        return principal
    query = parse(principal, request.query_params)
    return rows_fragment(request, page, session, principal, query, shown=shown, append=append)


@router.get("/inbox/views", response_class=HTMLResponse)
def views(request: Request, page: CurrentPage, session: DbSession) -> HTMLResponse:
    principal = _principal(request, page, session)
    if isinstance(principal, HTMLResponse):
        return principal
    query = parse(principal, request.query_params)
    offered = choices(session, principal)
    listed = views_for(principal, offered)
    counts = view_counts(session, principal, listed, now=clock_of(request).now())
    context = {
        "query": query,
        "view_labels": VIEW_LABELS,
        **_side_context(query, offered, listed, counts),
    }
    return render(request, "inbox/views.html", context, page=page, session=None)


@router.post("/inbox/bulk", response_class=HTMLResponse)
def bulk(
    request: Request,
    page: CurrentPage,
    session: DbSession,
    ids: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI's form list
    action: Annotated[str, Form(max_length=20)] = "",
    to: Annotated[str, Form(max_length=20)] = "",
    tag: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=MAX_BACK)] = "",
    shown: Annotated[str, Form(max_length=6)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """One action on the picked conversations (:mod:`clameur.web.pages.inbox_bulk`)."""
    htmx = request.headers.get("hx-request", "").lower() == "true"
    lang = language(request, page.user)
    _ = gettext_for(lang)
    try:
        check_csrf(request, page.csrf_token, request.headers.get(CSRF_HEADER) or csrf_token)
    except ForbiddenError:
        if htmx:
            return _refused(_(EXPIRED), 403)
        return forbidden(request, page, session)
    found = working_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    principal = found.principal
    params = dict(parse_qsl(back))
    wanted = wanted_ids(ids)
    problem = problem_of(lang, action, wanted, to=to, tag=tag)
    if problem is not None:
        if htmx:
            return _refused(problem, 422)
        return inbox_page(request, found, session, params, notice=problem, status_code=422)
    clock = clock_of(request)
    outcome = run_bulk(session, clock, principal, lang, action, wanted, to=to, tag=tag)
    message = summary(lang, action, outcome, tag=tag)
    if outcome.forbidden:
        if htmx:
            return _refused(message, 403)
        return inbox_page(request, found, session, params, notice=message, status_code=403)
    if not htmx:
        return inbox_page(request, found, session, params, notice=message, failed=outcome.failed)
    headers = {"HX-Trigger": json.dumps({"toast": message})}
    return rows_fragment(
        request,
        found,
        session,
        principal,
        parse(principal, params),
        shown=int(shown) if shown.isdigit() else None,
        failed=outcome.failed,
        headers=headers,
    )


EXPIRED = N_("This form has expired or did not come from this page. Reload the page and try again.")


def _refused(message: str, status_code: int) -> HTMLResponse:
    """A refused htmx request: the page shows ``X-Clameur-Message`` as a toast."""
    return HTMLResponse("", status_code=status_code, headers={"X-Clameur-Message": quote(message)})
