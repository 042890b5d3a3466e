"""PostgreSQL's time partitions of history (store/partitions.py, migration
0020): new rows land in their day's partition, the coming days' partitions
are made ahead by one node at a time, and a period past retention is dropped
whole, but only once every message in it is final and its report handed out
or given up. SQLite keeps plain tables (retention by rows, its own test)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.delivery import PARTITIONS_EVERY_MS, Housekeeper
from hongyan.core.models import Account
from hongyan.core.partitions import DAY_MS, DAY_SHIFT, PARTITIONED, Period, day_of, first_id
from hongyan.core.service import CustomerService, SendForm
from hongyan.core.states import OutboxKind
from hongyan.store import partitions
from hongyan.store.database import Database
from hongyan.store.engine import create_engine, now_ms
from hongyan.store.migrate import upgrade
from hongyan.store.schema import (
    ledger,
    message_parts,
    messages,
    push_outbox,
    replies,
    reports,
    submissions,
)
from hongyan.store.sql import MadeSince
from tests.conftest import _reset_postgres
from tests.store.test_store import sender

# PostgreSQL's alone: SQLite keeps plain tables.
on_postgres = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
RETAIN = {"retention_days": 180}


@pytest.fixture
def pg(settings: Settings) -> Settings:
    return settings.model_copy(update=RETAIN)


async def rows(db: Database, query: Any) -> list[Any]:
    async with db.read() as conn:
        return list((await conn.execute(query)).all())


async def where_is(db: Database, table: str, key: str, value: int) -> str:
    """The partition holding the row."""
    async with db.read() as conn:
        found = await conn.scalar(
            text(f"SELECT tableoid::regclass::text FROM {table} WHERE {key} = :v"), {"v": value}
        )
    return str(found)


async def drop_period(conn: AsyncConnection, period: Period) -> None:
    """The period's partitions gone, whatever is in them (leaves first)."""
    for table in reversed(PARTITIONED):
        name = partitions.partition_name(table, period)
        await conn.exec_driver_sql(f'DROP TABLE "{name}"')


async def old_period(db: Database, days_ago: int) -> Period:
    """A period of 7 days that ended `days_ago` days ago, made afresh."""
    today = day_of(now_ms())
    period = Period(today - days_ago - 7, today - days_ago)
    async with db.transaction() as conn:
        if partitions.partition_name("messages", period) in await names_on(conn):
            await drop_period(conn, period)
        await partitions.create_period(conn, period)
    return period


async def names_on(conn: AsyncConnection, table: str = "messages") -> list[str]:
    return [p.name for p in await partitions.partitions(conn, table)]


async def names(db: Database, table: str = "messages") -> list[str]:
    async with db.read() as conn:
        return await names_on(conn, table)


@on_postgres
async def test_new_history_lands_in_its_days_partition(
    pg: Settings, db: Database, operator: Operator
) -> None:
    async with db.read() as conn:
        for table in PARTITIONED:
            kind = await conn.scalar(
                text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
            )
            assert kind == "p", table
        made = await partitions.partitions(conn, "messages")
        today = day_of(await partitions.database_now(conn))
    # Today and the week after have partitions, made at migration.
    covered = {day for p in made for day in range(p.period.start_day, p.period.end_day)}
    assert set(range(today, today + 8)) <= covered

    service, account, _ = await sender(pg, db, operator, balance=10)
    await service.send(account, SendForm("13900000001,13900000002", "x"), post=True)
    ids = [i for (i,) in await rows(db, select(messages.c.id).order_by(messages.c.id))]
    assert [i >> DAY_SHIFT for i in ids] == [today, today]
    home = next(p for p in made if p.period.start_day <= today < p.period.end_day)
    assert await where_is(db, "messages", "id", ids[0]) == home.name


@on_postgres
async def test_partitions_are_made_ahead_once_whoever_asks(pg: Settings, db: Database) -> None:
    before = await names(db)
    newest = before[-1]
    async with db.transaction() as conn:
        await drop_period(conn, (await partitions.partitions(conn, "messages"))[-1].period)
    assert newest not in await names(db)

    # Two nodes at once: one makes it, the other skips or finds it made.
    made = await asyncio.gather(
        partitions.make_ahead(db.transaction, 7), partitions.make_ahead(db.transaction, 7)
    )
    assert sorted(made[0] + made[1]) == [newest]
    for table in PARTITIONED:
        assert len(await names(db, table)) == len(before)
    assert await partitions.make_ahead(db.transaction, 7) == []


@on_postgres
async def test_housekeeping_makes_them_every_few_minutes(pg: Settings, db: Database) -> None:
    keeper = Housekeeper(pg, db)
    newest = (await names(db))[-1]

    async def drop_newest() -> None:
        async with db.transaction() as conn:
            await drop_period(conn, (await partitions.partitions(conn, "messages"))[-1].period)

    await drop_newest()
    now = now_ms()
    await keeper.run_once(now)
    assert (await names(db))[-1] == newest
    await drop_newest()
    await keeper.run_once(now + PARTITIONS_EVERY_MS - 1)  # not yet
    assert newest not in await names(db)
    await keeper.run_once(now + PARTITIONS_EVERY_MS)
    assert (await names(db))[-1] == newest


async def old_history(db: Database, account_id: int, period: Period, now: int) -> dict[str, Any]:
    """Two delivered messages of one submission made in `period`, with their
    parts and reports (the second's report came the next period: it lies in
    today's partition), a push entry for each report, a reply, and the
    charge in the ledger."""
    made = period.start_day * DAY_MS + 3_600_000
    ids = [period.low + 1, period.low + 2]
    async with db.transaction() as conn:
        submission = await conn.scalar(
            insert(submissions)
            .values(
                account_id=account_id, content="x", source="", parts=1, created_at=made, due_at=made
            )
            .returning(submissions.c.id)
        )
        for i, message_id in enumerate(ids):
            await conn.execute(
                insert(messages).values(
                    id=message_id,
                    submission_id=submission,
                    account_id=account_id,
                    mobile=f"1390000000{i}",
                    mobileid="",
                    parts=1,
                    charged=1,
                    state="delivered",
                    status="100",
                    created_at=made,
                    due_at=made,
                    done_at=made + 1000,
                )
            )
            await conn.execute(
                insert(message_parts).values(
                    message_id=message_id,
                    seq=1,
                    channel="simulator",
                    upstream_id=f"old-{message_id}",
                    state="delivered",
                    status="DELIVRD",
                    submitted_at=made,
                )
            )
        report_ids = [period.low + 1, first_id(day_of(now)) + (1 << 30)]
        for message_id, report_id in zip(ids, report_ids, strict=True):
            await conn.execute(
                insert(reports).values(
                    id=report_id,
                    account_id=account_id,
                    message_id=message_id,
                    mobile="x",
                    mobileid="",
                    status="100",
                    created_at=made + 2000,
                    fetched_at=made + 3000,
                )
            )
            await conn.execute(
                insert(push_outbox).values(
                    account_id=account_id,
                    kind=OutboxKind.REPORT,
                    item_id=report_id,
                    state="given_up",
                    created_at=made,
                    next_at=made,
                )
            )
        await conn.execute(
            insert(replies).values(
                id=period.low + 1,
                account_id=account_id,
                mobile="13900000000",
                content="old",
                gateway="10690",
                channel="simulator",
                received_at=made,
            )
        )
        await conn.execute(
            insert(ledger).values(
                account_id=account_id,
                delta=-2,
                balance_after=8,
                kind="charge",
                submission_id=submission,
                created_at=made,
            )
        )
    return {"submission": submission, "ids": ids, "reports": report_ids}


class Aged(NamedTuple):
    service: CustomerService
    account: Account
    period: Period
    now: int
    old: dict[str, Any]


async def aged(pg: Settings, db: Database, operator: Operator) -> Aged:
    """An account with old history in a period that ended 200 days ago."""
    service, account, _ = await sender(pg, db, operator, balance=10)
    period = await old_period(db, days_ago=200)
    now = now_ms()
    return Aged(service, account, period, now, await old_history(db, account.id, period, now))


@on_postgres
async def test_a_period_past_retention_goes_whole(
    pg: Settings, db: Database, operator: Operator
) -> None:
    service, account, period, now, old = await aged(pg, db, operator)
    # A message of today, made to look old: today's partition never goes.
    await service.send(account, SendForm("13900000009", "new"), post=True)
    async with db.transaction() as conn:
        await conn.execute(
            update(messages).where(messages.c.id > period.high).values(created_at=period.low)
        )
    past = [n for n in await names(db) if n.endswith("_p0")] + [
        partitions.partition_name("messages", period)
    ]

    dropped = await Housekeeper(pg, db).keep_partitions(now)

    # That period, and the cut-over's first partition if still there (empty).
    assert dropped.messages == dropped.reports == dropped.replies == len(past)
    assert dropped.submissions == 1
    for table in PARTITIONED:
        assert partitions.partition_name(table, period) not in await names(db, table)
    assert await rows(db, select(messages.c.mobile)) == [("13900000009",)]
    # The straggling report went with its message, and both reports' push entries.
    assert await rows(db, select(reports.c.id).where(reports.c.id.in_(old["reports"]))) == []
    left = select(push_outbox.c.id).where(push_outbox.c.item_id.in_(old["reports"]))
    assert await rows(db, left) == []
    assert (
        await rows(db, select(submissions.c.id).where(submissions.c.id == old["submission"])) == []
    )
    # The charge stays in the ledger, unlinked from the submission that went.
    charge = select(ledger.c.submission_id).where(ledger.c.delta == -2)
    assert await rows(db, charge) == [(None,)]
    # Sending goes on into today's partition.
    sent = await service.send(account, SendForm("13900000008", "after"), post=True)
    assert sent.sent == 1


@on_postgres
async def test_a_period_stays_while_a_message_is_not_done(
    pg: Settings, db: Database, operator: Operator
) -> None:
    _, _, period, now, old = await aged(pg, db, operator)
    keeper = Housekeeper(pg, db)
    first = old["ids"][0]
    mine = messages.c.id == first

    # Not final: it stays, with its parts and the other message.
    async with db.transaction() as conn:
        await conn.execute(update(messages).where(mine).values(state="sent", status="0"))
    await keeper.keep_partitions(now)  # (the cut-over's empty first one may go: not this)
    assert partitions.partition_name("messages", period) in await names(db)

    # Final, but its report came lately and nobody took it yet: it stays.
    async with db.transaction() as conn:
        await conn.execute(update(messages).where(mine).values(state="delivered", status="100"))
        await conn.execute(
            update(reports)
            .where(reports.c.id == old["reports"][1])
            .values(created_at=now - DAY_MS, fetched_at=None)
        )
    await keeper.keep_partitions(now)
    assert partitions.partition_name("messages", period) in await names(db)
    assert await rows(db, select(message_parts.c.seq).where(message_parts.c.message_id == first))

    # Handed out: now the period goes.
    async with db.transaction() as conn:
        await conn.execute(
            update(reports).where(reports.c.id == old["reports"][1]).values(fetched_at=now)
        )
    assert (await keeper.keep_partitions(now)).messages >= 1
    assert partitions.partition_name("messages", period) not in await names(db)


@on_postgres
async def test_nothing_is_dropped_with_retention_off(
    pg: Settings, db: Database, operator: Operator
) -> None:
    _, account, _ = await sender(pg, db, operator, balance=10)
    period = await old_period(db, days_ago=400)
    await old_history(db, account.id, period, now_ms())
    keeper = Housekeeper(pg.model_copy(update={"retention_days": 0}), db)
    assert await keeper.keep_partitions() == partitions.Dropped(0, 0, 0, 0)
    assert partitions.partition_name("messages", period) in await names(db)
    async with db.transaction() as conn:
        await conn.execute(delete(push_outbox))
        await conn.execute(delete(reports))
        await drop_period(conn, period)


@on_postgres
async def test_a_query_by_time_reads_only_that_times_partitions(pg: Settings, db: Database) -> None:
    """/rd/, the records pages and the per-number limits ask for messages made
    since a time: PostgreSQL reads the partitions of those days alone."""
    period = await old_period(db, days_ago=30)
    since = now_ms() - DAY_MS
    query = select(messages.c.id).where(
        messages.c.created_at >= since, MadeSince(messages.c.id, since)
    )
    async with db.read() as conn:
        plan = "\n".join(
            row[0]
            for row in await conn.execute(
                text(
                    "EXPLAIN "
                    + str(
                        query.compile(conn.sync_connection, compile_kwargs={"literal_binds": True})
                    )
                )  # type: ignore[arg-type]
            )
        )
    assert partitions.partition_name("messages", period) not in plan
    today = partitions.partition_name("messages", Period(day_of(since), day_of(since) + 1))
    assert "messages" in plan and today[:9] in plan


# -- the cut-over: migration 0020 on a database with history ------------------------


@pytest.fixture
def at_0019(postgres_url: str) -> Iterator[str]:
    asyncio.run(_reset_postgres(postgres_url))
    asyncio.run(upgrade(postgres_url, "0019"))
    yield postgres_url
    asyncio.run(_reset_postgres(postgres_url))


async def _legacy(url: str, sql: list[str]) -> list[Any]:
    engine = create_engine(url, for_writes=True)
    try:
        async with engine.begin() as conn:
            found: list[Any] = []
            for statement in sql:
                result = await conn.exec_driver_sql(statement)
                if result.returns_rows:
                    found.extend(result.all())
            return found
    finally:
        await engine.dispose()


LEGACY_ROWS = [
    "INSERT INTO accounts (uid, api_key_digest, console_hash, ext_code, per_number,"
    " created_at, updated_at) VALUES ('old', '', '', '77', 'off', 0, 0)",
    "INSERT INTO submissions (account_id, content, source, parts, created_at, due_at)"
    " VALUES (1, 'x', '', 1, 1000, 1000)",
    "INSERT INTO messages (submission_id, account_id, mobile, mobileid, parts, charged, state,"
    " status, created_at, due_at) VALUES (1, 1, '13900000001', '', 1, 1, 'delivered', '100',"
    " 1000, 1000)",
    "INSERT INTO message_parts (message_id, seq, channel, upstream_id, state, submitted_at)"
    " VALUES (1, 1, 'simulator', 'u1', 'delivered', 1000)",
    "INSERT INTO reports (account_id, message_id, mobile, mobileid, status, created_at,"
    " fetched_at) VALUES (1, 1, '13900000001', '', '100', 1000, 2000)",
    "INSERT INTO replies (account_id, mobile, content, gateway, channel, received_at)"
    " VALUES (1, '13900000001', 'hi', '1069077', 'simulator', 1000)",
]


async def test_the_cut_over_keeps_history_where_it_was(at_0019: str) -> None:
    await _legacy(at_0019, LEGACY_ROWS)
    await upgrade(at_0019)
    where = await _legacy(
        at_0019,
        [
            f"SELECT '{t}', tableoid::regclass::text, count(*) FROM {t} GROUP BY 2"
            for t in PARTITIONED
        ],
    )
    assert sorted(where) == sorted((t, f"{t}_p0", 1) for t in PARTITIONED)
    # New rows take their day's ids; the foreign keys onto accounts still hold.
    await _legacy(at_0019, LEGACY_ROWS[2:3])
    new = await _legacy(at_0019, ["SELECT max(id) FROM messages"])
    assert new[0][0] >> DAY_SHIFT == day_of(now_ms())
    refused = _legacy(
        at_0019,
        [
            "INSERT INTO reports (account_id, message_id, mobile, mobileid, status, created_at)"
            " VALUES (99, 1, '', '', '100', 0)"
        ],
    )
    with pytest.raises(Exception, match="foreign key"):
        await refused
    # The first partitions go with retention like any other (the parts' one
    # found by its bounds); the submission stays, a new message has it.
    engine = create_engine(at_0019, for_writes=True)
    try:
        dropped = await partitions.drop_expired(engine.begin, now_ms() - 180 * DAY_MS)
    finally:
        await engine.dispose()
    assert dropped == partitions.Dropped(messages=1, replies=1, reports=1, submissions=0)
    left = await _legacy(at_0019, ["SELECT relname FROM pg_class WHERE relname LIKE '%_p0'"])
    assert left == []


async def test_the_cut_over_goes_back(at_0019: str) -> None:
    await _legacy(at_0019, LEGACY_ROWS)
    await upgrade(at_0019)
    await _legacy(at_0019, LEGACY_ROWS[2:3])
    engine = create_engine(at_0019, for_writes=True)
    try:
        from alembic import command

        from hongyan.store.migrate import alembic_config

        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0019"))
    finally:
        await engine.dispose()
    kinds = await _legacy(
        at_0019, ["SELECT relkind::text FROM pg_class WHERE relname = 'messages'"]
    )
    assert kinds == [("r",)]
    assert (await _legacy(at_0019, ["SELECT count(*) FROM messages"]))[0][0] == 2
