"""What a refusal costs the store (issue 11 items 1, 14), on SQLite and PostgreSQL.

A legacy account reads maintenance (120) and a lock (114) in its own form
(PROTOCOL.md "Legacy dialect"); telling which form must not read the store
on each request, or a client with made-up uids makes one read per request.
A uid no account has is looked up once while it is among the last few asked
for, and never kept beyond a small bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.gates import UNKNOWN_UIDS_KEPT, Gatekeeper
from hongyan.errors import Rejected
from hongyan.protocol.dialect import Dialect
from hongyan.protocol.stat import Stat
from hongyan.store import system
from hongyan.store.database import Database
from tests.conftest import create_customer


def count_reads(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads = [0]
    read: Callable[[], AbstractAsyncContextManager[AsyncConnection]] = db.read

    @asynccontextmanager
    async def counted() -> AsyncIterator[AsyncConnection]:
        reads[0] += 1
        async with read() as conn:
            yield conn

    monkeypatch.setattr(db, "read", counted)
    return reads


async def refusal(gates: Gatekeeper, uid: str, pwd: str, address: str) -> tuple[Stat, Dialect]:
    with pytest.raises(Rejected) as caught:
        await gates.admit(uid, pwd, address, sending=False)
    return caught.value.stat, caught.value.dialect or Dialect.STANDARD


async def test_maintenance_and_locks_answer_each_form_without_reading_the_store(
    settings: Settings, db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy, standard = await create_customer(operator), await create_customer(operator)
    await operator.access.set_dialect(legacy.uid, "legacy")
    gates = Gatekeeper(settings, db)
    await gates.refresh()
    reads = count_reads(db, monkeypatch)

    # Locked out from one address: a made-up uid, and each account.
    for uid in ("nobody", legacy.uid, standard.uid):
        for _ in range(settings.lockout_failures):
            await refusal(gates, uid, "0" * 32, "192.0.2.9")
    reads[0] = 0
    for _ in range(20):
        assert await refusal(gates, "nobody", "0" * 32, "192.0.2.9") == (
            Stat.ACCOUNT_LOCKED,
            Dialect.STANDARD,
        )
    assert await refusal(gates, legacy.uid, legacy.pwd, "192.0.2.9") == (
        Stat.ACCOUNT_LOCKED,
        Dialect.LEGACY,
    )
    assert await refusal(gates, standard.uid, standard.pwd, "192.0.2.9") == (
        Stat.ACCOUNT_LOCKED,
        Dialect.STANDARD,
    )
    assert reads == [0]

    # Maintenance (its switch empties the account cache).
    async with db.transaction() as conn:
        await system.set_switch(conn, system.MAINTENANCE, True)
    await gates.refresh()
    reads[0] = 0
    for i in range(20):
        assert await refusal(gates, f"nobody{i}", "0" * 32, "192.0.2.1") == (
            Stat.MAINTENANCE,
            Dialect.STANDARD,
        )
    assert await refusal(gates, legacy.uid, legacy.pwd, "192.0.2.1") == (
        Stat.MAINTENANCE,
        Dialect.LEGACY,
    )
    assert reads == [0]


async def test_a_dialect_set_by_the_operator_reaches_the_refusals_at_the_next_poll(
    settings: Settings, db: Database, operator: Operator
) -> None:
    customer = await create_customer(operator)
    gates = Gatekeeper(settings, db)
    async with db.transaction() as conn:
        await system.set_switch(conn, system.MAINTENANCE, True)
    await gates.refresh()
    assert await refusal(gates, customer.uid, customer.pwd, "192.0.2.1") == (
        Stat.MAINTENANCE,
        Dialect.STANDARD,
    )
    await operator.access.set_dialect(customer.uid, "legacy")
    await gates.refresh()
    assert await refusal(gates, customer.uid, customer.pwd, "192.0.2.1") == (
        Stat.MAINTENANCE,
        Dialect.LEGACY,
    )
    await operator.access.set_dialect(customer.uid, "standard")
    await gates.refresh()
    assert await refusal(gates, customer.uid, customer.pwd, "192.0.2.1") == (
        Stat.MAINTENANCE,
        Dialect.STANDARD,
    )


async def test_a_wrong_uid_is_looked_up_once_and_few_are_kept(
    settings: Settings, db: Database, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    gates = Gatekeeper(settings, db)
    await gates.refresh()
    reads = count_reads(db, monkeypatch)
    # One wrong uid from many clients (each below its lockout): one read.
    for i in range(40):
        assert await refusal(gates, "typo-uid", "0" * 32, f"2001:db8:{i:x}::1") == (
            Stat.AUTH_FAILED,
            Dialect.STANDARD,
        )
    assert reads == [1]
    # Made-up uids without end: the process keeps no more than its bound.
    for i in range(UNKNOWN_UIDS_KEPT + 50):
        await gates.account(f"made-up-{i}")
    assert gates.unknown_uids_kept == UNKNOWN_UIDS_KEPT
    assert gates.cached_accounts == 0
    # An account made with that uid is found at the next poll.
    customer = await create_customer(operator, uid="typo-uid")
    await gates.refresh()
    assert await gates.admit(customer.uid, customer.pwd, "192.0.2.1", sending=False)
