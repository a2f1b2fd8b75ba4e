"""One typed Settings, read once (environment prefix ``CLAMEUR_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of Clameur. Read from the environment (``CLAMEUR_*``) or a ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="CLAMEUR_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./clameur.db"
    """SQLAlchemy URL. SQLite (WAL) by default; ``postgresql+psycopg://…`` when scaled out."""

    bus_url: str = "memory://"
    """``memory://`` in the embedded deployment; ``redis://…`` when scaled out."""

    log_level: str = "INFO"
    log_format: str = "kv"
    """``kv`` (key=value) or ``json``."""

    batch_size: int = 1000
    """Mentions per pipeline batch."""

    conversation_window_hours: int = 48
    """A customer's new mention joins their open conversation on the same source when the
    conversation saw activity within this many hours (event time)."""

    analysis_languages: str = "fr,en,de,es,it,nl,pt,ar"
    """Languages the language detector chooses among (ISO 639-1, comma-separated)."""

    sentiment_onnx: str = ""
    """Path of an ONNX sentiment model to use instead of the shipped one (needs the
    ``onnx`` extra: onnxruntime). See docs/models.md, "Bring your own ONNX model"."""

    allow_private_fetch: bool = False
    """Let connectors fetch loopback, private and link-local addresses (tests, intranets)."""

    require_services: bool = False
    """Tests: fail instead of skipping when PostgreSQL, Redis or Chromium is absent."""

    test_database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    """Tests: the PostgreSQL server the parametrised storage fixture uses."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
