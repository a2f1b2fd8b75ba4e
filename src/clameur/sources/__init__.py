"""Sources: connectors that bring mentions in (RSS/Atom, webhook, IMAP, web pages…), their
configuration, polling schedule, cursor and health.

The interface a connector implements is in :mod:`clameur.sources.base`; connectors are found
through the entry-point group ``clameur.sources`` (:mod:`clameur.sources.registry`).
"""

from clameur.sources.base import (
    BaseConnector,
    Connector,
    PollContext,
    Polled,
    Problem,
    RateLimitedError,
    SourceConfig,
    SourceError,
    TransientSourceError,
)
from clameur.sources.models import Source, SourceSecret
from clameur.sources.registry import connector, kinds

__all__ = [
    "BaseConnector",
    "Connector",
    "PollContext",
    "Polled",
    "Problem",
    "RateLimitedError",
    "Source",
    "SourceConfig",
    "SourceError",
    "SourceSecret",
    "TransientSourceError",
    "connector",
    "kinds",
]
