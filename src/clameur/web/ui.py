"""The pages' router (kept at this path for :mod:`clameur.web.app`); the pages live in
:mod:`clameur.web.pages`."""

from clameur.web.pages import router
from clameur.web.pages.common import web_link

__all__ = ["router", "web_link"]
