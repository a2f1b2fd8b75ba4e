"""FastAPI application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from clameur import __version__
from clameur.clock import SystemClock
from clameur.config import Settings, get_settings
from clameur.db import create_engine_for, make_session_factory
from clameur.web.api import router as api_router
from clameur.web.search_api import SearchError, search_error_handler
from clameur.web.search_api import router as search_router
from clameur.web.ui import router as ui_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Clameur",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    engine = create_engine_for(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = SystemClock()
    app.include_router(api_router)
    app.include_router(search_router)
    app.add_exception_handler(SearchError, search_error_handler)
    app.include_router(ui_router)
    static = Path(__file__).parent / "ui" / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")
    return app
