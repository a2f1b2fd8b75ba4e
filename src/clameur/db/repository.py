"""The one place tenant scope is applied: every tenant-owned query goes through here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from clameur.db.base import Base, TenantOwned
from clameur.errors import NotFoundError

M = TypeVar("M", bound=Base)
R = TypeVar("R", bound="TenantRepository[Any]")


class Scope(Protocol):
    """Anything bound to one tenant: a principal (``clameur.tenancy.Principal``)."""

    @property
    def tenant_id(self) -> int: ...


class TenantRepository(Generic[M]):
    """Queries over one tenant-owned model, always filtered by ``tenant_id``.

    Objects of another tenant are indistinguishable from objects that do not exist.
    """

    model: type[M]
    session: Session
    tenant_id: int

    def __init__(self, session: Session, tenant_id: int) -> None:
        if not issubclass(self.model, TenantOwned):
            raise TypeError(f"{self.model.__name__} is not tenant-owned")
        self.session = session
        self.tenant_id = tenant_id

    @classmethod
    def of(cls: type[R], session: Session, scope: Scope) -> R:
        """The repository bound to the scope's tenant (a principal's)."""
        return cls(session, scope.tenant_id)

    def select(self, *columns: Any) -> Select[Any]:
        stmt: Select[Any] = select(*columns) if columns else select(self.model)
        if columns:
            stmt = stmt.select_from(self.model)
        tenant_column: Any = getattr(self.model, "tenant_id")  # noqa: B009 - checked in __init__
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
