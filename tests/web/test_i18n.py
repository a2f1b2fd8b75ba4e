"""The pages in French and English: every message the templates and the page code use has
a French translation; the user's saved language beats the browser's; dates show in the
user's time zone and numbers in the language's conventions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from jinja2 import Environment
from sqlalchemy import select

from clameur.db import session_scope
from clameur.tenancy.models import User
from clameur.web import i18n
from clameur.web.pages.common import templates
from tests.conftest import Database
from tests.web.pages import csrf_of, make_user, signed_in

WEB = Path(i18n.__file__).parent
METHOD_MAP = [("ui/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"ui/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def used_messages() -> dict[str, list[str]]:
    """Every message id in the pages' templates and code, with where it is used."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(WEB), METHOD_MAP, OPTIONS, keywords=KEYWORDS
    ):
        one = message[0] if isinstance(message, tuple) else message  # a plural: its singular
        if one:
            found.setdefault(one, []).append(f"{filename}:{lineno}")
    return found


def test_the_pages_use_messages_and_every_one_has_a_french_translation() -> None:
    used = used_messages()
    assert len(used) > 40, "the extractor reads the templates and the page code"
    catalogue = i18n.read_catalogue("fr")
    missing = {
        message: where[:2]
        for message, where in used.items()
        if not (catalogue.get(message) and catalogue.get(message).string)
    }
    assert not missing, f"no French for: {missing}"


def test_french_is_the_default_and_the_saved_choice_wins() -> None:
    assert i18n.choose_language(None, "") == "fr"
    assert i18n.choose_language(None, "de-DE,de;q=0.9") == "fr", "unknown: French"
    assert i18n.choose_language(None, "de;q=1, en-GB;q=0.8, fr;q=0.5") == "en"
    assert i18n.choose_language(None, "en;q=0, fr;q=0.1") == "fr", "q=0 means no"
    assert i18n.choose_language("en", "fr-FR") == "en", "the user's choice first"
    assert i18n.choose_language("xx", "en") == "en", "an unknown saved value is ignored"


def test_translations_fill_values_escaped_in_templates() -> None:
    env = Environment(autoescape=True)
    i18n.install(env)
    page = env.from_string(
        '{{ _("Too many sign-in attempts. Try again in %(minutes)s minutes.", minutes=m) }}'
    )
    assert page.render(lang="fr", m="<b>5</b>") == (
        "Trop de tentatives de connexion. Réessayez dans &lt;b&gt;5&lt;/b&gt; minutes."
    )
    assert page.render(lang="en", m=3).startswith("Too many sign-in attempts. Try again in 3")


def test_dates_follow_the_users_zone_and_numbers_the_language() -> None:
    env = templates.env
    at = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    when = env.from_string("{{ at | when('time') }}")
    assert when.render(lang="fr", timezone="Europe/Paris", at=at) == "09:30"
    assert when.render(lang="fr", timezone="America/Montreal", at=at) == "03:30"
    assert when.render(lang="fr", timezone="Not/AZone", at=at) == "09:30", "unknown: Paris"
    number = env.from_string("{{ n | number }}")
    assert number.render(lang="fr", n=12345).replace("\u202f", " ") == "12 345"
    assert number.render(lang="en", n=12345) == "12,345"
    ago = env.from_string("{{ at | ago }}")
    later = datetime(2026, 12, 2, 8, 35, tzinfo=UTC)
    assert ago.render(lang="fr", now=later, at=at) == "il y a 5 minutes"
    assert ago.render(lang="en", now=later, at=at) == "5 minutes ago"


def test_a_breached_sla_says_by_how_long_not_when() -> None:
    env = templates.env
    due = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    badge = env.from_string('{% import "macros.html" as ui with context %}{{ ui.sla(due) }}')
    later = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    french = badge.render(lang="fr", now=later, due=due).replace("\xa0", " ")
    assert "sla-breached" in french
    assert "SLA dépassé de 5 jours" in french
    assert "il y a" not in french
    assert "SLA breached by 5 days" in badge.render(lang="en", now=later, due=due)
    soon = due - timedelta(minutes=12)
    running = badge.render(lang="fr", now=soon, due=due).replace("\xa0", " ")
    assert "sla-ok" in running
    assert "dans 12 minutes" in running


def test_an_inbox_sla_badge_names_the_clock_that_is_late() -> None:
    env = templates.env
    due = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    badge = env.from_string(
        '{% import "macros.html" as ui with context %}{{ ui.sla(due, clock=_("Resolution")) }}'
    )
    later = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    french = badge.render(lang="fr", now=later, due=due).replace("\xa0", " ")
    assert "Résolution</span> · SLA dépassé de 5 jours" in french


@pytest.fixture
def agent(db: Database, clock: object) -> Database:
    from clameur.tenancy import add_tenant

    with session_scope(db.factory) as session:
        add_tenant(session, clock, "acme", "Acme")  # type: ignore[arg-type]
    make_user(db, clock, "agent@acme.example", {"acme": "agent"})  # type: ignore[arg-type]
    return db


def test_a_user_saves_language_and_zone_and_the_pages_follow(agent: Database) -> None:
    client = signed_in(agent, "agent@acme.example")
    client.headers["accept-language"] = "fr-FR"
    form = client.get("/preferences")
    assert form.status_code == 200
    assert '<html lang="fr">' in form.text
    token = csrf_of(form.text)
    saved = client.post(
        "/preferences",
        data={"locale": "en", "timezone": "America/Montreal", "csrf_token": token},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    after = client.get("/preferences?saved=1")
    assert '<html lang="en">' in after.text, "the saved choice beats Accept-Language"
    assert "Your preferences are saved." in after.text
    assert 'value="America/Montreal" selected' in after.text
    with session_scope(agent.factory) as session:
        user = session.scalars(select(User).where(User.email == "agent@acme.example")).one()
        assert (user.locale, user.timezone) == ("en", "America/Montreal")


def test_preferences_refuse_unknown_values_and_a_missing_token(agent: Database) -> None:
    client = signed_in(agent, "agent@acme.example")
    token = csrf_of(client.get("/preferences").text)
    bad = client.post("/preferences", data={"timezone": "Mars/Olympus", "csrf_token": token})
    assert bad.status_code == 422
    assert "Choisissez un fuseau horaire." in bad.text
    assert client.post("/preferences", data={"locale": "en"}).status_code == 403
    with session_scope(agent.factory) as session:
        user = session.scalars(select(User).where(User.email == "agent@acme.example")).one()
        assert (user.locale, user.timezone) == (None, None), "nothing saved"
