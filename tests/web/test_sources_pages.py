"""The sources page (admins): the tenant's connectors with their health, the add form built
from the connector's options schema, a generated secret shown once, disable / enable / poll
now; other roles and other tenants are refused; hostile names and errors are escaped."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.sources.models import Source, SourceSecret
from clameur.sources.service import add_source
from clameur.tenancy.models import Tenant
from tests.conftest import Database, make_tenant
from tests.web.pages import csrf_of, make_user, signed_in


@pytest.fixture
def world(db: Database, clock: FrozenClock) -> Database:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    make_tenant(db, clock, "other", {"other": ["other"]})
    make_user(db, clock, "admin@acme.example", {"acme": "admin"})
    make_user(db, clock, "sup@acme.example", {"acme": "supervisor"})
    make_user(db, clock, "admin@other.example", {"other": "admin"})
    return db


def _tenant(session: object, slug: str) -> int:
    return int(session.scalar(select(Tenant.id).where(Tenant.slug == slug)))  # type: ignore[attr-defined]


def test_an_admin_adds_a_feed_from_the_form_built_from_its_schema(
    world: Database, clock: FrozenClock
) -> None:
    client = signed_in(world, "admin@acme.example", clock)
    home = client.get("/dashboard")
    assert 'href="/sources"' in home.text, "the section is offered to admins"
    empty = client.get("/sources")
    assert empty.status_code == 200
    assert "Aucune source" in empty.text, "in French, with what to do"
    form = client.get("/sources/new", params={"kind": "rss"})
    assert form.status_code == 200
    assert 'name="option.max_bytes"' in form.text, "a field per option of the schema"
    assert 'type="number"' in form.text
    data = {
        "csrf_token": csrf_of(form.text),
        "kind": "rss",
        "name": "Blog <b>Acme</b>",
        "url": "https://blog.example/feed.xml",
        "source": "blog",
        "interval": "600",
        "option.lang": "fr",
        "option.max_bytes": "",
    }
    added = client.post("/sources", data=data, follow_redirects=False)
    assert added.status_code == 303, added.text
    listing = client.get(added.headers["location"])
    html = listing.text
    assert "Blog &lt;b&gt;Acme&lt;/b&gt;" in html
    assert "<b>Acme</b>" not in html
    assert "ajoutée" in html
    assert "pas encore interrogée" in html, "a new source has not been polled"
    with session_scope(world.factory) as session:
        row = session.scalars(select(Source).where(Source.name == "Blog <b>Acme</b>")).one()
        assert row.options["lang"] == "fr"
        assert row.options["max_bytes"] == 10 * 2**20, "an empty field keeps the default"
        assert row.interval_seconds == 600


def test_a_bad_option_is_shown_with_the_form_kept(world: Database, clock: FrozenClock) -> None:
    client = signed_in(world, "admin@acme.example", clock)
    form = client.get("/sources/new", params={"kind": "rss"})
    data = {
        "csrf_token": csrf_of(form.text),
        "kind": "rss",
        "name": "Forum",
        "url": "https://forum.example/rss",
        "option.lang": "<script>x</script>",
    }
    answer = client.post("/sources", data=data)
    assert answer.status_code == 422
    assert "option lang" in unescape(answer.text), "the error names the field"
    assert "<script>x</script>" not in answer.text
    assert 'value="https://forum.example/rss"' in answer.text, "what was typed is kept"
    bad_url = {**data, "option.lang": "", "url": "ftp://forum.example/rss"}
    assert client.post("/sources", data=bad_url).status_code == 422


def test_a_webhook_secret_is_shown_once_and_never_again(
    world: Database, clock: FrozenClock
) -> None:
    client = signed_in(world, "admin@acme.example", clock)
    form = client.get("/sources/new", params={"kind": "webhook"})
    assert 'name="url"' not in form.text, "a webhook needs no address"
    assert 'type="password"' in form.text
    data = {"csrf_token": csrf_of(form.text), "kind": "webhook", "name": "CRM"}
    shown = client.post("/sources", data=data)
    assert shown.status_code == 200, shown.text
    with session_scope(world.factory) as session:
        row = session.scalars(select(Source).where(Source.name == "CRM")).one()
        secret = session.get(SourceSecret, row.id)
        assert secret is not None
        value = secret.values["secret"]
    assert value in shown.text
    assert f"/api/v1/ingest/{row.id}" in shown.text
    listing = client.get("/sources").text
    assert value not in listing, "never shown again"
    assert "reçoit des envois" in listing, "a push source is not 'not polled yet'"
    assert f"/api/v1/ingest/{row.id}" in listing


def test_disable_enable_and_poll_now(world: Database, clock: FrozenClock) -> None:
    with session_scope(world.factory) as session:
        tenant_id = _tenant(session, "acme")
        row = add_source(session, clock, tenant_id=tenant_id, kind="rss", url="https://a.example/f")
        row.next_run_at = clock.now() + timedelta(hours=1)
        row.consecutive_failures = 3
        row.last_polled_at = clock.now()
        row.last_error = "feed https://a.example/f answered HTTP 500 <oops>"
        source_id = row.id
    client = signed_in(world, "admin@acme.example", clock)
    page = client.get("/sources")
    assert "en échec" in page.text
    assert "3 échecs de suite" in page.text
    assert "HTTP 500 &lt;oops&gt;" in page.text
    token = csrf_of(page.text)
    polled = client.post(f"/sources/{source_id}/poll", data={"csrf_token": token})
    assert polled.status_code == 200
    with session_scope(world.factory) as session:
        assert session.get(Source, source_id).next_run_at == clock.now()  # type: ignore[union-attr]
    off = client.post(f"/sources/{source_id}/disable", data={"csrf_token": token})
    assert "désactivée" in off.text
    with session_scope(world.factory) as session:
        assert session.get(Source, source_id).enabled is False  # type: ignore[union-attr]
    on = client.post(f"/sources/{source_id}/enable", data={"csrf_token": token})
    assert "activée" in on.text
    no_token = client.post(f"/sources/{source_id}/disable", data={})
    assert no_token.status_code == 403


def test_other_roles_and_tenants_are_refused(world: Database, clock: FrozenClock) -> None:
    with session_scope(world.factory) as session:
        row = add_source(
            session,
            clock,
            tenant_id=_tenant(session, "acme"),
            kind="rss",
            url="https://a.example/f",
        )
        source_id = row.id
    supervisor = signed_in(world, "sup@acme.example", clock)
    assert 'href="/sources"' not in supervisor.get("/dashboard").text
    assert supervisor.get("/sources").status_code == 403
    stranger = signed_in(world, "admin@other.example", clock)
    token = csrf_of(stranger.get("/sources").text)
    assert "a.example" not in stranger.get("/sources").text
    answer = stranger.post(f"/sources/{source_id}/disable", data={"csrf_token": token})
    assert answer.status_code == 404
    with session_scope(world.factory) as session:
        assert session.get(Source, source_id).enabled is True  # type: ignore[union-attr]


def test_an_id_beyond_64_bits_is_not_found(world: Database, clock: FrozenClock) -> None:
    """On this page as on every page with an id in its path (the check is in the session)."""
    client = signed_in(world, "admin@acme.example", clock)
    token = csrf_of(client.get("/sources").text)
    huge = 2**70
    answer = client.post(f"/sources/{huge}/disable", data={"csrf_token": token})
    assert answer.status_code == 404
    for path in (f"/c/{huge}", f"/alerts/{huge}", f"/incidents/{huge}"):
        assert client.get(path).status_code == 404, path
        page = client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert "<html" in page.text.lower(), "a page, for a person"
