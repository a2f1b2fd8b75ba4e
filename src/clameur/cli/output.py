"""Printing: JSON on stdout for machines, tidy text for people, errors on stderr."""

from __future__ import annotations

import sys
from typing import Any

import orjson
import typer


def emit_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, default=str).decode() + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr; raise the returned Exit."""
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    return typer.Exit(code)
