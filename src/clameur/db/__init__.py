"""Storage: the declarative base, engines, sessions, the tenant-scoped repository base."""

from clameur.db.base import Base, TenantOwned, UTCDateTime, json_type
from clameur.db.engine import create_engine_for, make_session_factory, session_scope
from clameur.db.migrate import current_revision, upgrade
from clameur.db.repository import TenantRepository, bind_tenant, bound_tenant, unbind_tenant

__all__ = [
    "Base",
    "TenantOwned",
    "TenantRepository",
    "UTCDateTime",
    "create_engine_for",
    "current_revision",
    "json_type",
    "make_session_factory",
    "session_scope",
    "bind_tenant",
    "bound_tenant",
    "unbind_tenant",
    "upgrade",
]
