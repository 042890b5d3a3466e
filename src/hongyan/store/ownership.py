"""Channel leases and worker nodes: the store side of channel ownership.

One group-commit handler a turn (`turn`): the node's heartbeat, the renewal
of the leases it holds (refused when the epoch moved on: another node took
the channel), and taking free channels as `core.ownership.plan` says. Taking
bumps the epoch in a conditional UPDATE, so of two nodes racing for one
channel exactly one gets it. `release` gives a channel back; `owners` is what
`channel list` shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Connection, Table, delete, select, update

from hongyan.core.ownership import plan
from hongyan.store.schema import channel_leases, worker_nodes
from hongyan.store.sql import insert_for

# A carrier's TPS is counted per second: a channel taken from a node that
# held it until a moment ago stays quiet until a second after that.
QUIET_MS = 1000


class Turn(NamedTuple):
    node: str
    now: int
    lease_ms: int
    configured: tuple[str, ...]
    held: tuple[tuple[str, int], ...]  # (channel, epoch) this node holds
    avoid: tuple[str, ...]  # given back lately: not taken again yet
    # Whether a node holding a lease is known dead (a process of this machine
    # that no longer runs): its channels are free without waiting.
    gone: Callable[[str], bool]


@dataclass(slots=True)
class TurnResult:
    held: dict[str, int] = field(default_factory=dict)  # channel: epoch, renewed or taken
    taken: list[str] = field(default_factory=list)
    # Of those taken: how long to wait before sending on each (ms), so that
    # with what the node before may have sent, no second holds more than one
    # second's worth. None held it lately: 0.
    quiet_ms: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    give_back: list[str] = field(default_factory=list)


def turn(conn: Connection, turns: list[Turn]) -> list[TurnResult]:
    return [_turn(conn, t) for t in turns]


def _turn(conn: Connection, t: Turn) -> TurnResult:
    until = t.now + t.lease_ms
    _upsert(conn, worker_nodes, {"node": t.node, "started_at": t.now, "seen_until": until}, "node")
    conn.execute(delete(worker_nodes).where(worker_nodes.c.seen_until < t.now))
    for name in t.configured:
        _ensure(conn, name)
    result = TurnResult()
    for name, epoch in t.held:
        renewed = conn.execute(
            update(channel_leases)
            .where(
                channel_leases.c.channel == name,
                channel_leases.c.owner == t.node,
                channel_leases.c.epoch == epoch,
            )
            .values(lease_until=until)
        ).rowcount
        if renewed:
            result.held[name] = epoch
        else:
            result.lost.append(name)
    rows = conn.execute(
        select(channel_leases.c.channel, channel_leases.c.owner, channel_leases.c.lease_until)
    ).all()
    # Each free channel as it was read: taking it is a compare-and-set on that.
    free = {
        row.channel: (row.owner, row.lease_until)
        for row in rows
        if row.channel not in result.held
        and (row.lease_until < t.now or not row.owner or t.gone(row.owner))
    }
    # Channels no node is configured with any more: rows nobody renews.
    stale = [name for name in free if name not in t.configured]
    if stale:
        conn.execute(delete(channel_leases).where(channel_leases.c.channel.in_(stale)))
    live = conn.execute(select(worker_nodes.c.node).where(worker_nodes.c.seen_until >= t.now))
    nodes = sum(1 for (node,) in live if node == t.node or not t.gone(node))
    decided = plan(t.configured, result.held, free, nodes, t.avoid)
    result.give_back = list(decided.give_back)
    for name in decided.take:
        owner, lease_until = free[name]
        taken = conn.execute(
            update(channel_leases)
            .where(
                channel_leases.c.channel == name,
                # Unchanged since it was read: a node that took or renewed it meanwhile wins.
                channel_leases.c.owner == owner,
                channel_leases.c.lease_until == lease_until,
            )
            .values(
                owner=t.node,
                epoch=channel_leases.c.epoch + 1,
                lease_until=until,
                taken_at=t.now,
            )
        ).rowcount
        if taken:
            epoch = conn.execute(
                select(channel_leases.c.epoch).where(channel_leases.c.channel == name)
            ).scalar_one()
            result.held[name] = int(epoch)
            result.taken.append(name)
            # Its node sent until its lease ran out, or was given back (then
            # lease_until is when), or it died (then at most until now).
            if lease_until:
                result.quiet_ms[name] = max(0, min(lease_until, t.now) + QUIET_MS - t.now)
    return result


class Release(NamedTuple):
    node: str
    channel: str
    epoch: int
    now: int  # noted as the lease's end: when the node stopped sending on it


def release(conn: Connection, releases: list[Release]) -> list[bool]:
    """Give channels back (group-commit handler): free at once for another
    node; whether this node still held each."""
    done = []
    for r in releases:
        changed = conn.execute(
            update(channel_leases)
            .where(
                channel_leases.c.channel == r.channel,
                channel_leases.c.owner == r.node,
                channel_leases.c.epoch == r.epoch,
            )
            .values(owner="", lease_until=r.now)
        ).rowcount
        done.append(bool(changed))
    return done


def leave(conn: Connection, nodes: list[str]) -> list[None]:
    """A node stopping: no longer counted among the live ones."""
    conn.execute(delete(worker_nodes).where(worker_nodes.c.node.in_(nodes)))
    return [None] * len(nodes)


@dataclass(frozen=True, slots=True)
class Owner:
    node: str  # "" when no node holds it
    epoch: int
    lease_until: int
    taken_at: int


def owners(conn: Connection, now: int) -> dict[str, Owner]:
    """Each channel's node, as far as its lease still runs."""
    rows = conn.execute(select(channel_leases))
    return {
        row.channel: Owner(
            row.owner if row.lease_until >= now else "", row.epoch, row.lease_until, row.taken_at
        )
        for row in rows
    }


def _ensure(conn: Connection, name: str) -> None:
    conn.execute(
        insert_for(conn, channel_leases)
        .values(channel=name)
        .on_conflict_do_nothing(index_elements=[channel_leases.c.channel])
    )


def _upsert(conn: Connection, table: Table, values: dict[str, object], key: str) -> None:
    statement = insert_for(conn, table).values(**values)
    kept = {k: statement.excluded[k] for k in values if k not in (key, "started_at")}
    conn.execute(statement.on_conflict_do_update(index_elements=[key], set_=kept))
