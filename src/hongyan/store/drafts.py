"""Console send drafts: what a customer is about to send, between the form
and its confirmation (console_drafts). Every read is scoped by account: a
draft id from another account finds nothing."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.store.schema import console_drafts


class Draft(NamedTuple):
    id: str
    account_id: int
    numbers: str  # one entry a line
    content: str
    time: str
    created_at: int


async def create(conn: AsyncConnection, draft: Draft) -> None:
    await conn.execute(insert(console_drafts).values(**draft._asdict()))


async def find(conn: AsyncConnection, account_id: int, draft_id: str, since: int) -> Draft | None:
    """The account's draft, if it is no older than `since`."""
    row = (
        await conn.execute(
            select(*(console_drafts.c[name] for name in Draft._fields)).where(
                console_drafts.c.id == draft_id,
                console_drafts.c.account_id == account_id,
                console_drafts.c.created_at >= since,
            )
        )
    ).first()
    return Draft(*row) if row else None


async def take(conn: AsyncConnection, account_id: int, draft_id: str) -> bool:
    """Delete the account's draft; False when it was gone (sent already)."""
    result = await conn.execute(
        delete(console_drafts).where(
            console_drafts.c.id == draft_id, console_drafts.c.account_id == account_id
        )
    )
    return bool(result.rowcount)


async def prune(conn: AsyncConnection, created_before: int) -> int:
    result = await conn.execute(
        delete(console_drafts).where(console_drafts.c.created_at < created_before)
    )
    return int(result.rowcount or 0)
