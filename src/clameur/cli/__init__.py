"""The ``clameur`` command."""

from clameur.cli.main import app, main

__all__ = ["app", "main"]
