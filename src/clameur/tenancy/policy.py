"""Who may do what: the one table of role checks.

Every action on behalf of a person names one of these actions; :func:`authorize` checks the
principal's role against the table, nowhere else. docs/security.md prints the same table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clameur.errors import ForbiddenError

if TYPE_CHECKING:
    from clameur.tenancy.principal import Principal

ROLES = ("admin", "supervisor", "agent", "viewer")
"""Most powerful first. A ``viewer`` is a client company's own staff member."""

_ALL = frozenset(ROLES)
_ACTING = frozenset({"admin", "supervisor", "agent"})
_SUPERVISING = frozenset({"admin", "supervisor"})
_ADMIN = frozenset({"admin"})

# fmt: off
POLICY: dict[str, frozenset[str]] = {
    # reading
    "mentions.read":            _ALL,
    "conversations.read":       _ALL,
    "alerts.read":              _ALL,
    "incidents.read":           _ALL,
    "campaigns.read":           _ALL,           # a suspected campaign's cluster, its report
    "brands.read":              _ALL,
    "reports.read":             _ALL,
    # agents' work
    "conversations.act":        _ACTING,        # status, tag, note, snooze
    "conversations.assign":     _ACTING,        # to oneself (others: assign_others)
    "conversations.assign_others": _SUPERVISING,
    "replies.write":            _ACTING,        # draft, edit, send
    "replies.approve":          frozenset({"admin", "supervisor", "viewer"}),
    "contacts.manage":          _ACTING,        # merge, split
    "moderation.act":           _ACTING,        # hide, delete public comments
    "moderation.delete":        _SUPERVISING,   # delete a customer's post on its network
    "handover.act":             _ACTING,        # escalate to and hand back from back office
    "presence.set":             _ACTING,
    "presence.set_others":      _SUPERVISING,   # another agent's presence
    # supervision
    "alerts.manage":            _SUPERVISING,   # acknowledge, mute, resolve
    "campaigns.review":         _SUPERVISING,   # confirm or reject a suspected campaign
    "incidents.manage":         _SUPERVISING,   # approve the holding answer, close
    "approvals.manage":         _SUPERVISING,   # the tenant's reply approval policy
    "handover.any_team":        _SUPERVISING,   # hand back for a team one is not in
    "alert_rules.manage":       _SUPERVISING,
    "teams.manage":             _SUPERVISING,   # teams, queues, agents' profiles
    "canned.manage":            _SUPERVISING,   # team-wide canned replies (own: replies.write)
    # administration
    "brands.manage":            _ADMIN,
    "users.manage":             _ADMIN,
    "tokens.manage":            _ADMIN,         # anyone's tokens (one's own: tokens.own)
    "tokens.own":               _ALL,
    "audit.read":               _ADMIN,
    "settings.manage":          _ADMIN,
    "sources.manage":           _ADMIN,         # connectors (docs/connectors.md)
}
# fmt: on
OPERATOR_ACTIONS = frozenset({"tenants.manage", "metrics.read"})
"""Actions only an operator (the contact centre's own administrator) may take.
``metrics.read`` (``GET /metrics``): the figures span every tenant."""


def allowed(principal: Principal, action: str) -> bool:
    if action in OPERATOR_ACTIONS:
        return principal.operator
    try:
        roles = POLICY[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}: add it to the policy table") from None
    return principal.role in roles


def authorize(principal: Principal, action: str) -> None:
    """Raise :class:`ForbiddenError` unless the principal's role may take ``action``."""
    if not allowed(principal, action):
        raise ForbiddenError(
            f"role {principal.role} may not do {action} in tenant {principal.tenant_slug}",
            action=action,
        )


def roles_for(action: str) -> frozenset[str]:
    return POLICY[action]


def markdown_table() -> str:
    """The table as docs/security.md prints it (a test keeps the two equal)."""
    lines = ["| action | " + " | ".join(ROLES) + " |", "|---|" + "---|" * len(ROLES)]
    for action, roles in POLICY.items():
        marks = " | ".join("✓" if role in roles else "" for role in ROLES)
        lines.append(f"| `{action}` | {marks} |")
    return "\n".join(lines)
