"""Failed logins counted by several processes at once (issue 11 item 8), on
SQLite and PostgreSQL.

Each API process counts the failures it sees in the one row of a (uid,
client) pair. The count read its row, then inserted or updated it: on
PostgreSQL two processes could both find no row, and the second insert
failed on the primary key (the writer's retry of each item alone hid it), or
both read 3 and wrote 4: a guesser's failures were undercounted.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from hongyan.config import Settings
from hongyan.core.lockout import FailureCount, count_failure
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.schema import auth_failures

ROUNDS = 20


def counter(settings: Settings):  # type: ignore[no-untyped-def]
    s = settings

    def handler(conn, items):  # type: ignore[no-untyped-def]
        return [
            system.record_failures(
                conn,
                [attempt],
                limit=s.lockout_failures,
                window_ms=s.lockout_window_s * 1000,
                lock_ms=s.lockout_duration_s * 1000,
            )[0]
            for attempt in items
        ]

    return handler


async def test_two_processes_counting_one_pair_at_once_lose_no_failure(
    settings: Settings, db: Database
) -> None:
    other = Database(settings)  # a second process: its own engine and writer
    await other.start()
    try:
        count = counter(settings)
        at = 1_800_000_000_000
        for round_ in range(ROUNDS):
            uid = f"guess{round_}"
            if round_ % 2:  # half the pairs have a row already, half have none
                await db.write(count, (uid, "192.0.2.1", at))
            await asyncio.gather(
                *(
                    database.write(count, (uid, "192.0.2.1", at))
                    for database in (db, other, db, other)
                )
            )
    finally:
        await other.close()
    async with db.read() as conn:
        found = await conn.execute(select(auth_failures.c.uid, auth_failures.c.failures))
        counts = {uid: failures for uid, failures in found}
    assert counts == {f"guess{i}": 4 + i % 2 for i in range(ROUNDS)}


def test_the_count_starts_again_after_its_window_and_a_lock_runs_to_its_end() -> None:
    rule = {"limit": 3, "window_ms": 1000, "lock_ms": 5000}
    first = count_failure(None, 100, **rule)
    assert first == FailureCount(1, 100, 0)
    third = count_failure(count_failure(first, 200, **rule), 1100, **rule)
    assert third == FailureCount(3, 100, 6100)  # within 1000 ms of the window's start
    later = count_failure(third, 1101 + 1000, **rule)
    assert later == FailureCount(1, 2101, 6100)  # a new window; the lock stands
    assert count_failure(later, 2500, **rule) == FailureCount(2, 2101, 6100)
    assert count_failure(later, 7000, **rule) == FailureCount(1, 7000, 0)  # the lock is over
