"""Every outbox handler of the application, in one place for the relays."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from clameur.config import Settings
from clameur.core.outbox import Handler


def outbox_handlers(settings: Settings, factory: sessionmaker[Session]) -> dict[str, Handler]:
    """Alert e-mails and webhooks, SLA breach e-mails, and replies to customers."""
    from clameur.care import sla_sweep
    from clameur.detection import delivery

    handlers: dict[str, Handler] = {}
    handlers.update(delivery.handlers(settings))
    handlers.update(sla_sweep.handlers(settings))
    try:
        from clameur.care.replies import reply_handlers
    except ImportError:  # pragma: no cover - replies land with the care issue
        return handlers
    from clameur.sources.channels import channels_with_sources

    # replies to Mastodon, Bluesky, Reddit, X, Facebook and Instagram leave through the
    # tenant's source of that network (docs/connectors.md); e-mail by SMTP; the rest recorded
    channels = channels_with_sources(factory, settings)
    handlers.update(reply_handlers(factory, settings, channels=channels))
    return handlers
