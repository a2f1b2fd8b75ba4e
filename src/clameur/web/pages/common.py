"""What every page shares: the templates, the language, the messages, the header's context.

Untrusted text (mentions, authors, brand and tenant names, alert summaries) is autoescaped
and bidi-isolated in the templates (``<bdi>`` or ``dir="auto"``); where HTML cannot isolate
(``<title>``, ``<option>``) the :func:`no_bidi` filter removes the bidi controls instead.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func
from sqlalchemy.orm import Session

from clameur.care.models import Reply
from clameur.db.repository import TenantRepository
from clameur.detection.models import Alert
from clameur.tenancy.auth import switch_tenant
from clameur.tenancy.models import User
from clameur.tenancy.policy import allowed
from clameur.tenancy.principal import Principal, tenants_of
from clameur.web import i18n
from clameur.web.auth import CSRF_FIELD, PageSession, clock_of

TEMPLATES = Path(__file__).parent.parent / "ui" / "templates"
templates = Jinja2Templates(directory=TEMPLATES)

i18n.install(templates.env)


def language(request: Request, user: User | None = None) -> str:
    """The user's saved language, else the browser's (``Accept-Language``), else French."""
    saved = user.locale if user is not None else None
    return i18n.choose_language(saved, request.headers.get("accept-language", ""))


_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def no_bidi(text: object) -> str:
    """Text without bidi control characters (for ``<title>`` and ``<option>``, which
    cannot hold a ``<bdi>``)."""
    return _BIDI.sub("", str(text))


def web_link(url: str | None) -> str | None:
    """An untrusted URL fit for ``href``: http(s) only (no ``javascript:``, ``data:``…)."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


SHOWN_CHARS = 2000
"""Longer mention texts are cut on the overview (the whole text is in the API)."""


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


templates.env.filters["web_link"] = web_link
templates.env.filters["no_bidi"] = no_bidi
templates.env.filters["shorten"] = shorten


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/`` (no open redirect: refuses
    ``//host``, ``https://…``, backslashes and control characters)."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return "/"
    if target.startswith("//") or "\\" in target or any(ord(c) < 0x20 for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in _NOT_TARGETS:
        return "/"
    return target


_NOT_TARGETS = frozenset({"/login", "/logout", "/switch"})
"""Forms, not pages: never where a sign-in leads."""


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    page: PageSession | None = None,
    session: Session | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page in the browser's language, with the header (tenants, switcher, sign-out)
    when signed in."""
    user = page.user if page is not None else None
    lang = language(request, user)
    _ = i18n.gettext_for(lang)
    principal = page.principal if page is not None else None
    full: dict[str, Any] = {
        "lang": lang,
        "timezone": i18n.zone(user.timezone if user is not None else None).key,
        "now": clock_of(request).now(),
        "csrf_field": CSRF_FIELD,
        "page": page,
        "tenants": [],
        "current": None,
        "section": None,
        "counts": None,
        "live": False,
        "can": lambda action: principal is not None and allowed(principal, action),
        "role_name": lambda value: _(ROLE_LABELS.get(value, value)),
        "status_name": lambda value: _(STATUS_LABELS.get(value, value)),
        "severity_name": lambda value: _(SEVERITY_LABELS.get(value, value)),
        "source_name": lambda value: _(SOURCE_LABELS.get(value, value)),
        "sentiment_name": lambda value: _(SENTIMENT_LABELS.get(value, value or "")),
        "intent_name": lambda value: _(INTENT_LABELS.get(value, value or "")),
        "label_help": lambda value: _(LABEL_HELP[value]) if value in LABEL_HELP else "",
        "kind_name": lambda value: _(KIND_LABELS.get(value, value or "")),
        **context,
    }
    if page is not None and session is not None:
        full["tenants"] = tenants_of(session, page.user)
        full["current"] = principal
        if principal is not None and full["counts"] is None:
            full["counts"] = nav_counts(session, principal)
    return templates.TemplateResponse(request, name, full, status_code=status_code, headers=headers)


def N_(message: str) -> str:  # noqa: N802 - the gettext marker Babel's extractor knows
    """Marks a message for translation where it is defined; translated where shown."""
    return message


ROLE_LABELS = {
    "admin": N_("administrator"),
    "supervisor": N_("supervisor"),
    "agent": N_("agent"),
    "viewer": N_("client viewer"),
}
STATUS_LABELS = {
    "open": N_("open"),
    "pending": N_("pending"),
    "waiting": N_("waiting on customer"),
    "escalated": N_("with back office"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
    "draft": N_("draft"),
    "pending_approval": N_("waiting for approval"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "queued": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "acknowledged": N_("acknowledged"),
    "muted": N_("muted"),
    "online": N_("online"),
    "away": N_("away"),
    "offline": N_("offline"),
}
SEVERITY_LABELS = {
    "critical": N_("critical"),
    "high": N_("high"),
    "medium": N_("medium"),
    "low": N_("low"),
}
SENTIMENT_LABELS = {
    "positive": N_("positive"),
    "neutral": N_("neutral"),
    "negative": N_("negative"),
    "uncertain": N_("uncertain"),
    None: N_("not analysed"),
}
INTENT_LABELS = {
    "complaint": N_("complaint"),
    "question": N_("question"),
    "request": N_("request"),
    "praise": N_("praise"),
    "churn_threat": N_("churn threat"),
    "spam": N_("spam"),
    "other": N_("other"),
    "uncertain": N_("uncertain"),
}
LABEL_HELP = {
    "uncertain": N_(
        "The model is not confident enough, or the language is not one it was trained on: "
        "read the message yourself."
    ),
}
"""What a sentiment or intent label means, where it needs saying (a tooltip, a hint)."""
KIND_LABELS = {
    "volume_spike": N_("Volume spike"),
    "negative_spike": N_("Negative spike"),
    "influencer": N_("Influencer"),
    "campaign": N_("Suspected campaign"),
}
SOURCE_LABELS = {
    "twitter": "X / Twitter",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "reddit": "Reddit",
    "forum": N_("Forum"),
    "blog": N_("Blog"),
    "news": N_("News"),
    "review": N_("Review"),
    "email": N_("E-mail"),
    "web": N_("Web"),
    "other": N_("Other"),
}


def nav_counts(session: Session, principal: Principal) -> dict[str, int]:
    """The numbers beside the sections: replies waiting for approval, open alerts."""
    approvals = session.scalar(
        TenantRepository(session, principal.tenant_id, Reply)
        .select(func.count(), steer=False)
        .where(Reply.status == "pending_approval")
    )
    alerts = session.scalar(
        TenantRepository(session, principal.tenant_id, Alert)
        .select(func.count(), steer=False)
        .where(Alert.status == "open")
    )
    return {"approvals": approvals or 0, "alerts": alerts or 0}


def working_page(
    request: Request, page: PageSession, session: Session
) -> PageSession | HTMLResponse:
    """The page session with a principal: the tenant it works in, else the first tenant the
    user holds a role in (switched to now); a plain "no client" page when there is none."""
    if page.principal is not None:
        return page
    held = tenants_of(session, page.user)
    if not held:
        return render(request, "no_role.html", {}, page=page, session=session)
    principal = switch_tenant(session, page.row, page.user, held[0][0].slug)
    return replace(page, principal=principal)


def forbidden(request: Request, page: PageSession, session: Session) -> HTMLResponse:
    """A state-changing form sent without its CSRF token (or with a stale one)."""
    return render(request, "forbidden.html", {}, status_code=403, page=page, session=session)
