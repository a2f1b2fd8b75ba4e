"""The web app: REST API (``/api/v1``) and pages."""

from clameur.web.app import create_app

__all__ = ["create_app"]
