"""Tenancy: tenants (client companies) and their brands."""

from clameur.tenancy.models import Brand, MentionBrand, Tenant
from clameur.tenancy.service import (
    add_brand,
    add_tenant,
    get_brand,
    get_tenant,
    list_brands,
    list_tenants,
)

__all__ = [
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
