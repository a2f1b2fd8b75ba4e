"""The supervisor floor page: queues with their depth and SLA risk, agents with presence
and load; only supervisors and admins see it; names are escaped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from clameur.care.routing import assign, set_presence
from clameur.care.teams import add_member, add_queue, add_team, set_agent
from clameur.clock import FrozenClock
from clameur.db import session_scope
from clameur.tenancy.models import Tenant
from tests.care.test_routing import make_conversation
from tests.conftest import Database, make_tenant
from tests.factories import acting, lead, member
from tests.web.pages import PASSWORD, signed_in


@pytest.fixture
def floor_world(db: Database, clock: FrozenClock) -> Database:
    make_tenant(db, clock, "acme", {"acme": ["acme"]})
    with session_scope(db.factory) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.slug == "acme")).one()
        boss = lead(session, clock, tenant.id)
        member(session, clock, "sup@acme.example", tenant.id, "supervisor", name="Sup")
        agent = member(
            session, clock, "zoe@acme.example", tenant.id, "agent", name="Zoé <b>Martin</b>"
        )
        member(session, clock, "viewer@acme.example", tenant.id, "viewer", name="Client")
        team = add_team(session, clock, boss, "Réseaux sociaux")
        add_member(session, clock, boss, team.id, agent.id)
        queue = add_queue(session, clock, boss, "Twitter <i>P1</i>", team_id=team.id)
        set_agent(session, clock, boss, agent.id, capacity=4)
        set_presence(session, clock, acting(session, agent.id, tenant.id), agent.id, "online")
        waiting = [
            make_conversation(session, tenant.id, f"client{i}", minutes=i, queue_id=queue.id)
            for i in range(3)
        ]
        late = waiting[0]
        due = (clock.now() - timedelta(minutes=5)).isoformat(timespec="microseconds")
        late.sla = {"clocks": {"first_response": {"state": "running", "due_at": due}}}
        held = make_conversation(session, tenant.id, "held", queue_id=queue.id)
        assign(session, clock, boss, held.id, agent.id)
    _passwords(db, clock)
    return db


def _passwords(db: Database, clock: FrozenClock) -> None:
    from clameur.tenancy.accounts import set_password

    with session_scope(db.factory) as session:
        from clameur.tenancy.models import User

        for user in session.scalars(select(User)):
            set_password(session, user, PASSWORD)


def test_a_supervisor_sees_queues_agents_and_risks(
    floor_world: Database, clock: FrozenClock
) -> None:
    client = signed_in(floor_world, "sup@acme.example", clock)
    home = client.get("/dashboard")
    assert 'href="/floor"' in home.text, "the section is offered to supervisors"
    page = client.get("/floor")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Plateau" in html, "in French"
    assert "sse-connect" in html, "live"
    assert "Twitter &lt;i&gt;P1&lt;/i&gt;" in html
    assert "<i>P1</i>" not in html
    assert "Zoé &lt;b&gt;Martin&lt;/b&gt;" in html
    assert 'class="num depth">3<' in html, "three open conversations nobody holds"
    assert "sla-breached" in html, "the late one counts as breached"
    assert 'value="1"' in html
    assert "1 sur 4" in html, "Zoé holds one of four"
    fragment = client.get("/floor/live")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text, "the fragment alone"


@pytest.mark.parametrize("email", ["zoe@acme.example", "viewer@acme.example"])
def test_agents_and_client_viewers_do_not_see_the_floor(floor_world: Database, email: str) -> None:
    client = signed_in(floor_world, email)
    assert 'href="/floor"' not in client.get("/dashboard").text
    assert client.get("/floor").status_code == 403
    assert client.get("/floor/live").status_code == 403
    typed = client.get("/floor", headers={"Accept": "text/html,*/*;q=0.8"})
    assert typed.status_code == 403
    assert typed.headers["content-type"].startswith("text/html"), "a page, not JSON, for a person"
    assert "Accès refusé" in typed.text
    assert "/static/clameur.css" in typed.text
