"""Who may do what: the operators' roles and the actions each allows.

Every operator action has a name here; the console and the CLI go through
the same operations in core/, which check the actor's role against this
table before changing anything, so a page or a command cannot grant more
than its role. Reading is open to every role; changing is not.

- admin: everything, operators included.
- support: reads everything; freezes and unfreezes, unlocks 114 locks,
  sends a test push.
- finance: reads everything; tops up, deducts, and the ledger and reports.

A customer, signed in to the customer console, is no operator but goes
through some of the same operations on its own account (its bindings, its
push, its password): the `customer` role allows those, and `Actor.require`
limits it to the account it is signed in as.
"""

from __future__ import annotations

from typing import Final

ADMIN: Final = "admin"
SUPPORT: Final = "support"
FINANCE: Final = "finance"
ROLES: Final = (ADMIN, SUPPORT, FINANCE)
# Not an operator's role: a customer acting on its own account.
CUSTOMER: Final = "customer"

_SUPPORT_ACTIONS = frozenset({"account.freeze", "account.unfreeze", "account.unlock", "push.test"})
_FINANCE_ACTIONS = frozenset({"account.topup", "account.deduct", "finance.export"})
# Open to every operator's role: reading, with an audit entry of the fact
# (an operator opening an account's customer console, read-only).
_READ_ACTIONS = frozenset({"account.view"})
_CUSTOMER_ACTIONS = frozenset(
    {"account.bind", "account.unbind", "account.push", "account.password"}
)

# Every action an operator can take, in the audit log's words.
ACTIONS: Final = frozenset(
    {
        "account.create",
        "account.limits",
        "account.extension",
        "account.refund",
        "account.dialect",
        "account.push",
        "account.bind",
        "account.unbind",
        "account.api_send",
        "account.password",
        "account.bare_md5",
        "account.rekey",
        "mo.inject",
        "operator.create",
        "operator.disable",
        "operator.enable",
        "operator.role",
        "operator.password",
        "operator.totp",
        "channel.pause",
        "channel.resume",
        "system.switch",
        "keyword.add",
        "keyword.remove",
    }
    | _SUPPORT_ACTIONS
    | _FINANCE_ACTIONS
    | _READ_ACTIONS
)


def allows(role: str, action: str) -> bool:
    """Whether `role` may take `action` (an unknown action is nobody's)."""
    if action not in ACTIONS:
        return False
    if role == ADMIN:
        return True
    if role in ROLES and action in _READ_ACTIONS:
        return True
    if role == SUPPORT:
        return action in _SUPPORT_ACTIONS
    if role == FINANCE:
        return action in _FINANCE_ACTIONS
    if role == CUSTOMER:
        return action in _CUSTOMER_ACTIONS
    return False
