"""Listening: which brands (of which tenants) a mention is about."""

from clameur.listening.matcher import BrandCatalog, fold, match_brands

__all__ = ["BrandCatalog", "fold", "match_brands"]
