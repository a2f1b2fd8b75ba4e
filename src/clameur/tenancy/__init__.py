"""Tenancy: tenants (client companies), brands, users and their roles, sign-in, API tokens,
the principal every action takes, the policy table and the audit log."""

from clameur.tenancy.accounts import (
    add_member,
    add_user,
    find_user,
    get_user,
    grant,
    member_ids,
    members,
    revoke,
    role_in,
)
from clameur.tenancy.audit import AuditLog, audit
from clameur.tenancy.models import (
    ApiToken,
    AuditEntry,
    AuthSession,
    Brand,
    Membership,
    MentionBrand,
    Tenant,
    User,
)
from clameur.tenancy.policy import POLICY, ROLES, allowed, authorize
from clameur.tenancy.principal import Principal, refresh, resolve, system_principal, tenants_of
from clameur.tenancy.service import (
    add_brand,
    add_tenant,
    get_brand,
    get_tenant,
    list_brands,
    list_tenants,
)

__all__ = [
    "POLICY",
    "ROLES",
    "ApiToken",
    "AuditEntry",
    "AuditLog",
    "AuthSession",
    "Brand",
    "Membership",
    "MentionBrand",
    "Principal",
    "Tenant",
    "User",
    "add_brand",
    "add_member",
    "add_tenant",
    "add_user",
    "allowed",
    "audit",
    "authorize",
    "find_user",
    "get_brand",
    "get_tenant",
    "get_user",
    "grant",
    "list_brands",
    "list_tenants",
    "member_ids",
    "members",
    "refresh",
    "resolve",
    "revoke",
    "role_in",
    "system_principal",
    "tenants_of",
]
