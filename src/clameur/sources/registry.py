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
from importlib.metadata import EntryPoint, entry_points

from clameur.errors import InvalidInputError
from clameur.sources.base import Connector, SourceError

log = logging.getLogger(__name__)

GROUP = "clameur.sources"
FAKE_ENV = "CLAMEUR_FAKE_SOURCES"


@cache
def _points() -> dict[str, EntryPoint]:
    """The declared connectors, by kind (nothing imported yet)."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=GROUP):
        if point.name == "fake" and os.environ.get(FAKE_ENV) != "1":
            continue
        found[point.name] = point
    return found


@cache
def _load(kind: str) -> Connector:
    point = _points()[kind]
    try:
        loaded = point.load()
        made = loaded() if isinstance(loaded, type) else loaded
    except Exception as error:  # a broken plugin must not take the others down
        log.error("connector %r (%s) cannot be loaded: %s", kind, point.value, error)
        raise SourceError(f"connector {kind!r} cannot be loaded: {error}") from error
    if not isinstance(made, Connector):
        raise SourceError(f"connector {kind!r} ({point.value}) is not a Connector")
    return made


def kinds() -> list[str]:
    """Every declared connector kind, sorted (none is imported by this)."""
    return sorted(_points())


def connector(kind: str) -> Connector:
    """The connector of ``kind``, imported on first use; an unknown kind names the known
    ones (:class:`InvalidInputError`), a broken plugin is a :class:`SourceError`."""
    if kind not in _points():
        known = ", ".join(kinds()) or "none"
        raise InvalidInputError(f"unknown connector kind {kind!r} (known: {known})", where="kind")
    return _load(kind)


def reload() -> None:
    """Forget the loaded connectors (after installing a plugin; tests)."""
    _points.cache_clear()
    _load.cache_clear()
