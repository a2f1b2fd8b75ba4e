"""Plain text out of (untrusted) HTML: markup dropped, never kept.

Based on :class:`html.parser.HTMLParser`, which never fetches nor executes anything: the
text of ``script``, ``style`` and similar elements is dropped, block elements and ``<br>``
become line breaks, character references are decoded, runs of blanks are collapsed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Final

_SKIPPED: Final = frozenset(
    {"script", "style", "template", "noscript", "head", "iframe", "object", "svg", "math"}
)
_BLOCKS: Final = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_BLANKS = re.compile(r"[ \t\f\v\r\u00a0\u200b]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text of ``html``: paragraphs on their own lines, no markup, no control chars."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = _CONTROLS.sub(" ", "".join(parser.parts))
    lines = (_BLANKS.sub(" ", line).strip() for line in text.split("\n"))
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
