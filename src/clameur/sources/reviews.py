"""Review blocks in a web page: author, rating 1–5, date, text.

Per-site adapters are plain functions ``(html, url) -> list[Review]``, tried in order
(:data:`ADAPTERS`); the generic ones read what most review sites embed for search engines —
schema.org ``Review`` objects in JSON-LD (``<script type="application/ld+json">``, also
nested under a ``Product``/``LocalBusiness``'s ``review`` or in an ``@graph``) and in
microdata (``itemtype=".../Review"``). A site-specific adapter is one more function here.
Nothing is fetched or executed: JSON-LD is read as data, HTML by lxml's parser.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import lxml.html
from lxml import etree

from clameur.sources.html_text import html_to_text

_LD_JSON: Final = re.compile(
    r"<script[^>]*type\s*=\s*[\"']?application/ld\+json[\"']?[^>]*>(.*?)</script>",
    re.IGNORECASE | re.DOTALL,
)
MAX_REVIEWS: Final = 500
"""Reviews read from one page (a hostile page cannot make a poll unbounded)."""


@dataclass(frozen=True)
class Review:
    author: str
    text: str
    rating: int | None
    """1–5, scaled from the page's own best/worst rating."""
    published: datetime | None
    key: str
    """Stable within the page: the review's own id or URL, else a hash of its content."""


Adapter = Callable[[str, str], list["Review"]]


def reviews_in(html: str, url: str) -> list[Review]:
    """Every review block the adapters find, each once (first adapter wins)."""
    seen: set[tuple[str, str]] = set()
    out: list[Review] = []
    for adapter in ADAPTERS:
        for review in adapter(html, url):
            identity = (review.author.casefold(), " ".join(review.text.split())[:200])
            if identity in seen or len(out) >= MAX_REVIEWS:
                continue
            seen.add(identity)
            out.append(review)
    return out


# -- JSON-LD ---------------------------------------------------------------------------


def json_ld_reviews(html: str, url: str) -> list[Review]:
    out: list[Review] = []
    for match in _LD_JSON.finditer(html):
        try:
            data = json.loads(match.group(1).strip())
        except (ValueError, RecursionError):
            continue  # a broken block on the page is not ours to report
        for node in _walk(data):
            if _is_review(node.get("@type")):
                review = _from_json_ld(node)
                if review is not None:
                    out.append(review)
    return out


def _walk(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 20:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for value in data.values():
            if isinstance(value, dict | list):
                yield from _walk(value, depth + 1)


def _is_review(kind: Any) -> bool:
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.rsplit("/", 1)[-1] == "Review" for k in kinds)


def _from_json_ld(node: dict[str, Any]) -> Review | None:
    text = _plain(node.get("reviewBody") or node.get("description") or "")
    if not text:
        return None
    author = node.get("author")
    if isinstance(author, list):
        author = author[0] if author else None
    if isinstance(author, dict):
        author = author.get("name")
    rating = node.get("reviewRating")
    if not isinstance(rating, dict):
        rating = {"ratingValue": rating} if rating is not None else {}
    key = node.get("@id") or node.get("url")
    return _review(
        str(author or ""),
        text,
        _scaled(rating.get("ratingValue"), rating.get("bestRating"), rating.get("worstRating")),
        _date(node.get("datePublished") or node.get("dateCreated")),
        key if isinstance(key, str) else None,
    )


# -- microdata -------------------------------------------------------------------------


def microdata_reviews(html: str, url: str) -> list[Review]:
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    out: list[Review] = []
    for node in root.xpath('//*[@itemscope and contains(@itemtype, "schema.org/Review")]'):
        text = _plain(_prop(node, "reviewBody") or _prop(node, "description") or "")
        if not text:
            continue
        author_node = _first(node, "author")
        author = ""
        if author_node is not None:
            author = _prop(author_node, "name") or _value(author_node)
        rating_node = _first(node, "reviewRating")
        rating = None
        if rating_node is not None:
            rating = _scaled(
                _prop(rating_node, "ratingValue"),
                _prop(rating_node, "bestRating"),
                _prop(rating_node, "worstRating"),
            )
        out.append(
            _review(author, text, rating, _date(_prop(node, "datePublished")), node.get("id"))
        )
    return out


def _first(node: Any, name: str) -> Any:
    found = node.xpath(f'.//*[@itemprop="{name}"]')
    return found[0] if found else None


def _prop(node: Any, name: str) -> str | None:
    found = _first(node, name)
    return _value(found) if found is not None else None


def _value(node: Any) -> str:
    for attribute in ("content", "datetime", "value"):
        if node.get(attribute):
            return str(node.get(attribute)).strip()
    return " ".join(node.text_content().split())


# -- shared ----------------------------------------------------------------------------

ADAPTERS: tuple[Adapter, ...] = (json_ld_reviews, microdata_reviews)


def _review(
    author: str, text: str, rating: int | None, published: datetime | None, key: str | None
) -> Review:
    author = " ".join(author.split())[:200] or "anonymous"
    digest = hashlib.sha256(
        f"{author}\n{published.isoformat() if published else ''}\n{text[:500]}".encode()
    ).hexdigest()[:16]
    return Review(author, text, rating, published, (key or "").strip()[:200] or digest)


def _plain(value: Any) -> str:
    text = str(value or "")
    return html_to_text(text) if "<" in text else " ".join(text.split())


def _number(value: Any) -> float | None:
    try:
        return float(str(value).replace(",", ".")) if value not in (None, "") else None
    except ValueError:
        return None


def _scaled(value: Any, best: Any = None, worst: Any = None) -> int | None:
    """A rating on the page's own scale (default 1–5) brought to 1–5."""
    rating, high, low = _number(value), _number(best) or 5.0, _number(worst)
    if rating is None:
        return None
    low = 1.0 if low is None else low  # schema.org's defaults: worst 1, best 5
    if high <= low:
        return None
    share = min(1.0, max(0.0, (rating - low) / (high - low)))
    return max(1, min(5, round(1 + share * 4)))


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
