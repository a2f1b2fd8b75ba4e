"""``POST /inbox/bulk``: one action on the conversations picked in the inbox (or on the one
row whose button was pressed): assign to me, assign to a colleague (supervisors), tag,
resolve, mark as spam.

Each conversation goes through the care services with the page's principal
(:func:`clameur.care.routing.assign`, :func:`clameur.care.conversations.tag`,
:func:`clameur.care.conversations.set_status`), each in its own savepoint: one refused (a
closed conversation, a colleague's, another tenant's) is rolled back and reported, the
others' changes stay. *Spam* is the tag ``spam`` and the status ``closed`` with the reason
"spam" (care has no spam status of its own).

The answer to htmx is the refreshed list with a toast (``HX-Trigger``); to a plain form,
the whole inbox with the same message. When every conversation was refused for the role
(a client viewer), the answer is 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from clameur.care import conversations, routing
from clameur.care.inbox import MAX_LIMIT
from clameur.clock import Clock
from clameur.errors import ClameurError, ForbiddenError, NotFoundError
from clameur.tenancy.principal import Principal
from clameur.web.i18n import gettext_for, ngettext_for

ACTIONS = ("assign_me", "assign", "tag", "resolve", "spam")
SPAM_TAG = "spam"
MAX_BACK = 2000


def wanted_ids(values: list[str]) -> list[int]:
    """The conversation ids of the form, deduplicated, in order, at most a page's worth."""
    seen: dict[int, None] = {}
    for value in values:
        text = value.strip()
        if text.isdigit() and len(text) < 19:
            seen[int(text)] = None
    return list(seen)[:MAX_LIMIT]


def problem_of(lang: str, action: str, ids: list[int], *, to: str, tag: str) -> str | None:
    """What is missing from the form, in the person's language (None: nothing)."""
    _ = gettext_for(lang)
    if action not in ACTIONS:
        return _("Choose an action.")
    if not ids:
        return _("Select at least one conversation.")
    if action == "tag" and not tag.strip():
        return _("Enter the tag to add.")
    if action == "assign" and not (to.strip().isdigit() and len(to.strip()) < 19):
        return _("Choose who to assign them to.")
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    done: list[int]
    failed: dict[int, str]
    """Conversation id → why it was not done (in the person's language)."""
    forbidden: bool
    """Nothing was done, and every refusal was the role's."""


def run_bulk(
    session: Session,
    clock: Clock,
    actor: Principal,
    lang: str,
    action: str,
    ids: list[int],
    *,
    to: str = "",
    tag: str = "",
) -> Outcome:
    """Run ``action`` on each conversation in its own savepoint (see the module)."""
    _ = gettext_for(lang)
    run = _action(clock, actor, action, to=to, tag=tag.strip())
    done: list[int] = []
    failed: dict[int, str] = {}
    role_only = True
    for conversation_id in ids:
        try:
            with session.begin_nested():
                run(session, conversation_id)
            done.append(conversation_id)
        except ClameurError as exc:
            failed[conversation_id] = _reason(_, exc)
            role_only = role_only and isinstance(exc, ForbiddenError)
    return Outcome(done, failed, bool(failed) and not done and role_only)


Step = Callable[[Session, int], object]


def _action(clock: Clock, actor: Principal, action: str, *, to: str, tag: str) -> Step:
    now = clock.now()
    if action == "assign_me":
        return lambda s, cid: routing.assign(s, clock, actor, cid, actor.user_id)
    if action == "assign":
        target = int(to)
        return lambda s, cid: routing.assign(s, clock, actor, cid, target)
    if action == "tag":
        return lambda s, cid: conversations.tag(s, actor, cid, add=[tag], at=now)
    if action == "resolve":
        return lambda s, cid: conversations.set_status(s, actor, cid, "resolved", at=now)

    def spam(s: Session, cid: int) -> object:
        conversations.tag(s, actor, cid, add=[SPAM_TAG], at=now)
        return conversations.set_status(s, actor, cid, "closed", at=now, reason=SPAM_TAG)

    return spam


def _reason(_: Callable[..., str], exc: ClameurError) -> str:
    if isinstance(exc, ForbiddenError):
        return _("not allowed for your role")
    if isinstance(exc, NotFoundError):
        return _("not found")
    return f"{_('refused')}: {exc}"


def summary(lang: str, action: str, outcome: Outcome, *, tag: str = "") -> str:
    """One line: how many were done, and which were not and why (the first five)."""
    _ = gettext_for(lang)
    done, failed, tag = len(outcome.done), outcome.failed, tag.strip()
    ngettext = ngettext_for(lang)
    if action == "assign_me":
        text = ngettext(
            "%(num)s conversation assigned to you.", "%(num)s conversations assigned to you.", done
        )
    elif action == "assign":
        text = ngettext("%(num)s conversation assigned.", "%(num)s conversations assigned.", done)
    elif action == "tag":
        text = ngettext(
            "%(num)s conversation tagged “%(tag)s”.",
            "%(num)s conversations tagged “%(tag)s”.",
            done,
            tag=tag,
        )
    elif action == "resolve":
        text = ngettext("%(num)s conversation resolved.", "%(num)s conversations resolved.", done)
    else:
        text = ngettext(
            "%(num)s conversation marked as spam.", "%(num)s conversations marked as spam.", done
        )
    if failed:
        details = "; ".join(f"#{cid} {why}" for cid, why in list(failed.items())[:5])
        more = len(failed) - 5
        text += (
            " " + ngettext("%(num)s not done:", "%(num)s not done:", len(failed)) + " " + details
        )
        if more > 0:
            text += " " + _("and %(n)s more.", n=more)
    return text
