"""What a gatekeeper's poll reads of the locks (issue 11 items 1 and 8), on
SQLite and PostgreSQL.

A guesser with made-up uids sets a lock every five requests; were every
active lock read at each poll (twice a second), the cost to each process
would grow for as long as it goes on. A poll reads the locks set lately; all
are read at a change the operator makes (a lift) and now and then.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.gates import LOCKS_MARGIN_MS, Gatekeeper
from hongyan.errors import Rejected
from hongyan.protocol.stat import Stat
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.schema import auth_failures
from tests.clock import ControlledClock
from tests.conftest import create_customer, on_database

GUESSER = "198.51.100.1"
LOCKS = 300


async def stat_of(gates: Gatekeeper, uid: str, pwd: str, address: str) -> Stat:
    try:
        await gates.admit(uid, pwd, address, sending=False)
    except Rejected as exc:
        return exc.stat
    return Stat.OK


async def test_a_poll_reads_the_locks_set_lately_and_all_after_a_lift(
    settings: Settings, db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = await create_customer(operator)
    # The locks of a guesser's made-up uids, set over the last ten minutes. The
    # gatekeepers' time stands still, so no lock ends while the test runs.
    clock = ControlledClock(held=True)
    now, lock_ms = clock(), settings.lockout_duration_s * 1000
    spacing = lock_ms // LOCKS
    async with db.transaction() as conn:
        await conn.execute(
            insert(auth_failures),
            [
                {
                    "uid": f"nobody{i}",
                    "address": GUESSER,
                    "failures": settings.lockout_failures,
                    "window_start": now - i * spacing,
                    "locked_until": now + lock_ms - i * spacing,
                }
                for i in range(LOCKS)
            ],
        )
    read: list[int] = []
    active_locks = system.active_locks

    async def counted(conn: Any, since: int) -> dict[tuple[str, str], int]:
        found = await active_locks(conn, since)
        if on_database(conn, settings):
            read.append(len(found))
        return found

    monkeypatch.setattr(system, "active_locks", counted)
    gates = Gatekeeper(settings, db, clock)
    await gates.refresh()
    await gates.refresh()
    assert read[0] == LOCKS
    assert read[1] <= LOCKS_MARGIN_MS // spacing + 1
    for i in (0, LOCKS // 2, LOCKS - 2):
        assert await stat_of(gates, f"nobody{i}", "0" * 32, GUESSER) == Stat.ACCOUNT_LOCKED

    # A lock another process sets is read at the next poll.
    other = Gatekeeper(settings, db, clock)
    await other.refresh()
    for _ in range(settings.lockout_failures):
        await stat_of(other, customer.uid, "0" * 32, "192.0.2.5")
    read.clear()
    await gates.refresh()
    assert read[0] <= LOCKS_MARGIN_MS // spacing + 2
    assert await stat_of(gates, customer.uid, customer.pwd, "192.0.2.5") == Stat.ACCOUNT_LOCKED

    # A lift is read at the next poll, with all the locks again.
    await operator.access.unlock(customer.uid)
    read.clear()
    await gates.refresh()
    assert read == [LOCKS]
    assert await stat_of(gates, customer.uid, customer.pwd, "192.0.2.5") == Stat.OK
    assert await stat_of(gates, "nobody1", "0" * 32, GUESSER) == Stat.ACCOUNT_LOCKED
