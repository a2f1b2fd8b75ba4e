"""Printing: JSON on stdout for machines, tidy text for people, errors on stderr.

Text for people goes through :func:`safe` wherever it may hold untrusted text (mentions,
handles, names, summaries…): a terminal must never receive a raw control sequence from a
mention (clear the screen, set the window title, recolour, reorder with bidi controls).
``--json`` output is left exact: JSON escapes control characters itself.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
import typer

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
_LINE_BREAKS = (0x2028, 0x2029)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_SAFE = {
    code: _escape(code) for code in (*range(0x20), 0x7F, *range(0x80, 0xA0), *_BIDI, *_LINE_BREAKS)
}
_SAFE[0x0A] = "⏎"


def safe(text: object) -> str:
    """``text`` fit for a terminal line: control, bidi and line-break characters made visible.

    C0 controls (ESC, BEL, CR, TAB…), DEL, C1 controls, the bidi controls (U+202A–U+202E,
    U+2066–U+2069, U+200E, U+200F, U+061C) and U+2028/U+2029 become ``\\x1b`` or ``\\u202e``
    style escapes; a newline becomes a visible ``⏎`` so one record stays on one line. A
    backslash is left as it is (it has no effect on a terminal). ``None`` prints as ``""``.
    """
    return "" if text is None else str(text).translate(_SAFE)


def emit_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, default=str).decode() + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr; raise the returned Exit."""
    sys.stderr.write(f"error: {safe(' '.join(message.split()))}\n")
    return typer.Exit(code)
