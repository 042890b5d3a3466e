"""PostgreSQL's time partitions of history: made ahead, dropped past retention.

core/partitions.py says how ids map to days and which periods are due;
this is the DDL. Every step is a transaction of its own that waits at most
DDL_LOCK_MS for its locks (attaching and dropping lock the parent table
for a moment, and an API insert must never queue behind that for long) and
runs only while this node holds the maintenance lock: of two worker nodes,
one does it and the other skips. A step that could not get its lock is
left for the next round.

A period's partitions go, from the leaves up, only when nothing in them
must stay: its replies all received before the cutoff; its reports all
made before it; its messages all final, made before it, and none with a
report still waiting from after it (the same rule as store/retention.py's
row deletes on SQLite). A message's report may sit in the next period's
partition (it came after midnight): such reports are deleted with their
message. Submissions left without messages go afterwards, their ledger
rows kept (unlinked), as on SQLite.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core.partitions import (
    CLOCK_SKEW_MS,
    DAY_SHIFT,
    PARTITIONED,
    Period,
    day_of,
    past_retention,
    periods_ahead,
)
from hongyan.core.states import MessageState, OutboxKind
from hongyan.store import retention
from hongyan.store.database import has_sqlstate
from hongyan.store.schema import messages, push_outbox, reports, submissions

log = logging.getLogger(__name__)

DDL_LOCK_MS = 200
# pg_try_advisory_xact_lock's key for "maintaining partitions": any constant
# no other part of the platform uses.
MAINTENANCE_LOCK = 0x686F6E67_79616E01
SUBMISSIONS_BATCH = 1000

_BOUND = re.compile(r"FROM \((.+)\) TO \((.+)\)")
_UNFINISHED = tuple(s for s in MessageState if not s.final)

Transaction = Callable[[], Any]  # an async context manager giving an AsyncConnection
# A period's partition of one table dropped if its rows may go; False if not.
Drop = Callable[[AsyncConnection, "Partition", int], Awaitable[Any]]


_NAME = re.compile("(" + "|".join(PARTITIONED) + r")_(p0|\d{8})")


def is_partition(name: str) -> bool:
    """Whether a table of that name is one of history's partitions."""
    return _NAME.fullmatch(name) is not None


class Partition(NamedTuple):
    table: str
    name: str
    period: Period


def lock_waited(exc: BaseException) -> bool:
    """Whether a statement gave up waiting for a lock (SQLSTATE 55P03)."""
    return has_sqlstate(exc, "55P03")


async def is_partitioned(conn: AsyncConnection) -> bool:
    kind = await conn.scalar(
        text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass('messages')")
    )
    return bool(kind == "p")


async def database_now(conn: AsyncConnection) -> int:
    """The database's clock, in ms: ids carry its day, so periods go by it."""
    return int(await conn.scalar(text("SELECT floor(extract(epoch FROM now()) * 1000)::bigint")))


async def partitions(conn: AsyncConnection, table: str) -> list[Partition]:
    """The table's partitions, oldest first."""
    rows = await conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = CAST(:table AS regclass)"
        ),
        {"table": table},
    )
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound)
        if match is None:
            raise ValueError(f"partition {name} of {table} is not a range: {bound}")
        low, high = (_bound_value(v) for v in match.groups())
        found.append(Partition(table, name, Period(max(low, 0) >> DAY_SHIFT, high >> DAY_SHIFT)))
    return sorted(found, key=lambda p: p.period)


def _bound_value(value: str) -> int:
    value = value.strip().strip("'")
    return 0 if value == "MINVALUE" else int(value)


def partition_name(table: str, period: Period) -> str:
    day = datetime.fromtimestamp(period.start_day * 86_400, UTC)
    return f"{table}_{day:%Y%m%d}"


async def create_period(conn: AsyncConnection, period: Period) -> None:
    """The partitions of one period, every table: each made empty and then
    attached, which locks the parent less than CREATE ... PARTITION OF."""
    for table in PARTITIONED:
        name = partition_name(table, period)
        await conn.exec_driver_sql(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS)')
        await conn.exec_driver_sql(
            f'ALTER TABLE "{table}" ATTACH PARTITION "{name}"'
            f" FOR VALUES FROM ({period.low}) TO ({period.high})"
        )


async def _maintainer(conn: AsyncConnection) -> bool:
    """This transaction's DDL waits at most DDL_LOCK_MS for a lock; whether
    this node holds the maintenance lock for it."""
    await conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{DDL_LOCK_MS}ms'")
    return bool(
        await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": MAINTENANCE_LOCK})
    )


async def make_ahead(transaction: Transaction, span_days: int) -> list[str]:
    """Periods made so that the coming days have partitions; their names."""
    made: list[str] = []
    while True:
        async with transaction() as conn:
            if not await _maintainer(conn):
                return made
            top = max((p.period.end_day for p in await partitions(conn, "messages")), default=0)
            todo = periods_ahead(top, day_of(await database_now(conn)), span_days)
            if not todo:
                return made
            await create_period(conn, todo[0])
            made.append(partition_name("messages", todo[0]))


class Dropped(NamedTuple):
    messages: int  # partitions of messages (with their parts) dropped
    replies: int
    reports: int
    submissions: int  # submissions deleted, left without messages


async def drop_expired(transaction: Transaction, cutoff: int) -> Dropped:
    """Every period wholly before `cutoff` whose rows may all go, dropped."""
    async with transaction() as conn:
        today = day_of(await database_now(conn))
        found = {t: await partitions(conn, t) for t in ("messages", "reports", "replies")}
    counts = {"messages": 0, "reports": 0, "replies": 0, "submissions": 0}
    # Leaves first: a period's reports go before its messages are looked at.
    steps = {"replies": _drop_replies, "reports": _drop_reports, "messages": _drop_messages}
    for table, drop in steps.items():
        for part in found[table]:
            if not past_retention(part.period, cutoff, today):
                continue
            done = await _step(transaction, drop, part, cutoff)
            if done is None:
                return Dropped(**counts)
            if done is not False:
                counts[table] += 1
                if table == "messages":
                    counts["submissions"] += await _drop_submissions(transaction, done, cutoff)
    return Dropped(**counts)


async def _step(transaction: Transaction, drop: Drop, part: Partition, cutoff: int) -> Any:
    """`drop` in a maintenance transaction: what it answers; None when another
    node holds the lock, False when it dropped the partition since listed."""
    async with transaction() as conn:
        if not await _maintainer(conn):
            return None
        if await conn.scalar(text("SELECT to_regclass(:name)"), {"name": part.name}) is None:
            return False
        return await drop(conn, part, cutoff)


async def _newest(conn: AsyncConnection, name: str, column: str) -> int | None:
    """The time on the partition's newest row by id (None when empty)."""
    return await conn.scalar(  # type: ignore[no-any-return]
        # Names of our own columns and of partitions read from the catalog.
        text(f'SELECT "{column}" FROM "{name}" ORDER BY id DESC LIMIT 1')  # noqa: S608
    )


async def _drop_replies(conn: AsyncConnection, part: Partition, cutoff: int) -> bool:
    newest = await _newest(conn, part.name, "received_at")
    if newest is not None and newest >= cutoff - CLOCK_SKEW_MS:
        return False
    p = part.period
    await conn.execute(
        delete(push_outbox).where(
            push_outbox.c.kind == OutboxKind.REPLY,
            push_outbox.c.item_id >= p.low,
            push_outbox.c.item_id < p.high,
        )
    )
    await conn.exec_driver_sql(f'DROP TABLE "{part.name}"')
    log.info("replies past retention dropped", extra={"partition": part.name})
    return True


async def _drop_reports(conn: AsyncConnection, part: Partition, cutoff: int) -> bool:
    newest = await _newest(conn, part.name, "created_at")
    if newest is not None and newest >= cutoff - CLOCK_SKEW_MS:
        return False
    await _forget_pushes(conn, reports.c.id >= part.period.low, reports.c.id < part.period.high)
    await conn.exec_driver_sql(f'DROP TABLE "{part.name}"')
    log.info("reports past retention dropped", extra={"partition": part.name})
    return True


async def _forget_pushes(conn: AsyncConnection, *where: Any) -> None:
    """The push entries of the reports `where` picks."""
    await conn.execute(
        delete(push_outbox).where(
            push_outbox.c.kind == OutboxKind.REPORT,
            push_outbox.c.item_id.in_(select(reports.c.id).where(*where).scalar_subquery()),
        )
    )


async def _drop_messages(
    conn: AsyncConnection, part: Partition, cutoff: int
) -> tuple[int, int] | bool:
    """Drops the period's messages and parts if all may go; the range of
    submission ids they had (False when they stay)."""
    p = part.period
    mine = (messages.c.id >= p.low, messages.c.id < p.high)
    newest = await conn.scalar(select(func.max(messages.c.created_at)).where(*mine))
    if newest is not None and newest >= cutoff:
        return False
    unfinished = await conn.scalar(
        select(messages.c.id).where(*mine, messages.c.state.in_(_UNFINISHED)).limit(1)
    )
    theirs = (reports.c.message_id >= p.low, reports.c.message_id < p.high)
    waiting = await conn.scalar(
        select(reports.c.id)
        .where(
            *theirs,
            reports.c.fetched_at.is_(None),
            reports.c.pushed_at.is_(None),
            reports.c.created_at >= cutoff,
        )
        .limit(1)
    )
    if unfinished is not None or waiting is not None:
        log.info(
            "messages past retention kept: some are not final or their reports wait",
            extra={"partition": part.name},
        )
        return False
    low, high = (
        await conn.execute(
            select(func.min(messages.c.submission_id), func.max(messages.c.submission_id)).where(
                *mine
            )
        )
    ).one()
    await _forget_pushes(conn, *theirs)
    await conn.execute(delete(reports).where(*theirs))
    for parts in await partitions(conn, "message_parts"):
        if parts.period == p:  # by its bounds: the first one's name says none
            await conn.exec_driver_sql(f'DROP TABLE "{parts.name}"')
    await conn.exec_driver_sql(f'DROP TABLE "{part.name}"')
    log.info("messages past retention dropped", extra={"partition": part.name})
    return (low or 0, high or -1)


async def _drop_submissions(transaction: Transaction, ids: tuple[int, int], cutoff: int) -> int:
    """Submissions in `ids` made before the cutoff and left without messages
    deleted, a batch a transaction; their ledger rows stay, unlinked."""
    gone = 0
    low, high = ids
    for start in range(low, high + 1, SUBMISSIONS_BATCH):
        async with transaction() as conn:
            empty = [
                s
                for (s,) in await conn.execute(
                    select(submissions.c.id)
                    .where(
                        submissions.c.id >= start,
                        submissions.c.id < start + SUBMISSIONS_BATCH,
                        submissions.c.created_at < cutoff,
                        ~select(messages.c.id)
                        .where(messages.c.submission_id == submissions.c.id)
                        .exists(),
                    )
                    .with_for_update(skip_locked=True)
                )
            ]
            if empty:
                await conn.run_sync(retention.drop_submissions, empty)
            gone += len(empty)
    return gone
