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
    """``memory://`` in the embedded deployment; ``redis://…`` when scaled out: then
    ``clameur import`` queues its lines for ``clameur worker`` processes."""
    bus_max_backlog: int = 200
    """Entries a bus stream may hold (queued or in progress) before producers wait for room
    (backpressure); 0: unbounded. An import chunk is one entry."""
    bus_publish_timeout: float = 600.0
    """Seconds a producer waits for room in a full stream before giving up; 0: for ever."""
    bus_max_deliveries: int = 5
    """Deliveries of a bus entry that fail (or whose consumer dies) before it moves to the
    dead-letter stream ``<stream>:dead``."""
    bus_claim_idle_ms: int = 30_000
    """A pending entry idle this long (its worker died or hung) is claimed by another
    worker, and a failed one retried."""
    bus_chunk_lines: int = 500
    """Lines of a queued import per bus entry."""
    bus_prefix: str = "clameur:"
    """Prefix of every Redis key of the bus (several deployments can share one Redis)."""

    metrics_token: str = ""
    """Bearer token Prometheus sends to ``GET /metrics`` (``clameur serve``) and to the
    metrics port of ``clameur worker --metrics-port`` (which refuses to start without it);
    empty: only an operator's API token or session reads ``/metrics``."""
    ready_relay_stale_seconds: float = 300.0
    """``/api/v1/ready`` fails its ``outbox_relay`` check when a due outbox event has waited
    longer than this (no relay delivers)."""

    log_level: str = "INFO"
    log_format: str = "kv"
    """``kv`` (key=value) or ``json``."""

    batch_size: int = 1000
    """Mentions per pipeline batch."""
    import_prefetch: bool = True
    """A long import analyses its next batches in a child process (two cores or more)."""

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

    smtp_host: str = "127.0.0.1"
    """SMTP server that alert e-mails are handed to (a local relay by default); empty:
    e-mail is off — alert and SLA e-mails are recorded in the outbox as ``skipped``."""
    smtp_port: int = 25
    smtp_from: str = "clameur@localhost"
    """Sender address of alert e-mails; its domain also names their Message-IDs."""
    smtp_user: str = ""
    """Log in with this user (and ``smtp_password``) when set."""
    smtp_password: str = ""
    smtp_starttls: bool = False
    """Upgrade the SMTP connection with STARTTLS (certificate verified) before sending."""
    smtp_timeout: float = 30.0
    """Seconds before an SMTP connection or command gives up (the outbox retries)."""

    webhook_timeout: float = 10.0
    """Seconds before an alert webhook POST gives up (the outbox retries)."""

    care_email_from: str = ""
    """Sender address of e-mail replies to customers (``smtp_from`` when empty)."""
    care_recording_path: str = ""
    """JSON Lines file where the recording channel appends what it would have published
    (networks without a connector yet); empty: kept in memory only."""
    survey_secret: str = ""
    """HMAC-SHA256 key signing CSAT/NPS survey links; surveys are refused while it is empty."""
    survey_ttl_days: int = 30
    """Days a survey link stays valid."""
    public_base_url: str = "http://127.0.0.1:8000"
    """Base URL of the web app as customers reach it (survey links)."""

    allowed_hosts: str = "127.0.0.1,localhost,[::1],::1"
    """Host names the web app answers (comma-separated; ``*`` for any — not advised: DNS
    rebinding then reaches the instance). A request for any other ``Host`` gets a 400."""
    secret_key: str = ""
    """Key signing session cookies; empty: a random key kept in the database (shared by
    every process of the deployment)."""
    trust_proxy: bool = False
    """Behind a reverse proxy that terminates TLS: believe its ``X-Forwarded-Proto`` and
    ``X-Forwarded-For`` (session cookies are then ``Secure`` when it says https)."""
    session_idle_minutes: int = 480
    """A browser session unused this long is over."""
    session_absolute_hours: int = 24
    """A browser session is over this long after sign-in, used or not."""

    search_timeout_seconds: float = 5.0
    """An archive search over the API (and the query test-drive) is stopped after this long
    (PostgreSQL ``statement_timeout``, SQLite progress handler, and the confirmation loop) and
    answered with a 503 asking to narrow it; 0: no deadline. ``clameur search`` has none."""
    search_facets_seconds: float = 0.6
    """The API's first page of a search is read first; its facets and total are then counted
    until this long after the search began, else left out (``facets_stopped``) rather than
    holding the page: the longest an accepted search holds its connection, give or take the
    page itself (docs/benchmarks.md, "Hostile queries")."""
    search_rate_per_minute: float = 60.0
    """Archive searches (and test-drives) one API principal (tenant and user) may start per
    minute, on average; past it, 429 with ``Retry-After``. 0: no limit."""
    search_burst: int = 10
    """Searches a principal may start at once before the per-minute rate applies."""

    require_services: bool = False
    """Tests: fail instead of skipping when PostgreSQL, Redis or Chromium is absent."""

    test_database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    """Tests: the PostgreSQL server the parametrised storage fixture uses."""

    test_redis_url: str = "redis://127.0.0.1:6379/0"
    """Tests: the Redis server of the bus contract and scale-out tests (keys under a prefix
    of their own, deleted after each test)."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
