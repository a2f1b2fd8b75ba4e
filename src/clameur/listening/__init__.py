"""Listening: the query language and which brands (of which tenants) a mention is about."""

from clameur.listening.matcher import BrandCatalog, match_brands

__all__ = ["BrandCatalog", "match_brands"]
