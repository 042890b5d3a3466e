"""Channel state as the running server reports it, for operators in other processes."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from hongyan.core.models import BindStatus, ReportedChannel
from hongyan.core.states import BindState, ChannelState, MessageState
from hongyan.store.schema import channel_leases, channel_status, messages


def save_status(conn: Connection, batches: list[list[ReportedChannel]]) -> list[None]:
    """Replace the rows of the channels named (group-commit handler)."""
    for reported in batches:
        if not reported:
            continue
        conn.execute(
            delete(channel_status).where(channel_status.c.name.in_([r.name for r in reported]))
        )
        conn.execute(insert(channel_status), [_row(r) for r in reported])
    return [None] * len(batches)


def _row(reported: ReportedChannel) -> dict[str, Any]:
    row = {f.name: getattr(reported, f.name) for f in dataclasses.fields(reported)}
    binds = [dataclasses.asdict(b) for b in reported.binds]
    row["binds"] = json.dumps(binds) if binds else ""
    row["last_error"] = reported.last_error[:200]
    return row


def _reported(row: Any) -> ReportedChannel:
    binds = tuple(
        BindStatus(**{**b, "state": BindState(b["state"])}) for b in json.loads(row.binds or "[]")
    )
    return ReportedChannel(
        name=row.name,
        kind=row.kind,
        state=ChannelState(row.state),
        tps=row.tps,
        rate=row.rate,
        submitted=row.submitted,
        awaiting_receipts=row.awaiting_receipts,
        last_error=row.last_error,
        updated_at=row.updated_at,
        binds=binds,
        errors=row.errors,
        queued=row.queued,
        receipts_delivered=row.receipts_delivered,
        receipts_final=row.receipts_final,
        latency_p50_ms=row.latency_p50_ms,
        latency_p95_ms=row.latency_p95_ms,
    )


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


def waiting_by_channel(conn: Connection) -> dict[str, tuple[int, int]]:
    """Per channel: (messages queued for it, messages awaiting its receipts).

    A queued message names a channel once routed: one retrying there, or held
    while it is paused; those not routed yet are under "". One read of the
    state index, as `awaiting_receipts`."""
    waiting: dict[str, tuple[int, int]] = {}
    rows = conn.execute(
        select(messages.c.channel, messages.c.state, func.count())
        .where(messages.c.state.in_((MessageState.QUEUED, MessageState.SENT)))
        .group_by(messages.c.channel, messages.c.state)
    )
    for name, state, count in rows:
        channel = name or ""
        queued, sent = waiting.get(channel, (0, 0))
        if state == MessageState.QUEUED:
            queued = int(count)
        else:
            sent = int(count)
        waiting[channel] = (queued, sent)
    return waiting


def reported_down(conn: Connection, since: int) -> set[str]:
    """Channels last reported down, in a report made since `since`."""
    rows = conn.execute(
        select(channel_status.c.name).where(
            channel_status.c.state == ChannelState.DOWN, channel_status.c.updated_at >= since
        )
    )
    return {name for (name,) in rows}


def list_status(conn: Connection) -> tuple[list[ReportedChannel], int]:
    """Every channel's last reported state, and the messages waiting to be submitted."""
    rows = conn.execute(select(channel_status).order_by(channel_status.c.name)).all()
    queued = conn.execute(
        select(func.count()).select_from(messages).where(messages.c.state == MessageState.QUEUED)
    ).scalar_one()
    leases = {
        row.channel: (row.owner, row.lease_until)
        for row in conn.execute(
            select(channel_leases.c.channel, channel_leases.c.owner, channel_leases.c.lease_until)
        )
    }
    reported = []
    for row in rows:
        owner, until = leases.get(row.name, ("", 0))
        reported.append(dataclasses.replace(_reported(row), owner=owner, owner_until=until))
    return reported, int(queued)
