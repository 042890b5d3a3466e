"""Who acts, and the audit entry every operator action leaves.

An `Actor` is the operator behind a change: a signed-in console operator
(name, role, address) or the CLI (the machine's user, as admin: whoever runs
`hongyan` on the server can open the database anyway); also the platform
itself (`Actor.system()`: the demo account of `make run`) and a customer
changing its own account from the customer console (`Actor.customer()`:
its bindings, push and password, which change access too). Operations in core/
call `actor.require(action)` before they change anything and `record(...)`
inside the same transaction as the change, so that nothing that changes
money or access happens without its entry, and a change that rolls back
leaves none. `before` and `after` are what the change replaced and what it
set, as small JSON objects; secrets (passwords, keys, TOTP seeds) are never
put in them, only the fact that they changed.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core.roles import ADMIN, CUSTOMER, allows
from hongyan.errors import Forbidden
from hongyan.store import audit as audit_store
from hongyan.store.engine import now_ms

CONSOLE = "console"
CLI = "cli"
# The platform itself (the demo account of `make run`, start-up).
SYSTEM = "system"
# A customer on its own account, from the customer console.
CUSTOMER_CONSOLE = "customer"


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: str
    via: str
    address: str = ""
    operator_id: int | None = None
    # The operator viewing a customer's console read-only ("view as"): an
    # actor with a viewer may take no action at all.
    viewer: str = ""

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(name=user, role=ADMIN, via=CLI, address="local")

    @classmethod
    def system(cls) -> Actor:
        return cls(name="hongyan", role=ADMIN, via=SYSTEM, address="local")

    @classmethod
    def customer(cls, uid: str, address: str = "", viewer: str = "") -> Actor:
        """A signed-in customer, on its own account `uid` only; `viewer`: the
        operator viewing its console read-only (the session's), who changes nothing."""
        return cls(name=uid, role=CUSTOMER, via=CUSTOMER_CONSOLE, address=address, viewer=viewer)

    def may(self, action: str) -> bool:
        return allows(self.role, action)

    def require(self, action: str, *, account: str | None = None) -> None:
        """Forbidden unless the role allows `action`; a customer acts on its own
        account only (`account`: the uid acted on, when it is an account's);
        nothing at all in an operator's read-only view of a customer's console."""
        if self.viewer:
            raise Forbidden(f"{self.viewer!r} views {self.name!r} read-only: {action} refused")
        if not self.may(action):
            raise Forbidden(f"the {self.role} role does not allow {action}")
        if self.role == CUSTOMER and account != self.name:
            raise Forbidden(f"{self.name!r} may act on its own account only")


def _json(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _entry(
    actor: Actor, action: str, target: str, before: Any, after: Any, note: str
) -> dict[str, object]:
    return {
        "at": now_ms(),
        "actor": actor.name,
        "via": actor.via,
        "address": actor.address,
        "action": action,
        "target": target,
        "before": _json(before),
        "after": _json(after),
        "note": note,
    }


async def record(
    conn: AsyncConnection,
    actor: Actor,
    action: str,
    target: str,
    *,
    before: Any = None,
    after: Any = None,
    note: str = "",
) -> None:
    """Write the entry of `action` in the transaction `conn` is in."""
    await audit_store.add(conn, _entry(actor, action, target, before, after, note))


def record_sync(
    conn: Connection,
    actor: Actor,
    action: str,
    target: str,
    *,
    before: Any = None,
    after: Any = None,
    note: str = "",
) -> None:
    """`record` for code running inside `run_sync`."""
    audit_store.add_sync(conn, _entry(actor, action, target, before, after, note))
