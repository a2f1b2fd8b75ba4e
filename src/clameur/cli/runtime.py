"""What every command needs: settings, logging, the database, the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from clameur.clock import SystemClock
from clameur.config import Settings, get_settings
from clameur.db import create_engine_for, current_revision, make_session_factory
from clameur.db.migrate import head_revision
from clameur.errors import ClameurError
from clameur.logging import configure_logging
from clameur.pipeline import Pipeline

if TYPE_CHECKING:
    from clameur.care.channels import ChannelRegistry


@dataclass
class Runtime:
    settings: Settings

    @classmethod
    def load(cls) -> Runtime:
        settings = get_settings()
        configure_logging(settings.log_level, settings.log_format)
        return cls(settings)

    @cached_property
    def engine(self) -> Engine:
        return create_engine_for(self.settings.database_url)

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def channels(self) -> ChannelRegistry:
        """Where replies leave (the tenant's sources of each network) and what each allows."""
        from clameur.sources.channels import channels_with_sources

        return channels_with_sources(self.factory, self.settings)

    def ready(self) -> sessionmaker[Session]:
        """The session factory, once the schema is known to be current."""
        revision = current_revision(self.engine)
        if revision != head_revision():
            state = "is not initialised" if revision is None else f"is at revision {revision}"
            raise ClameurError(
                f"the database {self.engine.url.render_as_string()} {state}: run `clameur init`"
            )
        return self.factory

    def pipeline(self) -> Pipeline:
        return Pipeline(factory=self.ready(), settings=self.settings, clock=SystemClock())
