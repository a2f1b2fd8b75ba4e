"""The workspace's new care actions trust nothing but the principal: another tenant's admin
does not find the objects, a forged principal is refused, a viewer is refused what the
policy table denies viewers, and the right role succeeds (the checks of
``tests/care/test_principals.py``, on these actions)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clameur.care import canned, collision, conversations, incidents
from clameur.clock import FrozenClock
from clameur.tenancy import POLICY
from tests.care.test_principals import CHANNELS, Action
from tests.care.test_principals import test_only_the_right_principal_acts as check
from tests.conftest import Database

ACTIONS = [
    Action(
        "conversations.snooze",
        "conversations.act",
        "agent",
        lambda s, c, p, x: conversations.snooze(
            s, p, x.conversation, c.now() + timedelta(hours=1), at=c.now(), reason="later"
        ),
    ),
    Action(
        "conversations.set_status_with_reason",
        "conversations.act",
        "agent",
        lambda s, c, p, x: conversations.set_status(
            s, p, x.conversation, "resolved", at=c.now(), reason="done"
        ),
    ),
    Action(
        "collision.reply_now",
        "replies.write",
        "agent",
        lambda s, c, p, x: collision.reply_now(
            s, c, p, x.conversation, "Hello", seen_reply_id=x.pending, channels=CHANNELS
        ),
    ),
    Action(
        "collision.set_reply_to_others",
        "teams.manage",
        "supervisor",
        lambda s, c, p, x: collision.set_reply_to_others(s, c, p, x.front, "refuse"),
    ),
    Action(
        "canned.add_canned_reply_personal",
        "replies.write",
        "agent",
        lambda s, c, p, x: canned.add_canned_reply(
            s, c, p, name="Mine", text="Hi", lang="en", brand_id=x.brand, personal=True
        ),
    ),
    Action(
        "canned.expand_shortcodes",
        "replies.write",
        "agent",
        lambda s, c, p, x: canned.expand_shortcodes(s, p, x.conversation, "/hi there"),
    ),
    Action(
        "incidents.bulk_progress",
        "incidents.read",
        "viewer",
        lambda s, c, p, x: incidents.bulk_progress(s, p, x.incident),
    ),
]


def test_every_action_names_a_policy_action() -> None:
    assert {a.policy for a in ACTIONS} <= set(POLICY)
    assert {"campaigns.read", "campaigns.review"} <= set(POLICY)
    assert POLICY["campaigns.review"] == frozenset({"admin", "supervisor"})


@pytest.mark.parametrize("action", ACTIONS, ids=[a.name for a in ACTIONS])
def test_only_the_right_principal_acts(db: Database, clock: FrozenClock, action: Action) -> None:
    check(db, clock, action)
