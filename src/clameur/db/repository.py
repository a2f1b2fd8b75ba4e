"""The one place tenant scope is applied: every tenant-owned query goes through here.

Two layers, both here:

- :class:`TenantRepository` — explicit: a repository bound to one tenant (``Repo.of(session,
  principal)``) whose every read carries the tenant predicate.
- :func:`bind_tenant` — implicit, for a request or command acting for a person: once a
  session is bound to the principal's tenant, **every** ORM read of a tenant-owned model
  made through it (``select(Model)``, ``select(Model.column)``, joins, relationship loads)
  gets ``tenant_id = <bound tenant>`` added by SQLAlchemy's ``with_loader_criteria``, so a
  query that forgot its tenant filter still cannot return another tenant's rows. Reads that
  must span tenants (resolving who the principal is, the tenant switcher) say so with
  ``.execution_options(all_tenants=True)``. Core statements on bare ``Table`` objects (the
  archive search) are not ORM reads and keep their explicit predicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Select, event, func, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from clameur.db.base import Base, TenantOwned
from clameur.errors import NotFoundError

M = TypeVar("M", bound=Base)
R = TypeVar("R", bound="TenantRepository[Any]")


class Scope(Protocol):
    """Anything bound to one tenant: a principal (``clameur.tenancy.Principal``)."""

    @property
    def tenant_id(self) -> int: ...


TENANT_KEY = "clameur.tenant_id"
ALL_TENANTS = "all_tenants"
"""Execution option: this read deliberately spans tenants."""


def bind_tenant(session: Session, tenant_id: int) -> None:
    """Scope every later ORM read of tenant-owned models in ``session`` to ``tenant_id``."""
    bound = session.info.get(TENANT_KEY)
    if bound is not None and bound != tenant_id:
        raise RuntimeError(f"session already bound to tenant {bound}, not {tenant_id}")
    session.info[TENANT_KEY] = tenant_id


def bound_tenant(session: Session) -> int | None:
    tenant_id: int | None = session.info.get(TENANT_KEY)
    return tenant_id


def unbind_tenant(session: Session) -> None:
    session.info.pop(TENANT_KEY, None)


@event.listens_for(Session, "do_orm_execute")
def _scope_to_bound_tenant(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get(TENANT_KEY)
    if tenant_id is None or state.execution_options.get(ALL_TENANTS, False):
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.session.get_bind().dialect.name == "sqlite":
        # SQLite's planner (no ANALYZE in the embedded deployment) would take a redundant
        # ``tenant_id = ?`` as a reason to walk a tenant-leading index over the whole
        # tenant; ``tenant_id + 0`` checks the same thing without steering the plan.
        criteria = with_loader_criteria(
            TenantOwned, lambda cls: cls.tenant_id + 0 == tenant_id, include_aliases=True
        )
    else:  # PostgreSQL merges the repeated equality with the query's own
        criteria = with_loader_criteria(
            TenantOwned, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
        )
    state.statement = state.statement.options(criteria)


class TenantRepository(Generic[M]):
    """Queries over one tenant-owned model, always filtered by ``tenant_id``.

    Objects of another tenant are indistinguishable from objects that do not exist.
    """

    model: type[M]
    session: Session
    tenant_id: int

    def __init__(self, session: Session, tenant_id: int, model: type[M] | None = None) -> None:
        if model is not None:
            self.model = model
        if not issubclass(self.model, TenantOwned):
            raise TypeError(f"{self.model.__name__} is not tenant-owned")
        self.session = session
        self.tenant_id = tenant_id

    @classmethod
    def of(cls: type[R], session: Session, scope: Scope, model: type[Any] | None = None) -> R:
        """The repository bound to the scope's tenant (a principal's); ``model`` names the
        table for the base class itself (``TenantRepository.of(session, actor, Mention)``)."""
        return cls(session, scope.tenant_id, model)

    def select(self, *columns: Any, steer: bool = True) -> Select[Any]:
        """``select(model)`` or ``select(*columns)`` from the model, in the tenant.

        ``steer=False`` writes the predicate as ``tenant_id + 0 = :tenant``: the same check,
        but no index on ``tenant_id`` is chosen for it — for a statement whose selective
        condition is elsewhere (ids from a page), where SQLite would otherwise walk the
        whole tenant through a tenant-leading index."""
        stmt: Select[Any] = select(*columns) if columns else select(self.model)
        if columns:
            stmt = stmt.select_from(self.model)
        tenant_column: Any = getattr(self.model, "tenant_id")  # noqa: B009 - checked in __init__
        if not steer:
            tenant_column = tenant_column + 0
        return stmt.where(tenant_column == self.tenant_id)

    def get(self, object_id: int) -> M:
        id_column: Any = getattr(self.model, "id")  # noqa: B009
        found: M | None = self.session.scalars(self.select().where(id_column == object_id)).first()
        if found is None:
            raise NotFoundError(f"{self.model.__tablename__} {object_id} not found")
        return found

    def all(self, stmt: Select[Any] | None = None) -> Sequence[M]:
        rows: Sequence[M] = self.session.scalars(stmt if stmt is not None else self.select()).all()
        return rows

    def count(self) -> int:
        stmt = self.select(func.count())
        return int(self.session.execute(stmt).scalar_one())
