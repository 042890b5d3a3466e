"""What waits to be submitted, for the operators' system page."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, and_, case, func, select

from hongyan.core.states import MessageState
from hongyan.store.schema import messages


class QueueCounts(NamedTuple):
    due: int  # may go now (or waits for a paused channel)
    scheduled: int  # not tried yet, due later (a scheduled send)
    retrying: int  # tried, and due again after its backoff


def queue_counts(conn: Connection, now: int) -> QueueCounts:
    """One read of the queued messages (the state index)."""
    tried = messages.c.attempts > 0
    later = and_(~tried, messages.c.due_at > now, messages.c.channel.is_(None))
    row = conn.execute(
        select(
            func.count(),
            func.sum(case((later, 1), else_=0)),
            func.sum(case((tried, 1), else_=0)),
        ).where(messages.c.state == MessageState.QUEUED)
    ).one()
    total, scheduled, retrying = int(row[0]), int(row[1] or 0), int(row[2] or 0)
    return QueueCounts(total - scheduled - retrying, scheduled, retrying)
