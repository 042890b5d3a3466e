"""Channel state as the running server reports it, for operators in other processes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from hongyan.core.states import MessageState
from hongyan.store.schema import channel_status, messages


def save_status(conn: Connection, batches: list[list[dict[str, Any]]]) -> list[None]:
    """Replace the rows of the channels named (group-commit handler)."""
    for rows in batches:
        if not rows:
            continue
        conn.execute(
            delete(channel_status).where(channel_status.c.name.in_([r["name"] for r in rows]))
        )
        conn.execute(insert(channel_status), rows)
    return [None] * len(batches)


def awaiting_receipts(conn: Connection) -> dict[str, int]:
    """Messages each channel took that wait for their receipts.

    Counted on messages (the state index finds the few that are waiting), not
    on message_parts, whose every row from history it would have to read."""
    rows = conn.execute(
        select(messages.c.channel, func.count())
        .where(messages.c.state == MessageState.SENT)
        .group_by(messages.c.channel)
    )
    return {channel: int(count) for channel, count in rows if channel}


def list_status(conn: Connection) -> tuple[list[dict[str, Any]], int]:
    """Every channel's last reported state, and the messages waiting to be submitted."""
    rows = conn.execute(select(channel_status).order_by(channel_status.c.name)).mappings().all()
    queued = conn.execute(
        select(func.count()).select_from(messages).where(messages.c.state == MessageState.QUEUED)
    ).scalar_one()
    return [dict(row) for row in rows], int(queued)
