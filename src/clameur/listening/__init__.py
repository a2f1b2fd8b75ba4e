"""Listening: the query language, which brands (of which tenants) a mention is about, and
archive search over stored mentions."""

from clameur.listening.matcher import BrandCatalog, match_brands
from clameur.listening.search import QueryPreview, SearchHit, SearchResult, preview_query, search
from clameur.listening.search_deadline import SearchTimeout, deadline
from clameur.listening.search_index import (
    document_keys,
    filter_holds,
    index_token,
    key_decider,
    metadata_only,
    search_text,
    text_filter,
)
from clameur.listening.search_query import SearchQuery, compile_query, describe_query_error

__all__ = [
    "BrandCatalog",
    "QueryPreview",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "SearchTimeout",
    "compile_query",
    "deadline",
    "describe_query_error",
    "document_keys",
    "filter_holds",
    "index_token",
    "key_decider",
    "metadata_only",
    "match_brands",
    "preview_query",
    "search",
    "search_text",
    "text_filter",
]
