"""Reading the audit log: operator actions, newest first, for the CLI and the console."""

from __future__ import annotations

from hongyan.errors import InvalidInput
from hongyan.store import audit as audit_store
from hongyan.store.audit import Entry
from hongyan.store.database import Database

MOST = 1000  # entries one listing shows at most

__all__ = ["MOST", "Entry", "entries"]


async def entries(
    db: Database,
    *,
    actor: str = "",
    action: str = "",
    target: str = "",
    before_id: int | None = None,
    limit: int = 50,
) -> list[Entry]:
    """Entries newest first: of one actor, of actions beginning `action`
    ("account." for every account action), of one target ("account:demo");
    `before_id` pages back."""
    if not 1 <= limit <= MOST:
        raise InvalidInput(f"the limit is 1 to {MOST} entries")
    return await db.read_sync(
        lambda conn: audit_store.search(
            conn, actor=actor, action=action, target=target, before_id=before_id, limit=limit
        )
    )
