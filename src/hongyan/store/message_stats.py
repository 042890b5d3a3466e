"""Per account and hour: messages accepted, and messages ended per status.

Why a rollup: the overview shows parts sent today and this month, the
delivery rate and failures by reason over 30 days, and a 30-day chart.
Counted from `messages`, an account with 1,000,000 messages in the month
reads every one of them on each view (SQLite: ~0.6 s by the
(account_id, created_at) index plus a row lookup per message for its status;
the page must answer in 150 ms). Here the same figures are at most
720 hours × (1 + statuses seen) rows per month, read by primary key.

The counts are kept in the transactions that change what they count, so
they never disagree with `messages` (a store test checks both databases):

- `messages.accept` adds the accepted messages (status "") and the numbers
  refused at acceptance (with their status, e.g. "112") of its whole batch;
- `delivery.finals.finalise` adds each message that becomes final, with its
  final status, to the hour the message was *accepted* in: the chart and
  the delivery rate speak of the messages sent in a period.

Each adds with one batched upsert per transaction (rows summed per key
first), so the hot paths gain one statement, not one per message.

Hours are UTC hours (epoch ms, a multiple of 3,600,000); a local day of a
zone with a whole-hour offset (Asia/Shanghai) is 24 of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core.states import Status
from hongyan.store.schema import message_stats

HOUR_MS = 3_600_000
ACCEPTED = ""  # the status of the "accepted" rows


def hour_of(ms: int) -> int:
    return ms - ms % HOUR_MS


@dataclass(frozen=True, slots=True)
class Count:
    """Messages (and their parts) of one account, hour and status."""

    account_id: int
    at_ms: int  # any time in the hour
    status: str
    messages: int
    parts: int


def add(conn: Connection, counts: Iterable[Count]) -> None:
    """Add these counts, summed per (account, hour, status), in one statement."""
    summed: dict[tuple[int, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in counts:
        total = summed[(c.account_id, hour_of(c.at_ms), c.status)]
        total[0] += c.messages
        total[1] += c.parts
    rows = [
        {"account_id": a, "hour": h, "status": s, "messages": m, "parts": p}
        for (a, h, s), (m, p) in summed.items()
        if m
    ]
    if rows:
        conn.execute(_upsert(conn.dialect.name), rows)


_upserts: dict[str, Insert] = {}


def _upsert(dialect: str) -> Insert:
    if dialect not in _upserts:
        build = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = build(message_stats)
        _upserts[dialect] = stmt.on_conflict_do_update(
            index_elements=["account_id", "hour", "status"],
            set_={
                "messages": message_stats.c.messages + stmt.excluded.messages,
                "parts": message_stats.c.parts + stmt.excluded.parts,
            },
        )
    return _upserts[dialect]


@dataclass(frozen=True, slots=True)
class Totals:
    """What an account's messages accepted in a period came to."""

    sent: int = 0  # messages accepted (charged)
    sent_parts: int = 0
    delivered: int = 0
    failed: int = 0  # ended in failure, refused numbers included

    @property
    def ended(self) -> int:
        return self.delivered + self.failed


@dataclass(frozen=True, slots=True)
class Bucket:
    """One hour's totals (`at_ms` is the hour's start)."""

    at_ms: int
    totals: Totals


async def hourly(conn: AsyncConnection, account_id: int, since: int, until: int) -> list[Bucket]:
    """The hours in [since, until) that have any message, oldest first."""
    rows = await conn.execute(
        select(
            message_stats.c.hour,
            message_stats.c.status,
            message_stats.c.messages,
            message_stats.c.parts,
        )
        .where(
            message_stats.c.account_id == account_id,
            message_stats.c.hour >= hour_of(since),
            message_stats.c.hour < until,
        )
        .order_by(message_stats.c.hour)
    )
    by_hour: dict[int, list[int]] = {}
    for hour, status, messages, parts in rows:
        t = by_hour.setdefault(int(hour), [0, 0, 0, 0])
        if status == ACCEPTED:
            t[0] += messages
            t[1] += parts
        elif status == Status.DELIVERED:
            t[2] += messages
        else:
            t[3] += messages
    return [Bucket(hour, Totals(*t)) for hour, t in by_hour.items()]


def total(buckets: Iterable[Bucket], since: int = 0, until: int | None = None) -> Totals:
    """The buckets' sum, of those whose hour starts in [since, until)."""
    t = [0, 0, 0, 0]
    for b in buckets:
        if b.at_ms >= hour_of(since) and (until is None or b.at_ms < until):
            t[0] += b.totals.sent
            t[1] += b.totals.sent_parts
            t[2] += b.totals.delivered
            t[3] += b.totals.failed
    return Totals(*t)


async def failures(
    conn: AsyncConnection, account_id: int, since: int, until: int
) -> list[tuple[str, int]]:
    """(status, messages) of the failures among messages accepted in the period, most first."""
    count = func.sum(message_stats.c.messages)
    rows = await conn.execute(
        select(message_stats.c.status, count)
        .where(
            message_stats.c.account_id == account_id,
            message_stats.c.hour >= hour_of(since),
            message_stats.c.hour < until,
            message_stats.c.status.not_in([ACCEPTED, Status.DELIVERED]),
        )
        .group_by(message_stats.c.status)
        .order_by(count.desc(), message_stats.c.status)
    )
    return [(str(status), int(n)) for status, n in rows]
