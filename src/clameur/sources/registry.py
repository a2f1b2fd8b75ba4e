"""Which connectors exist: the entry-point group ``clameur.sources``.

Built-ins are declared in Clameur's own ``pyproject.toml``; a third-party package adds its
own under the same group (``[project.entry-points."clameur.sources"]``, ``kind =
"package.module:ConnectorClass"``). The entry point may name a class (instantiated with no
arguments) or an instance.

The ``fake`` connector (:mod:`clameur.sources.fake`, items read from a local file) exists
only when ``CLAMEUR_FAKE_SOURCES=1`` is set — tests and trials: a tenant's admin must never
be able to make the server read its files.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from importlib.metadata import entry_points

from clameur.errors import InvalidInputError
from clameur.sources.base import Connector

log = logging.getLogger(__name__)

GROUP = "clameur.sources"
FAKE_ENV = "CLAMEUR_FAKE_SOURCES"


@cache
def _connectors() -> dict[str, Connector]:
    found: dict[str, Connector] = {}
    for point in entry_points(group=GROUP):
        if point.name == "fake" and os.environ.get(FAKE_ENV) != "1":
            continue
        try:
            loaded = point.load()
            connector = loaded() if isinstance(loaded, type) else loaded
        except Exception as error:  # a broken plugin must not take the others down
            log.error("connector %r (%s) cannot be loaded: %s", point.name, point.value, error)
            continue
        if not isinstance(connector, Connector):
            log.error("connector %r (%s) is not a Connector", point.name, point.value)
            continue
        found[point.name] = connector
    return found


def kinds() -> list[str]:
    """Every known connector kind, sorted."""
    return sorted(_connectors())


def connector(kind: str) -> Connector:
    """The connector of ``kind``; an unknown kind names the known ones."""
    found = _connectors().get(kind)
    if found is None:
        known = ", ".join(kinds()) or "none"
        raise InvalidInputError(f"unknown connector kind {kind!r} (known: {known})", where="kind")
    return found


def reload() -> None:
    """Forget the loaded connectors (after installing a plugin; tests)."""
    _connectors.cache_clear()
