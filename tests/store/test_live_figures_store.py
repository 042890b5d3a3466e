"""The live pages' tables: throughput a second (summed over processes,
pruned), the queue's counts, the push breakers. Both databases."""

from __future__ import annotations

import time

from sqlalchemy import insert, update

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.states import MessageState
from hongyan.core.throughput import Second, ThroughputFlusher, recent
from hongyan.store import push_breakers
from hongyan.store import throughput as throughput_store
from hongyan.store.database import Database
from hongyan.store.queue import QueueCounts, queue_counts
from hongyan.store.schema import messages, submissions
from hongyan.throughput import ACCEPTED, DELIVERED, FAILED, SUBMITTED, Counts


async def test_counts_of_processes_add_up_by_second_and_old_ones_are_pruned(
    db: Database,
) -> None:
    t = int(time.time()) - 100  # recent: a flush prunes what is older than keep_s
    a, b = Counts(), Counts()
    a.add(ACCEPTED, 5, at_s=t)
    a.add(SUBMITTED, 4, at_s=t)
    a.add(DELIVERED, 3, at_s=t + 1)
    b.add(ACCEPTED, 2, at_s=t)
    b.add(FAILED, 1, at_s=t + 2)
    first = ThroughputFlusher(db, a, process="host:1", keep_s=600)
    second = ThroughputFlusher(db, b, process="host:2", keep_s=600)
    await first.flush()
    await second.flush()
    a.add(ACCEPTED, 1, at_s=t)  # the same second, flushed again: adds up
    await first.flush()
    assert await recent(db, seconds=4, now_s=t + 3) == [
        Second(t - 1),
        Second(t, accepted=8, submitted=4),
        Second(t + 1, delivered=3),
        Second(t + 2, failed=1),
    ]
    assert a.take() == {} and b.take() == {}
    await db.write(throughput_store.add, throughput_store.Flush("host:1", {}, prune_before=t + 1))
    assert await recent(db, seconds=4, now_s=t + 3) == [
        Second(t - 1),
        Second(t),
        Second(t + 1, delivered=3),
        Second(t + 2, failed=1),
    ]


async def test_queue_counts_due_scheduled_and_retrying(settings: Settings, db: Database) -> None:
    operator = Operator(settings, db, actor=Actor.cli())
    summary = await operator.create_account("q1", "pw", 10)
    now = 1_000_000

    async def add(count: int, due_at: int, attempts: int = 0, channel: str | None = None) -> None:
        async with db.transaction() as conn:
            sid = (
                await conn.execute(
                    insert(submissions)
                    .values(
                        account_id=summary.id,
                        content="x",
                        source="",
                        parts=1,
                        created_at=now,
                        due_at=now,
                    )
                    .returning(submissions.c.id)
                )
            ).scalar_one()
            rows = [
                {
                    "submission_id": sid,
                    "account_id": summary.id,
                    "mobile": "13900008888",
                    "mobileid": str(i),
                    "parts": 1,
                    "charged": 1,
                    "state": MessageState.QUEUED,
                    "status": "",
                    "created_at": now,
                    "due_at": due_at,
                    "attempts": attempts,
                    "channel": channel,
                }
                for i in range(count)
            ]
            await conn.execute(insert(messages), rows)

    await add(3, now - 10)  # due
    await add(2, now + 60_000)  # scheduled
    await add(4, now + 1_000, attempts=2, channel="simulator")  # retrying
    await add(1, now + 2_000, channel="simulator")  # held for a paused channel: due
    assert await db.read_sync(lambda conn: queue_counts(conn, now)) == QueueCounts(4, 2, 4)
    async with db.transaction() as conn:
        await conn.execute(update(messages).values(state=MessageState.DELIVERED))
    assert await db.read_sync(lambda conn: queue_counts(conn, now)) == QueueCounts(0, 0, 0)


async def test_push_breakers_are_upserted_by_host(db: Database) -> None:
    row = push_breakers.BreakerRow("https://a.example:443", "open", 5, 1, 2000, 1000)
    await db.write(push_breakers.save, [row])
    await db.write(push_breakers.save, [row._replace(state="closed", open_until=0, trips=0)])
    other = push_breakers.BreakerRow("http://b.example:80", "closed", 0, 0, 0, 1000)
    await db.write(push_breakers.save, [other])
    assert await db.read_sync(push_breakers.read_all) == {
        "http://b.example:80": other,
        "https://a.example:443": row._replace(state="closed", open_until=0, trips=0),
    }
