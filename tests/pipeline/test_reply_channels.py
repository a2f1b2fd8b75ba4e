"""Approved replies leave through the networks' sources: the relays' handlers use the
registry with a source channel per publishing connector, which falls back to the recording
channel for a tenant with no source of that network."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from clameur.care.channels import REPLY_EVENT, ChannelRegistry, EmailChannel
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory
from clameur.pipeline.handlers import outbox_handlers
from clameur.sources.channels import SourceChannel


def _registry_of(handler: object) -> ChannelRegistry:
    assert isinstance(handler, partial)
    registry = handler.args[2]
    assert isinstance(registry, ChannelRegistry)
    return registry


def test_the_relays_publish_through_the_tenants_sources(tmp_path: object) -> None:
    settings = Settings(database_url="sqlite://")
    factory = make_session_factory(create_engine_for("sqlite://"))
    registry = _registry_of(outbox_handlers(settings, factory)[REPLY_EVENT])
    for source in ("mastodon", "bluesky", "reddit", "twitter", "facebook", "instagram"):
        assert isinstance(registry.for_source(source), SourceChannel), source
    assert isinstance(registry.for_source("email"), EmailChannel)


def test_a_tenant_without_a_source_of_the_network_keeps_the_recording_channel(
    tmp_path: Path,
) -> None:
    from clameur.care.channels import RecordingChannel
    from clameur.db.migrate import upgrade

    engine = create_engine_for(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    settings = Settings(database_url=str(engine.url))
    registry = _registry_of(outbox_handlers(settings, make_session_factory(engine))[REPLY_EVENT])
    mastodon = registry.for_source("mastodon")
    assert isinstance(mastodon, SourceChannel)
    assert isinstance(mastodon.for_tenant(1), RecordingChannel), "no Mastodon source in tenant 1"
