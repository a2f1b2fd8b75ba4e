"""The pages' languages, time zones and number formats (Babel).

Messages are written in English in the templates and the page code (``_("Assign to me")``)
and translated by gettext catalogues: ``ui/locale/<lang>/LC_MESSAGES/*.po``. Each area of the
pages keeps its own ``.po`` file (``base.po``, ``inbox.po``, ``conversation.po``…); they are
read with Babel and merged into one catalogue per language when the app starts (no compile
step, nothing generated in the tree). English needs no catalogue: the message ids are the
English text. ``tests/web/test_i18n.py`` checks every message the templates and pages use
has a French translation.

Which language a page speaks: the user's saved choice, else the browser's
``Accept-Language``, else French. Dates: the user's time zone, else Europe/Paris. Numbers:
the language's conventions (``12 345`` in French, ``12,345`` in English).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_compact_decimal, format_decimal, format_percent
from babel.support import NullTranslations, Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

LOCALE_DIR = Path(__file__).parent / "ui" / "locale"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
DEFAULT_TIMEZONE = "Europe/Paris"

Gettext = Callable[..., str]


def catalogue_files(lang: str) -> list[Path]:
    return sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po"))


def read_catalogue(lang: str) -> Catalog:
    """Every ``.po`` file of ``lang`` merged (a message defined twice must agree)."""
    merged = Catalog(locale=lang, domain="messages")
    for path in catalogue_files(lang):
        with path.open("rb") as handle:
            part = read_po(handle, locale=lang)
        for message in part:
            if not message.id:
                continue
            known = merged.get(message.id)
            if known is not None and known.string and known.string != message.string:
                raise ValueError(f"{path.name}: {message.id!r} translated twice, differently")
            merged[message.id] = message
    return merged


@cache
def translations(lang: str) -> NullTranslations:
    if lang not in LANGUAGES or lang == "en":
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, read_catalogue(lang))
    buffer.seek(0)
    return Translations(buffer)


def gettext_for(lang: str) -> Gettext:
    """``_`` for Python code: ``_("Hello %(name)s", name=x)``."""
    found = translations(lang)

    def _(message: str, **values: Any) -> str:
        text = found.gettext(message)
        return text % values if values else text

    return _


def ngettext_for(lang: str) -> Callable[..., str]:
    found = translations(lang)

    def n_(singular: str, plural: str, count: int, **values: Any) -> str:
        text = found.ngettext(singular, plural, count)
        return text % {"num": count, **values}

    return n_


def choose_language(saved: str | None, accept_language: str) -> str:
    """The user's saved choice, else the first of :data:`LANGUAGES` the browser asks for
    (by weight), else French."""
    if saved in LANGUAGES:
        return saved
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language[:500].split(",")):
        tag, _sep, params = part.strip().partition(";")
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


@cache
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(name for name in available_timezones() if "/" in name))


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def valid_timezone(name: str) -> bool:
    return name in timezone_names() or name == "UTC"


# -- the filters the templates use ----------------------------------------------------------


def _lang(ctx: Context) -> str:
    return str(ctx.get("lang", DEFAULT_LANGUAGE))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@pass_context
def when(ctx: Context, value: datetime | None, form: str = "short") -> str:
    """A date and time in the user's zone: ``short`` (02/12/2026 09:41), ``medium``,
    ``time`` (09:41) or ``day`` (2 déc.)."""
    if value is None:
        return ""
    local = _aware(value).astimezone(zone(ctx.get("timezone")))
    lang = _lang(ctx)
    if form == "time":
        return format_datetime(local, "HH:mm", locale=lang)
    if form == "day":
        return format_datetime(local, "d MMM", locale=lang)
    return format_datetime(local, form, locale=lang)


@pass_context
def ago(ctx: Context, value: datetime | None) -> str:
    """How long ago (or in how long), in words: "il y a 5 minutes"."""
    if value is None:
        return ""
    now = ctx.get("now") or datetime.now(UTC)
    delta: timedelta = _aware(value) - now
    return format_timedelta(delta, add_direction=True, locale=_lang(ctx), threshold=1.0)


@pass_context
def duration(ctx: Context, seconds: float | None) -> str:
    """A length of time in words, one unit: "12 minutes", "3 heures"."""
    if seconds is None:
        return ""
    return format_timedelta(timedelta(seconds=seconds), locale=_lang(ctx), threshold=1.0)


@pass_context
def number(ctx: Context, value: float | None, compact: bool = False) -> str:
    if value is None:
        return ""
    if compact and abs(value) >= 10_000:
        return format_compact_decimal(value, locale=_lang(ctx), fraction_digits=1)
    return format_decimal(value, locale=_lang(ctx))


@pass_context
def percent(ctx: Context, value: float | None) -> str:
    return "" if value is None else format_percent(value, locale=_lang(ctx))


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    """The translation only: Jinja's new-style gettext escapes and fills ``%(name)s``."""
    return translations(_lang(ctx)).gettext(message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, count: int) -> str:
    return translations(_lang(ctx)).ngettext(singular, plural, count)


def install(env: Environment) -> None:
    """gettext (``{{ _("…") }}``, ``{% trans %}``) and the formatting filters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )
    env.filters.update(when=when, ago=ago, duration=duration, number=number, percent=percent)
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES


def locale_name(lang: str) -> str:
    return Locale.parse(lang).get_display_name(lang) or lang
