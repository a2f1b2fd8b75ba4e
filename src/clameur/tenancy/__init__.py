"""Tenancy: tenants (client companies) and their brands."""

from clameur.tenancy.models import AuditEntry, Brand, MentionBrand, Tenant, User
from clameur.tenancy.service import (
    ROLES,
    add_brand,
    add_tenant,
    add_user,
    get_brand,
    get_tenant,
    get_user,
    list_brands,
    list_tenants,
)

__all__ = [
    "ROLES",
    "AuditEntry",
    "User",
    "add_user",
    "get_user",
    "Brand",
    "MentionBrand",
    "Tenant",
    "add_brand",
    "add_tenant",
    "get_brand",
    "get_tenant",
    "list_brands",
    "list_tenants",
]
