"""Reply templates and canned replies: the pieces replies are made from.

Split from :mod:`clameur.care.replies` (the reply lifecycle). A template's ``{name}`` is
parsed here, never evaluated (no ``str.format`` attribute access): an unknown variable is
refused by name, a malformed template with its position.

A canned reply is the team's (every agent of the tenant; ``canned.manage`` makes them) or
one agent's own (``personal``: ``replies.write`` is enough, and nobody else sees it). Either
may have a **shortcode**: typing ``/refund`` in the reply box inserts it
(:func:`expand_shortcodes`, several per message). A shortcode is unique among the team's and
among each agent's own; where an agent's own and the team's share one, the agent's wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clameur.care.audit import audit
from clameur.care.models import CannedReply
from clameur.care.repository import CannedReplies as CannedReplies
from clameur.care.repository import Conversations as Conversations
from clameur.clock import Clock
from clameur.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clameur.mentions.models import Author
from clameur.tenancy.models import Brand, User
from clameur.tenancy.policy import authorize
from clameur.tenancy.principal import Principal, refresh

MAX_TEXT = 20_000
"""Characters of a reply or canned reply, at most."""
STANDARD_VARIABLES = ("name", "handle", "brand", "agent", "conversation")
SHORTCODE = re.compile(r"[a-z0-9_-]{1,32}")
_TYPED = re.compile(r"(?<!\S)/([A-Za-z0-9_-]{1,32})(?=[\s.,;:!?)\]]|$)")
"""A ``/shortcode`` typed at the start or after white space, ending at white space, the end
or punctuation (``/refund,`` expands; ``/a/b`` and ``http://x/y`` do not)."""


# -- templates ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    position: int
    """1-based character position of its ``{``."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def parse_template(text: str) -> list[str | Variable]:
    """Literal runs and variables; a malformed template is refused with the position."""
    parts: list[str | Variable] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
        elif char == "{":
            end = text.find("}", i + 1)
            if end < 0:
                raise InvalidInputError(
                    f"'{{' at position {i + 1} is never closed (write '{{{{' for a brace)",
                    where="template",
                )
            name = text[i + 1 : end].strip()
            if not _NAME.fullmatch(name):
                raise InvalidInputError(
                    f"{text[i : end + 1]!r} at position {i + 1} is not a variable: use "
                    "{name} with letters, digits and _ only",
                    where="template",
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Variable(name, i + 1))
            i = end + 1
        elif char == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
        elif char == "}":
            raise InvalidInputError(
                f"'}}' at position {i + 1} closes nothing (write '}}}}' for a brace)",
                where="template",
            )
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def template_variables(text: str) -> list[str]:
    """The variables a template uses, in order of first use."""
    names = (p.name for p in parse_template(text) if isinstance(p, Variable))
    return list(dict.fromkeys(names))


def render(text: str, variables: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders with ``variables``; an unknown one is refused by name.
    Values are inserted verbatim (a value holding ``{x}`` stays ``{x}``)."""
    parts = parse_template(text)
    unknown = list(
        dict.fromkeys(p.name for p in parts if isinstance(p, Variable) and p.name not in variables)
    )
    if unknown:
        shown = ", ".join(f"{{{name}}}" for name in unknown)
        known = ", ".join(sorted(variables)) or "none"
        raise InvalidInputError(f"unknown variable {shown} (known: {known})", where="template")
    return "".join(p if isinstance(p, str) else str(variables[p.name]) for p in parts)


# -- canned replies -------------------------------------------------------------------------


def _lang(lang: str) -> str:
    cleaned = lang.strip().lower()
    if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,4})?", cleaned):
        raise InvalidInputError(f"language must be an ISO 639-1 code like 'fr', got {lang!r}")
    return cleaned


def _brand(session: Session, tenant_id: int, brand_id: int) -> Brand:
    brand = session.scalars(
        select(Brand).where(Brand.tenant_id == tenant_id, Brand.id == brand_id)
    ).first()
    if brand is None:
        raise NotFoundError(f"brand {brand_id} not found in this tenant")
    return brand


def _shortcode(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = value.strip().lstrip("/").lower()
    if not SHORTCODE.fullmatch(cleaned):
        raise InvalidInputError(
            f"{value!r}: 1–32 lower-case letters, digits, _ or -", where="shortcode"
        )
    return cleaned


def add_canned_reply(
    session: Session,
    clock: Clock,
    actor: Principal,
    *,
    name: str,
    text: str,
    lang: str,
    brand_id: int | None = None,
    tags: Iterable[str] = (),
    shortcode: str | None = None,
    personal: bool = False,
) -> CannedReply:
    """A canned reply for one brand (or every brand of the tenant: ``brand_id=None``): the
    team's (``canned.manage``) or, ``personal``, the actor's own (``replies.write``)."""
    actor = refresh(session, actor)
    authorize(actor, "replies.write" if personal else "canned.manage")
    tenant_id = actor.tenant_id
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInputError("canned reply name must be 1–100 characters", where="name")
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise InvalidInputError(f"canned reply text must be 1–{MAX_TEXT} characters")
    parse_template(text)
    if brand_id is not None:
        _brand(session, tenant_id, brand_id)
    owner_id = actor.user_id if personal else None
    code = _shortcode(shortcode)
    if code is not None:
        repo = CannedReplies.of(session, actor)
        owner = CannedReply.owner_id
        taken = repo.select(CannedReply.id).where(
            CannedReply.shortcode == code,
            owner.is_(None) if owner_id is None else owner == owner_id,
        )
        if session.scalar(taken) is not None:
            whose = "your own" if personal else "the team's"
            raise AlreadyExistsError(f"/{code} is already one of {whose} canned replies")
    canned = CannedReply(
        tenant_id=tenant_id,
        brand_id=brand_id,
        lang=_lang(lang),
        name=name,
        text=text,
        tags=sorted({t.strip() for t in tags if t.strip()}),
        owner_id=owner_id,
        shortcode=code,
    )
    try:
        with session.begin_nested():  # a concurrent insert of the same shortcode: refused
            session.add(canned)
    except IntegrityError:
        raise AlreadyExistsError(f"/{code} was just added by someone else") from None
    audit(
        session,
        tenant_id=tenant_id,
        at=clock.now(),
        actor_id=actor.actor_id,
        action="canned.add",
        object_type="canned_reply",
        object_id=canned.id,
        data={
            "name": name,
            "brand_id": brand_id,
            "lang": canned.lang,
            "shortcode": code,
            "personal": personal,
        },
    )
    return canned


def list_canned_replies(
    session: Session,
    who: Principal | int,
    *,
    brand_id: int | None = None,
    lang: str | None = None,
) -> list[CannedReply]:
    """The canned replies ``who`` may use: a principal (``replies.write``) gets the team's
    and their own (never a colleague's own); a tenant id (background work, suggestions)
    the team's only. With ``brand_id``: that brand's and the tenant-wide ones (brand's
    first); without: every brand's. ``lang`` keeps one language (``fr`` also matches
    ``fr-ca``). The actor's own come first."""
    if isinstance(who, Principal):
        who = refresh(session, who)
        authorize(who, "replies.write")
        repo = CannedReplies.of(session, who)
        mine: int | None = who.user_id
    else:
        repo, mine = CannedReplies(session, who), None
    stmt = repo.select().where(
        or_(CannedReply.owner_id.is_(None), CannedReply.owner_id == mine)
        if mine is not None
        else CannedReply.owner_id.is_(None)
    )
    if brand_id is not None:
        stmt = stmt.where(or_(CannedReply.brand_id == brand_id, CannedReply.brand_id.is_(None)))
    rows = list(repo.all(stmt))
    if lang is not None:
        base = _lang(lang).split("-")[0]
        rows = [r for r in rows if r.lang.split("-")[0] == base]
    return sorted(
        rows, key=lambda r: (r.owner_id is None, r.brand_id is None, r.name.casefold(), r.id)
    )


def expand_shortcodes(session: Session, actor: Principal, conversation_id: int, text: str) -> str:
    """``text`` with every ``/shortcode`` replaced by its canned reply, rendered with the
    conversation's variables (:func:`conversation_variables`). The actor's own shortcodes
    win over the team's; a canned reply of another brand than the conversation's, and a
    shortcode nobody defined, stay as typed. An inserted text is not expanded again."""
    actor = refresh(session, actor)
    authorize(actor, "replies.write")
    conversation = Conversations.of(session, actor).get(conversation_id)
    if len(text) > MAX_TEXT:
        raise InvalidInputError(f"a reply is at most {MAX_TEXT} characters", where="text")
    typed = {m.group(1).lower() for m in _TYPED.finditer(text)}
    if not typed:
        return text
    repo = CannedReplies.of(session, actor)
    rows = repo.all(
        repo.select().where(
            CannedReply.shortcode.in_(sorted(typed)),
            or_(CannedReply.owner_id.is_(None), CannedReply.owner_id == actor.user_id),
            or_(CannedReply.brand_id.is_(None), CannedReply.brand_id == conversation.brand_id),
        )
    )
    chosen: dict[str, CannedReply] = {}
    for row in sorted(rows, key=lambda r: (r.owner_id is not None, r.id)):
        assert row.shortcode is not None
        chosen[row.shortcode] = row  # the actor's own last: it wins
    if not chosen:
        return text
    variables = conversation_variables(
        session, actor.tenant_id, conversation.id, agent_id=actor.user_id
    )
    rendered: dict[str, str] = {}
    for code, row in chosen.items():
        try:
            rendered[code] = render(row.text, variables)
        except InvalidInputError as exc:
            raise InvalidInputError(f"/{code}: {exc.reason}", where="text") from None

    def replace(match: re.Match[str]) -> str:
        return rendered.get(match.group(1).lower(), match.group(0))

    return _TYPED.sub(replace, text)


def render_canned_reply(
    session: Session, tenant_id: int, canned_id: int, variables: Mapping[str, str]
) -> str:
    return render(CannedReplies(session, tenant_id).get(canned_id).text, variables)


def conversation_variables(
    session: Session, tenant_id: int, conversation_id: int, agent_id: int | None = None
) -> dict[str, str]:
    """The standard variables of a conversation: ``name`` (the customer's name, or handle),
    ``handle``, ``brand`` (when known), ``agent`` (when given), ``conversation`` (its id)."""
    conversation = Conversations(session, tenant_id).get(conversation_id)
    author = session.get(Author, conversation.author_id)
    out = {"conversation": str(conversation.id)}
    if author is not None:
        out["handle"] = author.handle
        out["name"] = (author.name or "").strip() or author.handle
    if conversation.brand_id is not None:
        out["brand"] = _brand(session, tenant_id, conversation.brand_id).name
    if agent_id is not None:
        agent = session.get(User, agent_id)
        if agent is not None:
            out["agent"] = agent.name
    return out
