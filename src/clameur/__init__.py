"""Clameur: a self-hosted Community Management Center."""

__version__ = "0.1.0"
