"""Where mentions come from (``/sources``, admins): the tenant's connectors with their health
— last poll, last success, last error, backoff, items in the last hour and day — and the
forms to add one, disable or enable it, or have it polled now.

The add form is built from the connector's own options schema (pydantic), so a third-party
connector gets a form too: a list becomes one value per line, a boolean a checkbox, a
number a number field; its secret fields are password fields, stored apart and never shown
again — except a secret the connector generated (a webhook's signing key), shown once on
the page that follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from clameur.config import Settings
from clameur.errors import AlreadyExistsError, ForbiddenError, InvalidInputError
from clameur.sources.base import SOURCES
from clameur.sources.registry import connector, kinds
from clameur.sources.service import (
    DEFAULT_INTERVAL,
    add_source,
    get_source,
    health,
    list_sources,
    prepare_secrets,
    set_enabled,
    shown_url,
)
from clameur.tenancy import authorize
from clameur.web.auth import (
    CSRF_FIELD,
    CurrentPage,
    PageSession,
    check_csrf,
    clock_of,
    page_session,
)
from clameur.web.deps import db_session
from clameur.web.pages.common import forbidden, render, working_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_session)])

DbSession = Annotated[Session, Depends(db_session, scope="function")]
ACTION = "sources.manage"
OPTION = "option."
PRIVATE = "secret."
_FORM_LIMIT = 64 * 1024
"""Characters of one form value (a list of page URLs fits many times over)."""


@dataclass(frozen=True)
class OptionField:
    """One option of a connector as a form field."""

    name: str
    label: str
    control: str
    """``text``, ``number``, ``checkbox`` or ``lines`` (a list: one value per line)."""
    required: bool
    default: Any
    hint: str | None
    minimum: float | None = None
    maximum: float | None = None


def option_fields(kind: str) -> list[OptionField]:
    """The form fields of ``kind``'s options, from its JSON schema."""
    schema = connector(kind).options_schema.model_json_schema()
    required = set(schema.get("required", []))
    out: list[OptionField] = []
    for name, spec in schema.get("properties", {}).items():
        types = {spec.get("type")} | {part.get("type") for part in spec.get("anyOf", [])}
        control = "text"
        if "array" in types:
            control = "lines"
        elif "boolean" in types:
            control = "checkbox"
        elif types & {"integer", "number"}:
            control = "number"
        out.append(
            OptionField(
                name=name,
                label=str(spec.get("title") or name.replace("_", " ").capitalize()),
                control=control,
                required=name in required,
                default=spec.get("default"),
                hint=spec.get("description"),
                minimum=spec.get("minimum", spec.get("exclusiveMinimum")),
                maximum=spec.get("maximum", spec.get("exclusiveMaximum")),
            )
        )
    return out


ORDER = ("rss", "pages", "imap", "webhook", "mastodon", "bluesky", "reddit")
"""The add form's kinds, the commonest first; other installed connectors follow."""


def offered_kinds() -> list[str]:
    installed = kinds()
    return [k for k in ORDER if k in installed] + sorted(set(installed) - set(ORDER))


def _polled(kind: str) -> bool:
    """Whether the scheduler polls sources of ``kind`` (a webhook is pushed to instead)."""
    try:
        return bool(getattr(connector(kind), "polls", True))
    except InvalidInputError:  # a connector no longer installed
        return True


def _admin(request: Request, page: PageSession, session: Session) -> PageSession | HTMLResponse:
    found = working_page(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    authorize(found.principal, ACTION)
    return found


@router.get("/sources", response_class=HTMLResponse)
def sources_page(
    request: Request, page: CurrentPage, session: DbSession, done: str = "", source: int = 0
) -> HTMLResponse:
    found = _admin(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    now = clock_of(request).now()
    listed = list_sources(session, found.principal.tenant_id)
    settings: Settings = request.app.state.settings
    base = settings.public_base_url.rstrip("/")
    rows = [
        {
            "row": row,
            "url": shown_url(row.url),
            "health": health(row, now),
            "push": f"{base}/api/v1/ingest/{row.id}" if not _polled(row.kind) else None,
        }
        for row in listed
    ]
    context = {
        "section": "sources",
        "sources": rows,
        "kinds": offered_kinds(),
        "done": done,
        "done_source": next((row for row in listed if row.id == source), None),
    }
    return render(request, "sources.html", context, page=found, session=session)


def _form(
    request: Request,
    page: PageSession,
    session: Session,
    kind: str,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
) -> HTMLResponse:
    plugin = connector(kind)
    context = {
        "section": "sources",
        "kind": kind,
        "needs_url": getattr(plugin, "needs_url", True),
        "default_source": plugin.default_source,
        "sources_list": SOURCES,
        "fields": option_fields(kind),
        "secret_fields": plugin.secret_fields,
        "generates": callable(getattr(plugin, "generate_secrets", None)),
        "values": values or {},
        "default_interval": getattr(plugin, "default_interval", DEFAULT_INTERVAL),
        "error": error,
    }
    status = 422 if error else 200
    return render(
        request, "source_new.html", context, page=page, session=session, status_code=status
    )


@router.get("/sources/new", response_class=HTMLResponse)
def new_source(request: Request, page: CurrentPage, session: DbSession, kind: str) -> HTMLResponse:
    found = _admin(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    if kind not in kinds():
        return RedirectResponse("/sources", status_code=303)  # type: ignore[return-value]
    return _form(request, found, session, kind)


def _options(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """The submitted options as the schema reads them; empty fields keep their default."""
    out: dict[str, Any] = {}
    for spec in option_fields(kind):
        raw = form.get(OPTION + spec.name, "")
        if spec.control == "checkbox":
            out[spec.name] = bool(raw)
        elif spec.control == "lines":
            lines = [line.strip() for line in raw.splitlines() if line.strip()]
            if lines or spec.required:
                out[spec.name] = lines
        elif raw.strip():
            out[spec.name] = raw.strip()
    return out


@router.post("/sources", response_class=HTMLResponse)
async def create_source(request: Request, page: CurrentPage, session: DbSession) -> Response:
    found = _admin(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    submitted = await request.form()
    form = {key: str(value)[:_FORM_LIMIT] for key, value in submitted.items()}
    try:
        check_csrf(request, found.csrf_token, form.get(CSRF_FIELD, ""))
    except ForbiddenError:
        return forbidden(request, found, session)
    kind = form.get("kind", "")
    if kind not in kinds():
        return RedirectResponse("/sources", status_code=303)
    plugin = connector(kind)
    given = {
        name: form[PRIVATE + name] for name in plugin.secret_fields if form.get(PRIVATE + name)
    }
    shown_values = {k: v for k, v in form.items() if not k.startswith(PRIVATE)}
    try:
        interval = int(form.get("interval") or DEFAULT_INTERVAL)
    except ValueError:
        error = "interval: a whole number of seconds"
        return _form(request, found, session, kind, values=shown_values, error=error)
    try:
        secrets = prepare_secrets(kind, given)
        row = add_source(
            session,
            clock_of(request),
            tenant_id=found.principal.tenant_id,
            kind=kind,
            url=form.get("url"),
            name=form.get("name"),
            options=_options(kind, form),
            secrets=secrets,
            interval_seconds=interval,
            source=form.get("source") or None,
            actor_id=found.user.id,
        )
    except (InvalidInputError, AlreadyExistsError) as exc:
        return _form(request, found, session, kind, values=shown_values, error=str(exc))
    generated = {name: value for name, value in secrets.items() if name not in given}
    if not generated:
        return RedirectResponse(f"/sources?done=added&source={row.id}", status_code=303)
    settings: Settings = request.app.state.settings
    context = {
        "section": "sources",
        "source": row,
        "generated": generated,
        "ingest_url": f"{settings.public_base_url.rstrip('/')}/api/v1/ingest/{row.id}",
    }
    return render(request, "source_added.html", context, page=found, session=session)


def _change(
    request: Request, page: PageSession, session: Session, source_id: int, token: str, what: str
) -> Response:
    found = _admin(request, page, session)
    if isinstance(found, HTMLResponse):
        return found
    assert found.principal is not None
    try:
        check_csrf(request, found.csrf_token, token)
    except ForbiddenError:
        return forbidden(request, found, session)
    tenant_id = found.principal.tenant_id
    clock = clock_of(request)
    if what == "poll":
        row = get_source(session, source_id, tenant_id)
        if row.enabled:
            row.next_run_at = clock.now()  # the scheduler takes it at its next look
    else:
        enabled = what == "enable"
        set_enabled(session, clock, source_id, enabled, tenant_id=tenant_id, actor_id=found.user.id)
    return RedirectResponse(f"/sources?done={what}&source={source_id}", status_code=303)


Token = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]


@router.post("/sources/{source_id}/disable")
def disable_source(
    request: Request, page: CurrentPage, session: DbSession, source_id: int, token: Token = ""
) -> Response:
    return _change(request, page, session, source_id, token, "disable")


@router.post("/sources/{source_id}/enable")
def enable_source(
    request: Request, page: CurrentPage, session: DbSession, source_id: int, token: Token = ""
) -> Response:
    return _change(request, page, session, source_id, token, "enable")


@router.post("/sources/{source_id}/poll")
def poll_source_now(
    request: Request, page: CurrentPage, session: DbSession, source_id: int, token: Token = ""
) -> Response:
    return _change(request, page, session, source_id, token, "poll")
