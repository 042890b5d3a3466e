"""Channel pauses (channel_controls), and the messages a pause holds back.

A pause is a row here, changed in the operator's transaction with the
change counter bumped (store/system.py), so a worker in another process
reads it again at its next poll.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core.states import MessageState
from hongyan.store import system
from hongyan.store.schema import channel_controls, messages
from hongyan.store.sql import chunks, insert_for


def paused_names(conn: Connection) -> set[str]:
    rows = conn.execute(select(channel_controls.c.name).where(channel_controls.c.paused))
    return {name for (name,) in rows}


async def read_paused(conn: AsyncConnection) -> set[str]:
    return await conn.run_sync(paused_names)


async def set_paused(conn: AsyncConnection, name: str, paused: bool, now: int) -> bool:
    """Pause or resume `name`; whether it was paused before. Locks the row, so
    two operators at once on PostgreSQL see each other's change."""
    await conn.execute(
        insert_for(conn, channel_controls)
        .values(name=name, paused=False, updated_at=now)
        .on_conflict_do_nothing(index_elements=[channel_controls.c.name])
    )
    before = (
        await conn.execute(
            select(channel_controls.c.paused)
            .where(channel_controls.c.name == name)
            .with_for_update()
        )
    ).scalar_one()
    if bool(before) != paused:
        await conn.execute(
            update(channel_controls)
            .where(channel_controls.c.name == name)
            .values(paused=paused, updated_at=now)
        )
        await system.bump_generation(conn)
    return bool(before)


class Hold(NamedTuple):
    """Claimed messages whose channel is paused, given back to wait for it."""

    ids: tuple[int, ...]
    channel: str
    due_at: int


def hold(conn: Connection, holds: list[Hold]) -> list[None]:
    """Release the claims (group-commit handler): due again at `due_at`, the
    claim's attempt not counted (a pause is not a failure), and the channel
    noted so that the channel page counts them as queued for it."""
    for item in holds:
        for chunk in chunks(sorted(item.ids)):
            conn.execute(
                update(messages)
                .where(
                    messages.c.id.in_(chunk),
                    messages.c.state == MessageState.QUEUED,
                    messages.c.lease_until.is_not(None),
                )
                .values(
                    lease_until=None,
                    due_at=item.due_at,
                    attempts=messages.c.attempts - 1,
                    channel=item.channel,
                )
            )
    return [None] * len(holds)
