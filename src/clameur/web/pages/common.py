"""What every page shares: the templates, the language, the messages, the header's context.

Untrusted text (mentions, authors, brand and tenant names, alert summaries) is autoescaped
and bidi-isolated in the templates (``<bdi>`` or ``dir="auto"``); where HTML cannot isolate
(``<title>``, ``<option>``) the :func:`no_bidi` filter removes the bidi controls instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from clameur.tenancy.principal import tenants_of
from clameur.web.auth import CSRF_FIELD, PageSession

TEMPLATES = Path(__file__).parent.parent / "ui" / "templates"
templates = Jinja2Templates(directory=TEMPLATES)

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        "tagline": "Centre de gestion des communautés",
        "sign_in": "Se connecter",
        "sign_in_lead": "Connectez-vous avec l'adresse e-mail de votre compte Clameur.",
        "email": "Adresse e-mail",
        "password": "Mot de passe",
        "problem": "Il y a un problème",
        "wrong_credentials": "L'adresse e-mail ou le mot de passe est incorrect.",
        "enter_email": "Saisissez votre adresse e-mail.",
        "enter_password": "Saisissez votre mot de passe.",
        "form_expired": "Le formulaire a expiré. Saisissez à nouveau vos identifiants.",
        "throttled": "Trop de tentatives de connexion. Réessayez dans {minutes} minutes.",
        "sign_out": "Se déconnecter",
        "signed_in_as": "Connecté·e :",
        "client": "Client",
        "switch": "Changer",
        "no_role_title": "Aucun client",
        "no_role": (
            "Votre compte n'a de rôle chez aucun client. Demandez à un administrateur de "
            "vous en donner un."
        ),
        "not_found_title": "Page introuvable",
        "not_found": "Aucun client ne porte ce nom :",
        "back": "Retour",
        "forbidden_title": "Action refusée",
        "csrf": (
            "Ce formulaire a expiré ou ne vient pas de cette page. Rechargez la page et réessayez."
        ),
        "role": "rôle",
        "kpi_mentions": "mentions",
        "kpi_authors": "auteurs",
        "kpi_open": "conversations ouvertes",
        "kpi_alerts": "alertes",
        "alerts": "Alertes",
        "all_alerts": "Toutes les alertes :",
        "latest": "Dernières mentions",
        "col_when": "Date (UTC)",
        "col_priority": "Priorité",
        "col_source": "Source",
        "col_author": "Auteur",
        "col_brand": "Marque",
        "col_mention": "Mention",
        "no_mention": "Aucune mention pour ce client pour l'instant. Importez-en avec",
        "newer": "← plus récentes",
        "older": "plus anciennes →",
        "page": "page",
        "followers": "abonnés",
        "view_on": "voir sur",
        "reply": "réponse",
        "edited": "modifiée",
        "verified": "compte vérifié",
    },
    "en": {
        "tagline": "Community Management Center",
        "sign_in": "Sign in",
        "sign_in_lead": "Sign in with the e-mail address of your Clameur account.",
        "email": "E-mail address",
        "password": "Password",
        "problem": "There is a problem",
        "wrong_credentials": "The e-mail address or the password is wrong.",
        "enter_email": "Enter your e-mail address.",
        "enter_password": "Enter your password.",
        "form_expired": "The form has expired. Enter your e-mail address and password again.",
        "throttled": "Too many sign-in attempts. Try again in {minutes} minutes.",
        "sign_out": "Sign out",
        "signed_in_as": "Signed in as",
        "client": "Client",
        "switch": "Switch",
        "no_role_title": "No client",
        "no_role": (
            "Your account holds no role with any client. Ask an administrator to give you one."
        ),
        "not_found_title": "Page not found",
        "not_found": "There is no client named",
        "back": "Back",
        "forbidden_title": "Action refused",
        "csrf": (
            "This form has expired or did not come from this page. Reload the page and try again."
        ),
        "role": "role",
        "kpi_mentions": "mentions",
        "kpi_authors": "authors",
        "kpi_open": "open conversations",
        "kpi_alerts": "alerts",
        "alerts": "Alerts",
        "all_alerts": "All alerts:",
        "latest": "Latest mentions",
        "col_when": "When (UTC)",
        "col_priority": "Priority",
        "col_source": "Source",
        "col_author": "Author",
        "col_brand": "Brand",
        "col_mention": "Mention",
        "no_mention": "No mention yet for this client. Import some with",
        "newer": "← newer",
        "older": "older →",
        "page": "page",
        "followers": "followers",
        "view_on": "view on",
        "reply": "reply",
        "edited": "edited",
        "verified": "verified account",
    },
}
"""A small catalogue (French first); Babel catalogues replace it with the full pages."""


def language(request: Request) -> str:
    """The first of :data:`LANGUAGES` the browser's ``Accept-Language`` asks for (by
    weight), else French."""
    ranked: list[tuple[float, int, str]] = []
    header = request.headers.get("accept-language", "")[:500]
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES and weight > 0:
            ranked.append((-weight, index, base))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def translate(lang: str, key: str, **values: Any) -> str:
    text = MESSAGES.get(lang, MESSAGES[DEFAULT_LANGUAGE])[key]
    return text.format(**values) if values else text


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
    lang = language(request)
    full: dict[str, Any] = {
        "lang": lang,
        "t": lambda key, **values: translate(lang, key, **values),
        "csrf_field": CSRF_FIELD,
        "page": page,
        "tenants": [],
        "current": None,
        **context,
    }
    if page is not None and session is not None:
        full["tenants"] = tenants_of(session, page.user)
        full["current"] = page.principal
    return templates.TemplateResponse(request, name, full, status_code=status_code, headers=headers)


def forbidden(request: Request, page: PageSession, session: Session) -> HTMLResponse:
    """A state-changing form sent without its CSRF token (or with a stale one)."""
    return render(request, "forbidden.html", {}, status_code=403, page=page, session=session)
