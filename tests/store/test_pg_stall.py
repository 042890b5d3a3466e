"""A process stalled inside a write transaction on PostgreSQL blocks nobody for
long (issue 16, item 4): the server ends that transaction after
`pg_idle_in_transaction_ms`, freeing the account row that another node's
customer needs to send; nothing of the stalled transaction is kept, and once
its process resumes it is done again, once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, text, update

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.service import SendForm
from hongyan.store.database import Database
from hongyan.store.schema import accounts, messages
from tests.conftest import _empty_postgres, make_settings
from tests.store.test_store import sender


@pytest.fixture
def pg_settings(tmp_path: Path, postgres_url: str) -> Iterator[Settings]:
    asyncio.run(_empty_postgres(postgres_url))
    yield make_settings(tmp_path, database_url=postgres_url, pg_idle_in_transaction_ms=300)


class StalledNode:
    """Another node's Database, on its own thread and event loop, whose group
    commit locks an account's row and then stalls (as a process frozen by
    SIGSTOP would) until released."""

    def __init__(self, settings: Settings, account_id: int) -> None:
        self.settings = settings
        self.account_id = account_id
        self.locked = threading.Event()
        self.release = threading.Event()
        self.outcome: BaseException | str | None = None
        self.runs = 0
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def handler(self, conn: Connection, items: list[int]) -> list[str]:
        self.runs += 1
        conn.execute(
            update(accounts)
            .where(accounts.c.id == self.account_id)
            .values(balance=accounts.c.balance + 1_000_000)
        )
        self.locked.set()
        self.release.wait(timeout=120)  # the thread stalls inside the transaction
        conn.execute(select(accounts.c.id).where(accounts.c.id == self.account_id))
        return ["committed"] * len(items)

    async def _run(self) -> None:
        db = Database(self.settings, background=True)
        await db.start()
        try:
            self.outcome = await db.write(self.handler, 1)
        except BaseException as exc:
            self.outcome = exc
        finally:
            await db.close()


async def test_a_node_stalled_in_a_transaction_does_not_hold_up_anothers_send(
    pg_settings: Settings,
) -> None:
    db = Database(pg_settings)
    await db.start()
    stalled: StalledNode | None = None
    try:
        operator = Operator(pg_settings, db, actor=Actor.cli())
        service, account, _ = await sender(pg_settings, db, operator, balance=100)
        stalled = StalledNode(pg_settings, account.id)
        stalled.thread.start()
        assert await asyncio.to_thread(stalled.locked.wait, 60), "the other node never began"
        # The send needs the account's row, which the stalled transaction locked:
        # it goes through while that node is still stalled, once the server has
        # ended the stalled transaction.
        accepted = await asyncio.wait_for(
            service.send(account, SendForm("13900008888", "hi"), post=False), timeout=60
        )
        assert accepted.sent == 1
        assert not stalled.release.is_set()
    finally:
        if stalled is not None:
            stalled.release.set()
            await asyncio.to_thread(stalled.thread.join, 60)
    try:
        # The stalled node's transaction was ended and rolled back; resumed, it
        # was done again, once, after the send.
        assert stalled.outcome == "committed" and stalled.runs == 2
        async with db.read() as conn:
            balance = (
                await conn.execute(select(accounts.c.balance).where(accounts.c.id == account.id))
            ).scalar_one()
            sent = (
                await conn.execute(select(messages.c.id).where(messages.c.account_id == account.id))
            ).all()
        assert balance == 100 - 1 + 1_000_000 and len(sent) == 1
    finally:
        await db.close()


async def test_a_node_stalled_mid_statement_is_ended_too(pg_settings: Settings) -> None:
    """asyncpg prepares a statement with Parse, Describe and Flush, and sends
    its Bind after: a process frozen between the two leaves its backend
    "active", reading, with its locks, where the server's idle bound does not
    apply. A node whose write waits on such a backend ends it."""
    import asyncpg

    db = Database(pg_settings)
    await db.start()
    raw = await asyncpg.connect(pg_settings.database_url.replace("+asyncpg", ""))
    try:
        operator = Operator(pg_settings, db, actor=Actor.cli())
        service, account, _ = await sender(pg_settings, db, operator, balance=100)
        await raw.execute(f"SET idle_in_transaction_session_timeout = {300}")
        await raw.execute("BEGIN")
        await raw.execute(
            f"UPDATE accounts SET balance = balance + 1000000 WHERE id = {account.id}"
        )
        await raw.prepare("SELECT 1")  # and then this process stalls: no Sync comes
        async with db.read() as conn:
            state = (
                await conn.execute(
                    text("SELECT state, wait_event FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": raw.get_server_pid()},
                )
            ).one()
        assert tuple(state) == ("active", "ClientRead")

        accepted = await asyncio.wait_for(
            service.send(account, SendForm("13900008888", "hi"), post=False), timeout=60
        )
        assert accepted.sent == 1
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await raw.execute("COMMIT")
        async with db.read() as conn:
            balance = (
                await conn.execute(select(accounts.c.balance).where(accounts.c.id == account.id))
            ).scalar_one()
        assert balance == 100 - 1  # the stalled transaction was rolled back whole
    finally:
        raw.terminate()
        await db.close()
