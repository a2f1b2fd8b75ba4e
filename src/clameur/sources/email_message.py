"""One e-mail (RFC 5322 bytes) as a record in the import format.

- ``external_id``: the Message-ID without its angle brackets, or — when the message has none —
  ``sha256.<hash of the bytes>@clameur.invalid``, stable across polls;
- ``in_reply_to``: the nearest message this one answers, from ``In-Reply-To`` then
  ``References`` (newest first), skipping Clameur's own replies (``clameur.*@…``), so that a
  customer answering our reply threads onto their own earlier message;
- ``author``: the From address (lower-cased) and display name; ``text``: the text/plain part,
  or the HTML part turned into text (scripts, styles and markup dropped, entities decoded);
- headers decoded (RFC 2047 encoded words, RFC 2231 parameters) and bodies in their declared
  charset, an unknown charset read as UTF-8 with replacement characters;
- kept in the raw payload for replies (``clameur.care.channels.EmailChannel``): ``subject``,
  ``from``, ``reply_to``, ``message_id`` (``<…>``), ``references``.

A message that cannot become a record (no From address, no text at all, unparseable) raises
:class:`MalformedEmail` with the reason; the connector reports it as a problem.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import Any, Final

from clameur.sources.html_text import html_to_text

_MSG_ID: Final = re.compile(r"<([^<>\s]{1,290})>")
_OWN: Final = re.compile(r"^clameur\.[a-z]+\.", re.IGNORECASE)
"""Our own Message-IDs (replies, alert e-mails): never a customer's message."""
MAX_TEXT: Final = 100_000


class MalformedEmail(ValueError):  # noqa: N818 - a reason, raised and reported as a problem
    """This message cannot become a mention (the reason says why)."""


def message_record(raw: bytes, *, source: str, received_at: datetime) -> dict[str, Any]:
    """The import-format record of one message; :class:`MalformedEmail` when impossible."""
    try:
        message = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the parser is lenient; anything it raises is a bad message
        raise MalformedEmail(f"unparseable message: {exc}") from None
    assert isinstance(message, EmailMessage)
    author = _author(message)
    subject = _header(message, "Subject")
    text = _text(message)
    if not text:
        text = subject
    if not text:
        raise MalformedEmail("the message has no text (neither a text part nor a subject)")
    own_id = message_ids(_header(message, "Message-ID"))
    external_id = own_id[0] if own_id else _hashed_id(raw)
    record: dict[str, Any] = {
        "source": source,
        "external_id": external_id,
        "text": text[:MAX_TEXT],
        "created_at": _date(message, received_at).isoformat(),
        "author": author,
        "message_id": f"<{external_id}>",
    }
    parent = thread_parent(message)
    if parent is not None and parent != external_id:
        record["in_reply_to"] = parent
    if subject:
        record["subject"] = subject
    sender = _header(message, "From")
    if sender:
        record["from"] = sender
    reply_to = _first_address(message, "Reply-To")
    if reply_to is not None:
        record["reply_to"] = reply_to.addr_spec
    references = message_ids(_header(message, "References"))
    if references:
        record["references"] = " ".join(f"<{r}>" for r in references[-20:])
    return record


def message_ids(value: str | None) -> list[str]:
    """The ``<…>`` ids in a header value, without brackets, in order."""
    return _MSG_ID.findall(value or "")


def thread_parent(message: Message) -> str | None:
    """The id of the message this one answers: In-Reply-To, else the newest References
    entry, skipping Clameur's own ids (a reply to our reply threads onto the customer's
    message our reply answered, which References carries before it)."""
    candidates = [
        *reversed(message_ids(_header(message, "In-Reply-To"))),
        *reversed(message_ids(_header(message, "References"))),
    ]
    return next((c for c in candidates if not _OWN.match(c)), None)


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse: read as absent
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _first_address(message: Message, name: str) -> Address | None:
    try:
        header = message.get(name)
        addresses = getattr(header, "addresses", ()) if header is not None else ()
    except Exception:
        return None
    return next((a for a in addresses if a.addr_spec and "@" in a.addr_spec), None)


def _author(message: Message) -> dict[str, Any]:
    address = _first_address(message, "From")
    if address is None:
        raise MalformedEmail(f"no sender address in From: {_header(message, 'From')[:100]!r}")
    author: dict[str, Any] = {"handle": address.addr_spec.lower()}
    if address.display_name:
        author["name"] = " ".join(address.display_name.split())[:300]
    return author


def _date(message: Message, received_at: datetime) -> datetime:
    value = _header(message, "Date")
    try:
        when = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None:
        return received_at
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _hashed_id(raw: bytes) -> str:
    return f"sha256.{hashlib.sha256(raw).hexdigest()[:40]}@clameur.invalid"


# -- the body --------------------------------------------------------------------------


def _text(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception as exc:
        raise MalformedEmail(f"unreadable MIME structure: {exc}") from None
    if part is None:
        return ""
    content = _decoded(part)
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    lines = [line.rstrip() for line in content.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip().replace("\x00", "")


def _decoded(part: Message) -> str:
    """The part's text in its declared charset; an unknown or lying charset is read as
    UTF-8 (then Latin-1) with replacement rather than dropping the message."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError, AssertionError, KeyError):
        pass
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    for charset in ("utf-8", "latin-1"):
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")  # pragma: no cover - latin-1 always decodes
