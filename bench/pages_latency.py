"""Workspace pages' server time (the inbox and the conversation page) with 1,000,000 mentions
and 100,000 open conversations, SQLite or PostgreSQL (issue #13, "Measured").

Data: bench/inbox.py's builder (its ``build``, unchanged: one tenant, 1,000,000 mentions,
100,000 open conversations in 20 queues, 200 agents with memberships, plus a small second
tenant), then furnished with what the pages read (:func:`furnish`, once; idempotent):

- every mention analysed (sentiment 30 % negative / 50 % neutral / 20 % positive; intent
  complaint, question, request, praise, other, and a rare ``churn_threat``, 0.5 %;
  toxicity, reach, priority reasons on the negative ones), in two SQL ``UPDATE``s;
- tags on conversations: ``vip`` on 2 %, a rare ``legal`` on 0.1 %;
- SLA policies (``set_policy``: every source 60 min first response, 2 h next, 2 days
  resolution; P1 15 min / 30 min / 8 h) and the clocks of every conversation that still
  needs work computed by the real service (``sla.on_customer_messages`` from its opening:
  the builder's stand-in clocks are replaced);
- a back-office team holding every escalated conversation, three canned replies;
- 200 sample conversations: 100 "long" (the open ones with the most mentions, 10+) each
  given 3 sent replies, 2 notes and a tag through the services (timeline events), and 100
  "short" ones (one mention);
- two people who sign in: an agent of the builder (``agent<q>-0``, the first queue's
  first agent, a password set) and a new supervisor.

Measure: the real app (``create_app(Settings(database_url=…))``, clock frozen at the data's
"now" so SLA states are those of the data), wrapped in a timing ASGI middleware, driven
in-process by Starlette's ``TestClient`` (no lifespan: no background loops). **Server
time** = from the app being called with the request to the last body chunk handed to the
server (the client's parsing and the transport are not counted). Sign-in is the real
``/login`` form with its CSRF field; the session cookie is then sent on every request.
Each page: 20 warm-up requests, then ``--requests`` (default 240), rotating over queues,
brands, sources or sample conversations; SQL statements per request are counted with a
``before_cursor_execute`` listener on the app's engine; "CPU p50" is this process's CPU time
over the same span (the app, the ORM, the templates; not PostgreSQL's own process), the
part of the figure that does not depend on what else the machine runs. A page whose median
over 5 trial requests is above 0.25 s is timed 40 times only (marked ``[40]``).

The database is a file in /tmp (SQLite) or the schema ``bench_pages`` of the ``test``
database (PostgreSQL); both are dropped at the end unless ``--keep`` (then reused).

    .venv/bin/python bench/pages_latency.py --backend sqlite --keep
    .venv/bin/python bench/pages_latency.py --backend postgresql --keep
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import Engine, event, func, insert, select, text, update  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

import inbox as inbox_bench  # noqa: E402
from _databases import database_url, drop_database, open_database  # noqa: E402
from clameur.care import sla  # noqa: E402
from clameur.care.canned import add_canned_reply  # noqa: E402
from clameur.care.conversations import add_note, tag  # noqa: E402
from clameur.care.models import OPEN_STATUSES, Conversation, Queue, Reply, Team  # noqa: E402
from clameur.clock import FrozenClock  # noqa: E402
from clameur.config import Settings  # noqa: E402
from clameur.db import (  # noqa: E402
    make_session_factory,
    session_scope,
    upgrade,
)
from clameur.mentions.models import Mention  # noqa: E402
from clameur.tenancy.accounts import add_member, get_user, set_password  # noqa: E402
from clameur.tenancy.models import Brand, Tenant  # noqa: E402
from clameur.tenancy.principal import Principal  # noqa: E402
from clameur.web.app import create_app  # noqa: E402

SCHEMA = "bench_pages"
PASSWORD = "Grenadine-sur-le-quai-42"
SUPERVISOR = "pages-bench-supervisor@bench.test"
NOW = inbox_bench.NOW
SAMPLE = 100
"""Long and short sample conversations each."""
BASE = "http://localhost"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# -- the data -----------------------------------------------------------------------------


def ensure_data(args: argparse.Namespace) -> Engine:
    engine = open_database(args, SCHEMA)
    expected = (args.mentions + 20_000, args.open + 3000)
    if inbox_bench.stored(engine) != expected:
        drop_database(engine, args, SCHEMA)
        engine = open_database(args, SCHEMA)
        inbox_bench.build(engine, args)
    else:
        print(f"reusing {expected[0]:,} mentions, {expected[1]:,} open conversations")
        upgrade(engine)  # a database kept from an older schema
    furnish(engine)
    return engine


def agent_email(engine: Engine) -> str:
    with engine.connect() as conn:
        tenant_id = conn.execute(select(Tenant.id).where(Tenant.slug == "bench")).scalar_one()
        first_queue = conn.execute(
            select(func.min(Queue.id)).where(Queue.tenant_id == tenant_id)
        ).scalar_one()
    return f"agent{first_queue}-0@bench.test"


def furnish(engine: Engine) -> None:
    """What the pages read beyond the builder's rows (see the module's docstring); skipped
    when the supervisor exists already."""
    factory = make_session_factory(engine)
    clock = FrozenClock(NOW)
    with factory() as session:
        tenant = session.execute(select(Tenant).where(Tenant.slug == "bench")).scalar_one()
        if session.execute(text("SELECT 1 FROM users WHERE email = :e"), {"e": SUPERVISOR}).first():
            return
    start = time.perf_counter()
    tid = tenant.id
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE mentions SET "
                "sentiment = CASE WHEN id % 10 < 3 THEN 'negative' "
                "WHEN id % 10 < 8 THEN 'neutral' ELSE 'positive' END, "
                "sentiment_score = 0.8, "
                "intent = CASE WHEN id % 200 = 0 THEN 'churn_threat' "
                "WHEN id % 10 < 3 THEN 'complaint' WHEN id % 10 < 5 THEN 'question' "
                "WHEN id % 10 < 7 THEN 'request' WHEN id % 10 < 8 THEN 'praise' "
                "ELSE 'other' END, "
                "intent_score = 0.7, toxicity = (id % 100) / 100.0, "
                "reach = (id % 5000) * 3, lang = CASE WHEN id % 3 = 0 THEN 'en' ELSE 'fr' END"
            )
        )
        conn.execute(
            update(Mention.__table__)
            .where(text("id % 10 < 3"))
            .values(priority_reasons=["complaint", "negative", "reach ~1.2k"])
        )
        conn.execute(update(Conversation.__table__).where(text("id % 50 = 0")).values(tags=["vip"]))
        conn.execute(
            update(Conversation.__table__).where(text("id % 997 = 0")).values(tags=["legal"])
        )
    print(f"  analysis and tags written ({time.perf_counter() - start:.0f} s)", flush=True)

    with session_scope(factory) as session:
        sla.set_policy(
            session,
            tid,
            first_response_minutes=60,
            next_response_minutes=120,
            resolution_minutes=2880,
        )
        sla.set_policy(
            session,
            tid,
            level="P1",
            first_response_minutes=15,
            next_response_minutes=30,
            resolution_minutes=480,
        )
        team = Team(tenant_id=tid, name="Back office", kind="back_office", settings={})
        session.add(team)
        session.flush()
        team_id = team.id
    with engine.begin() as conn:
        conn.execute(
            update(Conversation.__table__)
            .where(Conversation.tenant_id == tid, Conversation.status.in_(OPEN_STATUSES))
            .values(sla={})
        )
        conn.execute(
            update(Conversation.__table__)
            .where(Conversation.tenant_id == tid, Conversation.status == "escalated")
            .values(holder_team_id=team_id)
        )
        active = conn.execute(
            select(Conversation.id, Conversation.opened_at)
            .where(Conversation.tenant_id == tid, Conversation.status.in_(OPEN_STATUSES))
            .order_by(Conversation.id)
        ).all()
    for n in range(0, len(active), 5000):
        with session_scope(factory) as session:
            sla.on_customer_messages(session, tid, [(i, at) for i, at in active[n : n + 5000]])
    print(
        f"  SLA clocks of {len(active):,} conversations ({time.perf_counter() - start:.0f} s)",
        flush=True,
    )

    agent = agent_email(engine)
    with session_scope(factory) as session:
        user = get_user(session, agent)
        set_password(session, user, PASSWORD)
        supervisor, _ = add_member(
            session, clock, SUPERVISOR, tid, "supervisor", name="Pages bench", password=PASSWORD
        )
        actor = Principal(supervisor.id, SUPERVISOR, tid, "bench", "supervisor")
        for i, (name, lang) in enumerate((("Merci", "fr"), ("Délai", "fr"), ("Thanks", "en"))):
            add_canned_reply(
                session,
                clock,
                actor,
                name=name,
                text=f"Bonjour {{{{customer.name}}}}, réponse type {i}.",
                lang=lang,
                shortcode=f"r{i}",
            )
        long_ids, _short = samples(session, tid)
        replies = []
        for cid in long_ids:
            conversation = session.get(Conversation, cid)
            assert conversation is not None
            for k in range(3):
                at = conversation.opened_at + timedelta(minutes=30 * (k + 1))
                replies.append(
                    {
                        "tenant_id": tid,
                        "conversation_id": cid,
                        "author_id": user.id,
                        "text": f"Bonjour, nous regardons votre demande ({k}).",
                        "visibility": "public",
                        "status": "sent",
                        "channel": conversation.source,
                        "created_at": at,
                        "sent_at": at,
                    }
                )
            add_note(session, actor, cid, "Client déjà relancé, voir la facture.", at=NOW)
            add_note(session, actor, cid, f"À rappeler demain (@{agent.split('@')[0]}).", at=NOW)
            tag(session, actor, cid, add=["relance"], at=NOW)
        session.execute(insert(Reply.__table__), replies)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    print(f"furnished in {time.perf_counter() - start:.0f} s", flush=True)


def samples(session: Any, tenant_id: int) -> tuple[list[int], list[int]]:
    """The long and the short sample conversations (open ones)."""
    c = Conversation
    base = select(c.id).where(c.tenant_id == tenant_id, c.status == "open")
    long_ids = list(
        session.scalars(base.order_by(c.mention_count.desc(), c.id).limit(SAMPLE)).all()
    )
    short_ids = list(
        session.scalars(
            base.where(c.mention_count == 1, c.id % 97 == 0).order_by(c.id).limit(SAMPLE)
        ).all()
    )
    return long_ids, short_ids


# -- timing -------------------------------------------------------------------------------


class ServerTimer:
    """ASGI middleware: the time from the app being called to its last body chunk."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_ms = 0.0
        self.last_cpu_ms = 0.0
        """This process's CPU time over the same span (the client waits meanwhile)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start, cpu = time.perf_counter(), time.process_time()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last_ms = (time.perf_counter() - start) * 1000
                self.last_cpu_ms = (time.process_time() - cpu) * 1000
            await send(message)

        await self.app(scope, receive, timed_send)


class Statements:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CURSOR = re.compile(r"cursor=([A-Za-z0-9_-]+)")


def signed_in(app: Any, email: str) -> TestClient:
    client = TestClient(app, base_url=BASE)
    form = client.get("/login")
    found = _CSRF.search(form.text)
    assert found, "no CSRF field on /login"
    answer = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": found.group(1), "next": "/"},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in of {email}: {answer.status_code} {answer.text[:300]}")
    return client


@dataclass
class Scenario:
    label: str
    client: TestClient
    paths: list[str]
    htmx: bool = False
    repeat: int | None = None


def run(
    scenario: Scenario, timer: ServerTimer, statements: Statements, repeat: int
) -> tuple[list[float], list[float], list[int], int]:
    headers = {"HX-Request": "true"} if scenario.htmx else {}
    times: list[float] = []
    cpu: list[float] = []
    counts: list[int] = []
    size = 0
    n = scenario.repeat or repeat
    for i in range(-20, n):
        path = scenario.paths[i % len(scenario.paths)]
        before = statements.count
        response = scenario.client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        if i >= 0:
            times.append(timer.last_ms)
            cpu.append(timer.last_cpu_ms)
            counts.append(statements.count - before)
            size = max(size, len(response.content))
    return times, cpu, counts, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000, help="open conversations")
    parser.add_argument("--db", default="/tmp/clameur-bench-pages.db")
    parser.add_argument("--pg-url", default=inbox_bench.PG_URL)
    parser.add_argument("--requests", type=int, default=240, help="timed requests a page")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the database")
    parser.add_argument("--only", default="", help="run the scenarios whose label has this")
    args = parser.parse_args()

    engine = ensure_data(args)
    try:
        measure(engine, args)
    finally:
        if not args.keep:
            drop_database(engine, args, SCHEMA)


def measure(engine: Engine, args: argparse.Namespace) -> None:
    with make_session_factory(engine)() as session:
        tid = session.execute(select(Tenant.id).where(Tenant.slug == "bench")).scalar_one()
        queues = list(
            session.scalars(select(Queue.id).where(Queue.tenant_id == tid).order_by(Queue.id))
        )
        brands = list(
            session.scalars(select(Brand.id).where(Brand.tenant_id == tid).order_by(Brand.id))
        )
        long_ids, short_ids = samples(session, tid)
    engine.dispose()

    app = create_app(Settings(database_url=database_url(args, SCHEMA)))
    app.state.clock = FrozenClock(NOW)
    timer = ServerTimer(app)
    statements = Statements(app.state.engine)
    agent = signed_in(timer, agent_email(engine))
    supervisor = signed_in(timer, SUPERVISOR)

    def cursors(client: TestClient, view: str) -> list[str]:
        out = []
        for q in queues:
            page = client.get(f"/inbox?view={view.format(q=q)}")
            found = _CURSOR.search(page.text)
            assert found, f"no next page in {view}"
            out.append(f"/inbox?view={view.format(q=q)}&cursor={found.group(1)}")
        return out

    sources = ["twitter", "facebook", "instagram", "email", "review", "forum"]
    scenarios = [
        Scenario("agent: /inbox (default: mine)", agent, ["/inbox"]),
        Scenario("agent: mine", agent, ["/inbox?view=mine"]),
        Scenario("agent: unassigned", agent, ["/inbox?view=unassigned"]),
        Scenario("agent: queue X (20 queues)", agent, [f"/inbox?view=queue:{q}" for q in queues]),
        Scenario("agent: P1", agent, ["/inbox?view=p1"]),
        Scenario("agent: SLA at risk", agent, ["/inbox?view=sla"]),
        Scenario("agent: all + brand", agent, [f"/inbox?view=all&brand={b}" for b in brands]),
        Scenario("agent: all + source", agent, [f"/inbox?view=all&source={s}" for s in sources]),
        Scenario("agent: all + language", agent, ["/inbox?view=all&lang=en"]),
        Scenario("agent: queue X, second page", agent, cursors(agent, "queue:{q}")),
        Scenario(
            "agent: /inbox/rows (htmx), queue X",
            agent,
            [f"/inbox/rows?view=queue:{q}" for q in queues],
            htmx=True,
        ),
        Scenario("supervisor: /inbox (default: all)", supervisor, ["/inbox"]),
        Scenario("supervisor: queue X", supervisor, [f"/inbox?view=queue:{q}" for q in queues]),
        Scenario("supervisor: SLA at risk", supervisor, ["/inbox?view=sla"]),
        Scenario("filter: sentiment negative", agent, ["/inbox?view=all&sentiment=negative"]),
        Scenario(
            "filter: intent churn_threat (rare)", agent, ["/inbox?view=all&intent=churn_threat"]
        ),
        Scenario("filter: tag legal (rare)", agent, ["/inbox?view=all&tag=legal"]),
        Scenario("agent: /c/{id} short thread", agent, [f"/c/{i}" for i in short_ids]),
        Scenario("agent: /c/{id} long thread", agent, [f"/c/{i}" for i in long_ids]),
        Scenario("supervisor: /c/{id} long thread", supervisor, [f"/c/{i}" for i in long_ids]),
    ]
    print(
        f"\n{engine.dialect.name}: server time in ms, {args.requests} requests a page after "
        f"20 warm-up; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'page':<40} {'SQL':>7} {'KiB':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} "
        f"{'CPU p50':>7}",
        flush=True,
    )
    for scenario in scenarios:
        if args.only and args.only not in scenario.label:
            continue
        trial = []
        for path in scenario.paths[:5] * (5 // len(scenario.paths[:5])):
            scenario.client.get(path)
            trial.append(timer.last_ms)
        if statistics.median(trial) > 250:
            scenario.repeat = 40  # a slow page: fewer requests, said in the output
        times, cpu, counts, size = run(scenario, timer, statements, args.requests)
        p50, p95, p99 = inbox_bench.percentiles(times)
        sql = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
        label = scenario.label + (f" [{len(times)}]" if scenario.repeat else "")
        print(
            f"{label:<40} {sql:>7} {size / 1024:>5.0f} {p50:>7.1f} {p95:>7.1f} {p99:>7.1f} "
            f"{max(times):>7.1f} {statistics.median(cpu):>7.1f}",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
