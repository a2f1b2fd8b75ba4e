"""Mentions: the canonical record, the import formats, dedupe and storage."""

from clameur.mentions.draft import BatchReport, Draft, LineStatus, StepContext
from clameur.mentions.models import Author, Mention
from clameur.mentions.reader import LineError, reader_for
from clameur.mentions.schemas import SOURCES, AuthorIn, MentionIn, RecordError, normalise
from clameur.mentions.service import dedupe, resolve_authors, store

__all__ = [
    "SOURCES",
    "Author",
    "AuthorIn",
    "BatchReport",
    "Draft",
    "LineError",
    "LineStatus",
    "Mention",
    "MentionIn",
    "RecordError",
    "StepContext",
    "dedupe",
    "normalise",
    "reader_for",
    "resolve_authors",
    "store",
]
