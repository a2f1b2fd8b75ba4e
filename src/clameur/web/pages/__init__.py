"""Server-rendered pages (Jinja2 + htmx, autoescaped and bidi-isolated: mention text is
untrusted).

Only ``/login`` (and the static files) answer without a session; every other router here
carries the :func:`~clameur.web.auth.page_session` dependency, which redirects to ``/login``.
One module per area: ``inbox`` (``/``, ``/inbox``), ``conversation`` (``/c/{id}``),
``approvals``, ``alerts`` (and campaign review), ``incidents`` (crisis mode), ``floor``
(supervisors), ``overview`` (``/dashboard``, the tenant switcher), ``preferences``, ``sources``
(admins: the connectors and their health),
``live`` (``/live`` Server-Sent Events, presence).
"""

from fastapi import APIRouter

from clameur.web.pages import (
    alerts,
    approvals,
    conversation,
    floor,
    inbox,
    incidents,
    live,
    login,
    overview,
    preferences,
    sources,
)

router = APIRouter(include_in_schema=False)
for area in (login, inbox, conversation, approvals, alerts, incidents, floor, overview):
    router.include_router(area.router)
router.include_router(preferences.router)
router.include_router(sources.router)
router.include_router(live.router)

__all__ = ["router"]
