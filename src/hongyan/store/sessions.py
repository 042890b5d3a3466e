"""Console sessions: one row per signed-in browser (console_sessions)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.store.schema import accounts, console_sessions


class StoredSession(NamedTuple):
    account_id: int
    uid: str
    csrf: str
    created_at: int
    seen_at: int
    viewer: str  # the operator viewing read-only; "" for the customer's own session


async def create(
    conn: AsyncConnection,
    token_hash: str,
    account_id: int,
    csrf: str,
    now: int,
    address: str,
    viewer: str = "",
) -> None:
    await conn.execute(
        console_sessions.insert().values(
            token_hash=token_hash,
            account_id=account_id,
            csrf=csrf,
            created_at=now,
            seen_at=now,
            address=address[:64],
            viewer=viewer[:64],
        )
    )


async def find(conn: AsyncConnection, token_hash: str) -> StoredSession | None:
    row = (
        await conn.execute(
            select(
                console_sessions.c.account_id,
                accounts.c.uid,
                console_sessions.c.csrf,
                console_sessions.c.created_at,
                console_sessions.c.seen_at,
                console_sessions.c.viewer,
            )
            .join(accounts, accounts.c.id == console_sessions.c.account_id)
            .where(console_sessions.c.token_hash == token_hash)
        )
    ).first()
    return None if row is None else StoredSession(*row)


async def touch(conn: AsyncConnection, token_hash: str, now: int) -> None:
    await conn.execute(
        update(console_sessions)
        .where(console_sessions.c.token_hash == token_hash)
        .values(seen_at=now)
    )


async def end(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(delete(console_sessions).where(console_sessions.c.token_hash == token_hash))


async def end_all_of(conn: AsyncConnection, account_id: int) -> int:
    """End every session of an account (its password changed); how many."""
    result = await conn.execute(
        delete(console_sessions).where(console_sessions.c.account_id == account_id)
    )
    return result.rowcount or 0


async def prune(conn: AsyncConnection, seen_before: int, created_before: int) -> int:
    """Delete the sessions over their idle or absolute timeout; how many."""
    result = await conn.execute(
        delete(console_sessions).where(
            (console_sessions.c.seen_at < seen_before)
            | (console_sessions.c.created_at < created_before)
        )
    )
    return result.rowcount or 0


async def end_viewing(conn: AsyncConnection, viewer: str) -> int:
    """End every read-only view of a customer console opened by the operator
    `viewer` (disabled, or a new password or role); how many."""
    result = await conn.execute(
        delete(console_sessions).where(console_sessions.c.viewer == viewer[:64])
    )
    return result.rowcount or 0
