"""The audit log's rows (audit_log): written in the caller's transaction."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.store.schema import audit_log


class Entry(NamedTuple):
    id: int
    at: int
    actor: str
    via: str
    address: str
    action: str
    target: str
    before: str
    after: str
    note: str


def _values(entry: dict[str, object]) -> dict[str, object]:
    return {
        "at": entry["at"],
        "actor": str(entry["actor"])[:64],
        "via": str(entry["via"])[:10],
        "address": str(entry["address"])[:64],
        "action": str(entry["action"])[:40],
        "target": str(entry["target"])[:120],
        "before": entry["before"],
        "after": entry["after"],
        "note": str(entry["note"])[:200],
    }


async def add(conn: AsyncConnection, entry: dict[str, object]) -> None:
    await conn.execute(audit_log.insert().values(**_values(entry)))


def add_sync(conn: Connection, entry: dict[str, object]) -> None:
    conn.execute(audit_log.insert().values(**_values(entry)))


def search(
    conn: Connection,
    *,
    actor: str = "",
    action: str = "",
    target: str = "",
    since: int | None = None,
    until: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Entry]:
    """Entries newest first, filtered; `before_id` pages back."""
    query = select(*audit_log.c).order_by(audit_log.c.id.desc()).limit(limit)
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if action:
        query = query.where(audit_log.c.action.startswith(action, autoescape=True))
    if target:
        query = query.where(audit_log.c.target == target)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    return [Entry(*row) for row in conn.execute(query)]
