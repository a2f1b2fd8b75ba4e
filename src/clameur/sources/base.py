"""The one connector interface: what a connector is given, what it gives back, how it fails.

A connector turns one remote source (a feed, a mailbox, a page…) into records in the import
format (DESIGN.md, "Contract: the import format"). It is called by the sources service
outside any transaction, with the source's configuration, the cursor it returned last time
and a :class:`PollContext`; it returns a :class:`Polled`. The service runs the records
through the pipeline and moves the cursor in the same transaction, so a cursor never moves
without its mentions. Idempotence by ``(source, external_id)`` makes a re-poll harmless.

Connectors are found through the entry-point group ``clameur.sources``
(:mod:`clameur.sources.registry`); a third-party package declares its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from clameur.clock import Clock
from clameur.config import Settings
from clameur.errors import ClameurError

if TYPE_CHECKING:
    from clameur.care.channels import Channel
    from clameur.fetch import Fetcher

SOURCES = (
    "twitter",
    "facebook",
    "instagram",
    "mastodon",
    "bluesky",
    "reddit",
    "forum",
    "blog",
    "news",
    "review",
    "email",
    "web",
    "other",
)
"""The mention ``source`` values of the import contract."""


# -- errors ----------------------------------------------------------------------------


class SourceError(ClameurError):
    """A poll failed: recorded as the source's ``last_error``, the source backs off."""


class TransientSourceError(SourceError):
    """A failure that may pass (network, 5xx, a busy server): retried with backoff."""


class RateLimitedError(TransientSourceError):
    """The remote asked us to wait: ``retry_after`` seconds (None: the usual backoff)."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(reason)


# -- what a connector is given ---------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """One source as its connector sees it. ``secrets`` never show in ``repr``."""

    id: int
    tenant_id: int
    kind: str
    name: str
    url: str | None
    source: str
    """The mention ``source`` to stamp on records that do not say."""
    options: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = {name: "set" for name in self.secrets}
        return (
            f"SourceConfig(id={self.id}, tenant_id={self.tenant_id}, kind={self.kind!r}, "
            f"name={self.name!r}, url={self.url!r}, source={self.source!r}, "
            f"options={dict(self.options)!r}, secrets={shown!r})"
        )

    __str__ = __repr__


FetcherFactory = Callable[..., "Fetcher"]
"""``factory(settings, **limits) -> Fetcher`` (``clameur.fetch.Fetcher`` itself by default)."""


def _default_fetcher(settings: Settings, **limits: Any) -> Fetcher:
    from clameur.fetch import Fetcher

    return Fetcher(settings, **limits)


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class PollContext:
    """What a poll may use besides its configuration: settings, "now" and the fetcher."""

    settings: Settings
    clock: Clock
    fetcher_factory: FetcherFactory = _default_fetcher
    keep_alive: Callable[[], None] = _nothing
    """Call between the steps of a long poll (many pages, a big mailbox): extends the
    source's lease (10 minutes from now); raises if another poller took the source."""

    def fetcher(self, **limits: Any) -> Fetcher:
        """A fetcher honouring the settings (SSRF rule); ``limits``: ``max_bytes``,
        ``timeout``, ``max_redirects``, ``user_agent``."""
        return self.fetcher_factory(self.settings, **limits)


# -- what a connector gives back -------------------------------------------------------


class Problem(NamedTuple):
    """An item of the source that could not become a mention: where it is, and why."""

    where: str
    reason: str


@dataclass
class Polled:
    """The outcome of one poll.

    ``records``: import-format dicts. ``cursor``: the new cursor (JSON-able; None keeps no
    cursor). ``problems``: items that could not be turned into records — reported, never
    silently dropped. ``retry_after``: the remote asked for a pause before the next poll.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    cursor: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    retry_after: float | None = None


# -- the connector ---------------------------------------------------------------------


class NoOptions(BaseModel):
    """Options schema of a connector that takes none: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


@runtime_checkable
class Connector(Protocol):
    """A kind of source. One instance serves every source of that kind (keep no per-source
    state on it: it lives in the cursor)."""

    kind: str
    """The entry-point name: ``rss``, ``imap``…"""
    default_source: str
    """The mention ``source`` of a new source of this kind unless ``--source`` says."""
    needs_url: bool
    """Whether ``source add`` requires ``--url``."""
    polls: bool
    """False for push connectors (webhook): the scheduler never polls them."""
    options_schema: type[BaseModel]
    """Validates (and fills defaults of) the options at ``source add``."""
    secret_fields: tuple[str, ...]
    """Names of the secrets it needs (stored apart, shown as ``name: set``)."""

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        """Fetch what is new since ``cursor``. Raises :class:`SourceError` (or a subclass,
        or ``clameur.fetch.FetchError``) when the poll as a whole failed."""
        ...

    def channel(self, config: SourceConfig) -> Channel | None:
        """The channel that publishes replies on this source, if it can."""
        ...


class BaseConnector:
    """Defaults for a connector: subclass and set ``kind``, ``default_source``, and
    ``options_schema``/``secret_fields`` if it has any; implement :meth:`poll`."""

    kind: ClassVar[str] = ""
    default_source: ClassVar[str] = "other"
    needs_url: ClassVar[bool] = True
    polls: ClassVar[bool] = True
    options_schema: ClassVar[type[BaseModel]] = NoOptions
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def poll(
        self, config: SourceConfig, cursor: dict[str, Any] | None, context: PollContext
    ) -> Polled:
        raise NotImplementedError(f"connector {self.kind!r} does not poll")

    def channel(self, config: SourceConfig) -> Channel | None:
        return None

    def check_url(self, url: str) -> None:
        """Refuse a URL this connector cannot use (``InvalidInputError``, where ``url``);
        called by ``source add``. Optional: the service looks it up with ``getattr``."""
        return None
