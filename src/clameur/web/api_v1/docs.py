"""``/api/v1/docs``: Swagger UI 5 (it renders OpenAPI 3.1, which FastAPI writes), served
offline from the files the pinned ``fastapi-offline`` package ships (no CDN; nothing else of
that package is used), with our own page and an external init script (the CSP allows no
inline script). Public, like ``/api/v1/openapi.json``: the description of the API is no
secret."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from clameur.errors import NotFoundError

router = APIRouter(prefix="/api/v1/docs", include_in_schema=False)

ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon.png")
"""The package's files the page uses (nothing else of the package is served)."""

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Clameur API v1</title>
  <link rel="stylesheet" href="/api/v1/docs/static/swagger-ui.css">
  <link rel="icon" type="image/png" href="/api/v1/docs/static/favicon.png">
</head>
<body>
  <div id="swagger-ui" data-spec-url="/api/v1/openapi.json"></div>
  <script src="/api/v1/docs/static/swagger-ui-bundle.js"></script>
  <script src="/static/swagger-init.js"></script>
</body>
</html>
"""


@cache
def _root() -> Path:
    return Path(str(resources.files("fastapi_offline") / "static"))


@router.get("", response_class=HTMLResponse)
def docs_page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get("/static/{name}")
def docs_asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFoundError(f"no documentation asset {name!r}")
    return FileResponse(_root() / name)
