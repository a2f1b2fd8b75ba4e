"""Server-rendered pages (Jinja2, autoescaped and bidi-isolated: mention text is untrusted).

Only ``/login`` (and the static files) answer without a session; everything else is on
:data:`clameur.web.pages.overview.router`, whose dependency redirects to ``/login``.
"""

from fastapi import APIRouter

from clameur.web.pages.login import router as login_router
from clameur.web.pages.overview import router as signed_in_router

router = APIRouter(include_in_schema=False)
router.include_router(login_router)
router.include_router(signed_in_router)

__all__ = ["router"]
