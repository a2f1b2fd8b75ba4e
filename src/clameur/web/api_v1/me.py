"""``GET /api/v1/me``: who the credentials stand for."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from clameur.errors import NotFoundError
from clameur.tenancy.models import Tenant, User
from clameur.web.api_v1.common import SessionDep, operation
from clameur.web.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["me"])


class UserRef(BaseModel):
    email: str
    name: str


class TenantRef(BaseModel):
    slug: str
    name: str


class Me(BaseModel):
    user: UserRef
    tenant: TenantRef
    role: str
    operator: bool
    via: str
    """token or session."""


@router.get(
    "/me",
    response_model=Me,
    summary="The user, tenant and role of the credentials",
    **operation(None),
)
def me(session: SessionDep, principal: CurrentPrincipal) -> Me:
    user = session.get(User, principal.user_id)
    tenant = session.get(Tenant, principal.tenant_id)
    if user is None or tenant is None:
        raise NotFoundError("the principal no longer exists")
    return Me(
        user=UserRef(email=user.email, name=user.name),
        tenant=TenantRef(slug=tenant.slug, name=tenant.name),
        role=principal.role,
        operator=principal.operator,
        via=principal.via,
    )
