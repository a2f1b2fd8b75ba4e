"""Replies published through the configured sources: one channel per mention source, for
:class:`clameur.care.channels.ChannelRegistry`.

Care looks a channel up by the conversation's mention ``source`` only (``mastodon``,
``bluesky``, ``reddit``), process-wide; a connector's channel needs a source's instance URL
and secrets, which belong to a tenant. :class:`SourceChannel` bridges the two: at publish
time it opens a session and finds **the reply's tenant's enabled sources of that connector
kind whose mention source is the conversation's**, and publishes through the connector's
own channel (:meth:`Connector.channel`) built from the first of them (lowest id).

Limitation: a tenant with several sources of one kind (two Mastodon accounts) publishes
through the first; which source brought a mention in is not recorded on the mention yet,
so "answer from the account that heard it" needs that column first.

Wiring (left to the pipeline and web layers): give the reply handlers, and the services
that check a reply's visibility, the registry of :func:`channels_with_sources` instead of
``default_channels(settings)``::

    reply_handlers(factory, settings, channels=channels_with_sources(factory, settings))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from clameur.care.channels import (
    Channel,
    ChannelRegistry,
    ModerationRequest,
    OutgoingReply,
    PermanentChannelError,
    default_channels,
)
from clameur.config import Settings
from clameur.db.engine import session_scope
from clameur.errors import ClameurError
from clameur.sources.base import Connector, SourceConfig
from clameur.sources.models import Source
from clameur.sources.registry import connector as find_connector
from clameur.sources.service import Sources, config_of

log = logging.getLogger(__name__)

PUBLISHING_KINDS = ("mastodon", "bluesky", "reddit", "x", "facebook", "instagram")
"""Connector kinds whose channel publishes replies (their mention source is their kind,
unless :data:`MENTION_SOURCES` says)."""
MENTION_SOURCES = {"x": "twitter"}


def _channel_of(plugin: Connector, config: SourceConfig, settings: Settings) -> Channel | None:
    """The connector's channel; ours take the settings (SSRF rule), others only a config."""
    build: Callable[..., Channel | None] = plugin.channel
    try:
        return build(config, settings=settings)
    except TypeError:
        return build(config)


class SourceChannel:
    """Publishes replies of one mention source through the tenant's source of ``kind``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        kind: str,
        *,
        source: str | None = None,
        connector_of: Callable[[str], Connector] = find_connector,
        fallback: Channel | None = None,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.kind = kind
        self.source = source or kind
        self.connector_of = connector_of
        self.fallback = fallback
        """Where a tenant with no enabled source of this kind publishes (None: refused)."""
        self.name = kind
        self._template: Channel | None = None

    def _capabilities(self) -> Channel:
        """The connector's channel with no source behind it: what the network allows. Built
        on first use, so that a process which never publishes never imports the network's
        library (Mastodon.py, atproto, PRAW: seconds of import for every CLI command)."""
        if self._template is None:
            template = _channel_of(
                self.connector_of(self.kind),
                SourceConfig(
                    id=0, tenant_id=0, kind=self.kind, name="-", url=None, source=self.source
                ),
                self.settings,
            )
            if template is None:
                raise ClameurError(f"connector {self.kind!r} publishes nothing")
            self._template = template
        return self._template

    @property
    def supports_public(self) -> bool:
        return self._capabilities().supports_public

    @property
    def supports_private(self) -> bool:
        return self._capabilities().supports_private

    @property
    def moderation_actions(self) -> frozenset[str]:
        return self._capabilities().moderation_actions

    def for_tenant(self, tenant_id: int) -> Channel:
        """The channel of the tenant's first enabled source of this kind and source."""
        with session_scope(self.factory) as session:
            repo = Sources(session, tenant_id)
            row = session.scalars(
                repo.select()
                .where(
                    Source.kind == self.kind,
                    Source.source == self.source,
                    Source.enabled.is_(True),
                )
                .order_by(Source.id)
            ).first()
            if row is None and self.fallback is not None:
                return self.fallback
            if row is None:
                raise PermanentChannelError(
                    f"no enabled {self.kind} source in this tenant to publish from: add one "
                    f"(clameur source add TENANT {self.kind} …)"
                )
            config = config_of(session, row)
        channel = _channel_of(self.connector_of(self.kind), config, self.settings)
        if channel is None:
            raise PermanentChannelError(f"the {self.kind} source {config.name!r} cannot publish")
        return channel

    def publish(self, reply: OutgoingReply) -> str:
        return self.for_tenant(reply.tenant_id).publish(reply)

    def moderate(self, request: ModerationRequest) -> None:
        self.for_tenant(request.tenant_id).moderate(request)


def source_channels(
    factory: sessionmaker[Session], settings: Settings, **kwargs: Any
) -> dict[str, Channel]:
    """``{mention source: channel}`` for the connectors that publish (Mastodon, Bluesky,
    Reddit), each finding the reply's tenant's source at publish time."""
    out: dict[str, Channel] = {}
    for kind in PUBLISHING_KINDS:
        source = MENTION_SOURCES.get(kind, kind)
        try:
            out[source] = SourceChannel(factory, settings, kind, source=source, **kwargs)
        except ClameurError as error:  # not installed, or broken: the others still publish
            log.error("no %s channel: %s", kind, error)
    return out


def channels_with_sources(factory: sessionmaker[Session], settings: Settings) -> ChannelRegistry:
    """Care's default registry (e-mail, the recording channel for the rest) with the
    publishing connectors' channels in place of the recording one for their sources: a
    tenant that has a source of that network publishes through it; one that has none keeps
    the recording channel, as before connectors existed."""
    base = default_channels(settings)
    published = source_channels(factory, settings, fallback=base.default)
    return ChannelRegistry({**base.by_source, **published}, base.default)


__all__ = ["PUBLISHING_KINDS", "SourceChannel", "channels_with_sources", "source_channels"]
