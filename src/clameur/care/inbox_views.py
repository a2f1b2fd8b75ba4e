"""The inbox's views and filters: what an agent or a supervisor picks beside the list.

**Views** (one at a time, :class:`View`): ``mine`` (assigned to me), ``unassigned``, ``all``,
``p1``, ``sla`` (at risk), ``backoffice`` (waiting on the back office), ``queue:<id>`` and
``incident:<id>``. Each has a default status (``open``; ``escalated`` for the back office;
every status that still needs work for the SLA view), which the status filter replaces.

**Filters** (any together, :class:`Filters`): brand, source, language, priority level,
status (a status, ``active`` = every status that still needs work, ``any``), sentiment and
intent (a conversation matches when one of its mentions was analysed so: an ``EXISTS`` over
its mentions, by ``mentions.conversation_id``; ``uncertain`` is a value like the others),
tag (the conversation's tags contain it), and ``q``, a search in the listening query language
(:func:`clameur.listening.search`) over the tenant's mentions: the conversations of its
:data:`SEARCH_LIMIT` newest matches, in the inbox's order. A search over a bounded set of
matches keeps every page a few statements; older matches are reached by narrowing the query.

Every view and filter is a condition on :class:`~clameur.care.models.Conversation` given to
:func:`clameur.care.inbox.inbox`, so the order, the keyset pagination and the index plans
are the inbox's. Two views add an index-friendly bound: ``p1`` reads only scores at or above
P1's threshold (a conversation's level is its highest mention's and its score the highest
mention score, which only rises — :mod:`clameur.analysis.priority`), and ``sla`` only the
statuses whose clocks run.

**SLA at risk** at ``now``: a running clock past its warning time (or warned by the sweep),
breached, or due within :data:`SOON` (the clocks of :mod:`clameur.care.sla`; times in the
JSON are fixed-width UTC ISO strings, so comparing the text compares the instants).

**Counts** beside the views (:func:`view_counts`) are one statement of capped counts
(:data:`COUNT_CAP`: "999+"), each walking one index range and stopping at the cap, so they
cost the same at 100 or 100 000 open conversations. The SLA count has no index to walk and
is left out (None) unless asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from clameur.analysis import intent, sentiment
from clameur.analysis.calibration import UNCERTAIN
from clameur.analysis.priority import LEVELS as LEVEL_FLOORS
from clameur.care.inbox import MAX_LIMIT, Page, inbox
from clameur.care.models import OPEN_STATUSES, STATUSES, Conversation, Incident, Queue
from clameur.care.sla import CLOCKS, RUNNING_STATUSES
from clameur.db.repository import ALL_TENANTS, TenantRepository
from clameur.errors import InvalidInputError
from clameur.listening import search
from clameur.mentions.models import Mention
from clameur.mentions.schemas import SOURCE_ORDER
from clameur.tenancy.models import Brand, Membership, User
from clameur.tenancy.policy import POLICY, authorize
from clameur.tenancy.principal import Principal

VIEW_KINDS: Final = ("mine", "unassigned", "all", "p1", "sla", "backoffice", "queue", "incident")
"""Views; ``queue`` and ``incident`` name their target: ``queue:3``, ``incident:7``."""
ACTIVE: Final = "active"
"""Status filter: every status that still needs work (open, pending, waiting, escalated)."""
ANY: Final = "any"
STATUS_CHOICES: Final = (*STATUSES, ACTIVE, ANY)
LEVELS: Final = tuple(level for level, _ in LEVEL_FLOORS)
SENTIMENTS: Final = (*sentiment.LABELS, UNCERTAIN)
INTENTS: Final = (*intent.LABELS, UNCERTAIN)
"""The models' labels and ``uncertain``, stored when the model was not confident enough or
the language is one it was not trained for (:mod:`clameur.analysis.calibration`)."""
P1_FLOOR: Final = dict(LEVEL_FLOORS)["P1"]
SOON: Final = timedelta(minutes=30)
"""The SLA view also shows clocks due within this time."""
COUNT_CAP: Final = 999
SEARCH_LIMIT: Final = 500
"""A search reaches the conversations of its newest matches, up to this many mentions."""
MAX_QUERY: Final = 500
MAX_TAG: Final = 40
LISTED_INCIDENTS: Final = 12
"""Open incidents listed as views (the newest)."""
ACTING_ROLES: Final = POLICY["conversations.assign"]


@dataclass(frozen=True, slots=True)
class View:
    kind: str
    target: int | None = None
    """The queue's or the incident's id."""

    @classmethod
    def parse(cls, text: str) -> View:
        """``mine``, ``queue:3``…; anything else: :class:`InvalidInputError`."""
        kind, _, rest = text.strip().partition(":")
        if kind not in VIEW_KINDS:
            raise InvalidInputError(
                f"unknown view {text[:40]!r}: one of {', '.join(VIEW_KINDS)}", where="view"
            )
        if kind in ("queue", "incident"):
            if not rest.isdigit() or len(rest) > 18:
                raise InvalidInputError(f"the {kind} view needs an id: {kind}:<id>", where="view")
            return cls(kind, int(rest))
        if rest:
            raise InvalidInputError(f"the {kind} view takes no id", where="view")
        return cls(kind)

    @property
    def key(self) -> str:
        return self.kind if self.target is None else f"{self.kind}:{self.target}"

    @property
    def default_status(self) -> str:
        if self.kind == "backoffice":
            return "escalated"
        if self.kind == "sla":
            return ACTIVE
        return "open"


def default_view(principal: Principal) -> View:
    """Agents start on their own conversations; supervisors, admins and client viewers on
    everything open."""
    return View("mine") if principal.role == "agent" else View("all")


@dataclass(frozen=True, slots=True)
class Filters:
    brand_id: int | None = None
    source: str | None = None
    lang: str | None = None
    level: str | None = None
    status: str | None = None
    """None: the view's default."""
    sentiment: str | None = None
    intent: str | None = None
    tag: str | None = None
    q: str | None = None

    def checked(self) -> Filters:
        """The same filters, blanks as None, or :class:`InvalidInputError` naming the one
        that is wrong."""
        blanks: dict[str, Any] = {}
        for name in ("source", "lang", "level", "status", "sentiment", "intent", "tag", "q"):
            value = getattr(self, name)
            if isinstance(value, str):
                blanks[name] = value.strip() or None
        out = replace(self, **blanks)
        _one_of(out.source, SOURCE_ORDER, "source")
        _one_of(out.level, LEVELS, "level")
        _one_of(out.status, STATUS_CHOICES, "status")
        _one_of(out.sentiment, SENTIMENTS, "sentiment")
        _one_of(out.intent, INTENTS, "intent")
        if out.lang is not None and not (out.lang.isascii() and out.lang.isalpha()):
            raise InvalidInputError("a language is a code such as fr or en", where="lang")
        if out.lang is not None and len(out.lang) > 8:
            raise InvalidInputError("a language is a code such as fr or en", where="lang")
        if out.tag is not None and len(out.tag) > MAX_TAG:
            raise InvalidInputError(f"a tag is at most {MAX_TAG} characters", where="tag")
        if out.q is not None and len(out.q) > MAX_QUERY:
            raise InvalidInputError(f"a search is at most {MAX_QUERY} characters", where="q")
        return out

    @property
    def active(self) -> bool:
        """Whether any filter beyond the view is set."""
        return any(getattr(self, name) is not None for name in self.__dataclass_fields__)


def _one_of(value: str | None, choices: Sequence[str], where: str) -> None:
    if value is not None and value not in choices:
        raise InvalidInputError(
            f"unknown {where} {value[:40]!r}: one of {', '.join(choices)}", where=where
        )


# -- conditions ------------------------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _clock(name: str, key: str) -> Any:
    return Conversation.__table__.c.sla[("clocks", name, key)].as_string()


def sla_at_risk(now: datetime, soon: timedelta = SOON) -> ColumnElement[bool]:
    """A running clock warned, past its warning time, breached or due within ``soon``."""
    stamp, horizon = _iso(now), _iso(now + soon)
    return or_(
        *(
            and_(
                _clock(name, "state") == "running",
                or_(
                    _clock(name, "due_at") <= horizon,
                    _clock(name, "warn_at") <= stamp,
                    _clock(name, "warned_at").is_not(None),
                    _clock(name, "breached_at").is_not(None),
                ),
            )
            for name in CLOCKS
        )
    )


def _has_tag(session: Session, tag: str) -> ColumnElement[bool]:
    c = Conversation
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(c.tags, JSONB).contains([tag])
    each = func.json_each(c.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


def _mention_has(column: Any, value: str) -> ColumnElement[bool]:
    # by conversation_id alone (its index): a conversation's mentions are its tenant's,
    # and a tenant term would steer SQLite to walk the tenant's mentions instead
    return exists(select(1).where(Mention.conversation_id == Conversation.id, column == value))


@dataclass(frozen=True, slots=True)
class Plan:
    """What :func:`clameur.care.inbox.inbox` is given for a view and its filters."""

    status: str | list[str] | None
    where: list[ColumnElement[bool]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


def plan(session: Session, actor: Principal, view: View, filters: Filters, now: datetime) -> Plan:
    c = Conversation
    wanted = filters.status or view.default_status
    status: str | list[str] | None = (
        None if wanted == ANY else list(OPEN_STATUSES) if wanted == ACTIVE else wanted
    )
    where: list[ColumnElement[bool]] = []
    options: dict[str, Any] = {}
    if view.kind == "mine":
        options["assignee_id"] = actor.user_id
    elif view.kind == "unassigned":
        options["unassigned"] = True
    elif view.kind == "queue":
        options["queue_id"] = view.target
    elif view.kind == "incident":
        where.append(c.incident_id == view.target)
        options["selective"] = True
    elif view.kind == "p1":
        where += [c.priority >= P1_FLOOR, c.priority_level == "P1"]
    elif view.kind == "backoffice":
        where.append(c.holder_team_id.is_not(None))
    elif view.kind == "sla":
        # clocks run in these statuses only: the others cannot be at risk
        asked = STATUSES if status is None else [status] if isinstance(status, str) else status
        running = [s for s in asked if s in RUNNING_STATUSES]
        status = running[0] if len(running) == 1 else running
        where.append(sla_at_risk(now))
    if filters.brand_id is not None:
        options["brand_id"] = filters.brand_id
    if filters.source is not None:
        where.append(c.source == filters.source)
    if filters.lang is not None:
        where.append(c.lang == filters.lang)
    if filters.level is not None:
        where.append(c.priority_level == filters.level)
    if filters.sentiment is not None:
        where.append(_mention_has(Mention.sentiment, filters.sentiment))
    if filters.intent is not None:
        where.append(_mention_has(Mention.intent, filters.intent))
    if filters.tag is not None:
        where.append(_has_tag(session, filters.tag))
    return Plan(status, where, options)


# -- pages and counts ----------------------------------------------------------------------


def view_page(
    session: Session,
    actor: Principal,
    view: View,
    filters: Filters = Filters(),  # noqa: B008 - frozen, shared safely
    *,
    now: datetime,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """One page of ``view`` with ``filters`` (``conversations.read``), highest priority
    first, keyset-paginated (:func:`clameur.care.inbox.inbox`). Raises
    :class:`InvalidInputError` for a bad filter, view, cursor or search (its column)."""
    authorize(actor, "conversations.read")
    if now.tzinfo is None:
        raise InvalidInputError("needs a time zone", where="now")
    filters = filters.checked()
    found = plan(session, actor, view, filters, now)
    if found.status == []:
        return Page([], None)
    ids = _search(session, actor, filters.q) if filters.q is not None else None
    if ids is not None:
        found.options["selective"] = True
    return inbox(
        session,
        actor.tenant_id,
        status=found.status,
        limit=limit,
        cursor=cursor,
        where=found.where,
        ids=ids,
        **found.options,
    )


def _search(session: Session, actor: Principal, query: str) -> list[int]:
    """The conversations of the newest :data:`SEARCH_LIMIT` mentions matching ``query``."""
    hits = search(session, actor.tenant_id, query, limit=SEARCH_LIMIT).hits
    if not hits:
        return []
    rows = session.scalars(
        TenantRepository.of(session, actor, Mention)
        .select(Mention.conversation_id, steer=False)
        .where(Mention.id.in_([hit.id for hit in hits]), Mention.conversation_id.is_not(None))
        .distinct()
    )
    return [cid for cid in rows if cid is not None]


def view_counts(
    session: Session,
    actor: Principal,
    views: Sequence[View],
    *,
    now: datetime,
    cap: int = COUNT_CAP,
    with_sla: bool = False,
) -> dict[str, int | None]:
    """``{view key: conversations in it}`` at the view's default status, each capped at
    ``cap`` (show "999+"), in one statement. The SLA view's count is None unless
    ``with_sla`` (it reads every running conversation's clocks)."""
    authorize(actor, "conversations.read")
    counted = [v for v in views if v.kind != "sla" or with_sla]
    out: dict[str, int | None] = {v.key: None for v in views}
    if not counted:
        return out
    key = (
        session.get_bind().dialect.name,
        actor.tenant_id,
        actor.user_id,
        tuple(v.key for v in counted),
        cap,
        now if with_sla else None,
    )
    stmt = _COUNTS.get(key)
    if stmt is None:
        built = _counts_statement(session, actor, counted, now, cap)
        stmt = built
        if key[0] == "postgresql" and not with_sla:
            # values written in (ids and fixed names, none typed by a person): psycopg
            # prepares a statement run five times, and PostgreSQL's generic plan for these
            # counts (no values known) took twice the time of the planned one, 45 ms at p95
            dialect = session.get_bind().dialect
            sql = built.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            stmt = text(str(sql))
        with _COUNTS_LOCK:
            while len(_COUNTS) >= _COUNTS_KEPT:
                _COUNTS.pop(next(iter(_COUNTS)))
            _COUNTS[key] = stmt
    row = session.execute(stmt).one()
    for view, number in zip(counted, row, strict=True):
        out[view.key] = int(number or 0)
    return out


_COUNTS: dict[tuple[Any, ...], Executable] = {}
"""Count statements already built, by (dialect, tenant, user, views, cap, SLA time). Built
and compiled once instead of on every page: building ~30 subqueries, and having the
session's implicit tenant scope rewrite them on each execution, cost twice the counting."""
_COUNTS_KEPT: Final = 512
_COUNTS_LOCK = threading.Lock()


def _counts_statement(
    session: Session, actor: Principal, counted: Sequence[View], now: datetime, cap: int
) -> Select[Any]:
    c = Conversation
    columns = []
    for view in counted:
        found = plan(session, actor, view, Filters(), now)
        inner = TenantRepository.of(session, actor, Conversation).select(literal(1))
        inner = inner.where(*found.where)
        for name, value in found.options.items():
            if name == "selective":
                continue
            if name == "unassigned":
                inner = inner.where(c.assignee_id.is_(None))
            else:
                inner = inner.where(getattr(c, name) == value)
        status: Any = c.status
        if found.options.get("selective") and session.get_bind().dialect.name == "sqlite":
            status = c.status + ""  # walk the view's own index (see inbox's ``selective``)
        if isinstance(found.status, str):
            inner = inner.where(status == found.status)
        elif found.status is not None:
            inner = inner.where(status.in_(found.status))
        capped = inner.limit(cap + 1).subquery()
        columns.append(select(func.count()).select_from(capped).scalar_subquery())
    # every branch carries its own tenant predicate (TenantRepository above), so the
    # session's implicit scope, which would rebuild the statement each time, is not needed
    return select(*columns).execution_options(**{ALL_TENANTS: True})


# -- what the views and filters offer --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Choices:
    """What a person may pick beside the list: queues and open incidents (views), brands
    (filter), and the people a conversation can be assigned to."""

    queues: list[Choice]
    incidents: list[Choice]
    brands: list[Choice]
    agents: list[Choice]


def choices(session: Session, actor: Principal) -> Choices:
    """Four short statements: queues in routing order, the newest open incidents, the
    tenant's brands, its members who may hold conversations (by name)."""
    authorize(actor, "conversations.read")
    queues = session.execute(
        TenantRepository.of(session, actor, Queue)
        .select(Queue.id, Queue.name)
        .order_by(Queue.position, Queue.id)
    ).all()
    incidents = session.execute(
        TenantRepository.of(session, actor, Incident)
        .select(Incident.id, Incident.title)
        .where(Incident.status == "open")
        .order_by(Incident.id.desc())
        .limit(LISTED_INCIDENTS)
    ).all()
    brands = session.execute(
        TenantRepository.of(session, actor, Brand)
        .select(Brand.id, Brand.name)
        .order_by(Brand.name, Brand.id)
    ).all()
    agents = session.execute(
        TenantRepository.of(session, actor, Membership)
        .select(User.id, func.coalesce(User.name, User.email))
        .join(User, User.id == Membership.user_id)
        .where(Membership.role.in_(sorted(ACTING_ROLES)), User.active.is_(True))
        .order_by(func.coalesce(User.name, User.email), User.id)
    ).all()
    return Choices(
        queues=[Choice(i, n) for i, n in queues],
        incidents=[Choice(i, n) for i, n in incidents],
        brands=[Choice(i, n) for i, n in brands],
        agents=[Choice(i, n) for i, n in agents],
    )


def limit_of(shown: int | None, default: int = 50) -> int:
    """A page size for a refresh that keeps what the person had loaded (up to the max)."""
    if shown is None or shown < default:
        return default
    return min(shown, MAX_LIMIT)
