"""Failed logins are forgotten once their lockout window is over (issue 11
items 1 and 8), on SQLite and PostgreSQL.

Every made-up uid, and every /64 an IPv6 client rotates through, leaves a row
in `auth_failures`; the housekeeper deletes the expired ones, a batch per
transaction, on the platform's clock (held by the test: no waiting).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hongyan.config import Settings
from hongyan.core.delivery import Housekeeper
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.schema import auth_failures
from tests.clock import ControlledClock
from tests.conftest import on_database

BATCH = 100


async def fail(settings: Settings, db: Database, attempts: list[tuple[str, str, int]]) -> None:
    s = settings
    handler = lambda conn, items: [  # noqa: E731
        system.record_failures(
            conn,
            batch,
            limit=s.lockout_failures,
            window_ms=s.lockout_window_s * 1000,
            lock_ms=s.lockout_duration_s * 1000,
        )
        for batch in items
    ]
    await db.write(handler, attempts)


async def rows(db: Database) -> set[tuple[str, str]]:
    async with db.read() as conn:
        found = await conn.execute(select(auth_failures.c.uid, auth_failures.c.address))
        return {(uid, address) for uid, address in found}


async def test_the_housekeeper_deletes_expired_failures_in_batches_and_keeps_the_rest(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lock outlasts the window it was counted in.
    settings = settings.model_copy(update={"lockout_duration_s": 2 * settings.lockout_window_s})
    clock = ControlledClock(held=True)
    window_ms = settings.lockout_window_s * 1000
    start = clock()
    # A guesser: 250 made-up uids from rotating IPv6 /64s, one failure each.
    made_up = [(f"nobody{i}", f"2001:db8:{i:x}::/64", start) for i in range(250)]
    await fail(settings, db, made_up)
    # A uid locked from one client (five failures), and a later failure.
    await fail(settings, db, [("locked", "192.0.2.1", start)] * settings.lockout_failures)
    clock.advance(window_ms // 2)
    await fail(settings, db, [("recent", "192.0.2.2", clock())])
    assert len(await rows(db)) == 252

    batches: list[int] = []
    prune = system.prune_failures

    def counted(conn: object, requests: list[system.PruneRequest]) -> list[int]:
        deleted = prune(conn, requests)  # type: ignore[arg-type]
        if on_database(conn, settings):
            batches.extend(deleted)
        return deleted

    monkeypatch.setattr(system, "prune_failures", counted)
    housekeeper = Housekeeper(settings, db, clock, prune_batch=BATCH)

    # Still within the window: nothing is forgotten.
    clock.advance(window_ms // 2)
    await housekeeper.run_once()
    assert len(await rows(db)) == 252
    assert batches == [0]

    # The window is over for the first failures: the made-up ones go, a
    # batch per transaction; the lock (still running) and the recent one stay.
    clock.advance(1)
    batches.clear()
    await housekeeper.run_once()
    assert await rows(db) == {("locked", "192.0.2.1"), ("recent", "192.0.2.2")}
    assert batches == [BATCH, BATCH, 50]

    # The lock ends, and the recent failure's window too: nothing is left.
    clock.advance(window_ms)
    await housekeeper.run_once()
    assert await rows(db) == set()


async def test_a_pruned_client_starts_a_new_count(settings: Settings, db: Database) -> None:
    """Pruning changes nothing a client sees: a row past its window counts as
    none, and the next failure after the pruning is the first again."""
    clock = ControlledClock(held=True)
    housekeeper = Housekeeper(settings, db, clock)
    address = "2001:db8:1:2::/64"
    await fail(settings, db, [("someone", address, clock())] * (settings.lockout_failures - 1))
    clock.advance(settings.lockout_window_s * 1000 + 1)
    assert await housekeeper.prune_failures() == 1
    await fail(settings, db, [("someone", address, clock())] * (settings.lockout_failures - 1))
    async with db.read() as conn:
        locks = await system.active_locks(conn, clock())
    assert locks == {}
