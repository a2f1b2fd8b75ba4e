"""FastAPI application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from clameur import __version__
from clameur.care.presence import MemoryPresence
from clameur.clock import SystemClock
from clameur.config import Settings, get_settings
from clameur.db import create_engine_for, make_session_factory
from clameur.pipeline.metrics import ClusterCollector, cluster_registry, probe_bus
from clameur.sources.channels import channels_with_sources
from clameur.web import problems
from clameur.web.api import metrics_router
from clameur.web.api import router as api_router
from clameur.web.api_v1 import ROUTERS as API_V1_ROUTERS
from clameur.web.live import LiveHub
from clameur.web.security import SecurityHeaders, allowed_hosts, host_names
from clameur.web.ui import router as ui_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Clameur",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    engine = create_engine_for(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = SystemClock()
    # Where replies leave and what each network allows (visibility, moderation): the
    # tenant's source of that network, as the outbox relay publishes them.
    app.state.channels = channels_with_sources(app.state.session_factory, settings)
    app.state.live = LiveHub(app.state.session_factory)
    app.state.presence = MemoryPresence(app.state.clock)
    # readiness and the scrape's gauges: a Redis client that gives up within a second
    app.state.bus_probe = probe_bus(settings)
    app.state.cluster_registry = cluster_registry(
        ClusterCollector(app.state.session_factory, app.state.bus_probe, app.state.clock)
    )
    problems.install(app)
    app.include_router(api_router)
    app.include_router(metrics_router)
    for router in API_V1_ROUTERS:
        app.include_router(router)
    app.include_router(ui_router)
    static = Path(__file__).parent / "ui" / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")
    hosts = allowed_hosts(settings.allowed_hosts)
    if "*" not in hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=host_names(hosts))
    app.add_middleware(SecurityHeaders)
    return app
