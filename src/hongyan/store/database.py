"""The database as the rest of the platform sees it: reads, group-committed
writes, and plain transactions for operator commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hongyan.config import Settings
from hongyan.errors import StoreError
from hongyan.store.engine import (
    WriterTurn,
    create_engine,
    create_sqlite_writer_engine,
    sqlite_path,
)
from hongyan.store.writer import GroupCommitWriter

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741

log = logging.getLogger(__name__)

_BOUNDS = text(
    "SELECT set_config('idle_in_transaction_session_timeout', :idle, true),"
    " set_config('lock_timeout', :lock, true)"
)


# Backends of other processes stuck in the middle of a statement's exchange
# while they hold up a lock waiter. asyncpg prepares a statement with Parse,
# Describe and Flush, no Sync, so a process that stalls between that and its
# Bind leaves its backend "active", reading, with its transaction's locks:
# idle_in_transaction_session_timeout is not armed there (only after a Sync),
# and a statement timeout is not acted on while the server reads. Ended like
# an idle transaction would be, and rolled back whole.
_END_STALLED = text(
    "SELECT pg_terminate_backend(s.pid) FROM pg_stat_activity s"
    " WHERE s.datname = current_database() AND s.pid <> pg_backend_pid()"
    " AND s.state = 'active' AND s.wait_event = 'ClientRead'"
    " AND s.state_change < now() - make_interval(secs => :idle_s)"
    " AND s.pid IN (SELECT unnest(pg_blocking_pids(w.pid)) FROM pg_stat_activity w"
    " WHERE w.datname = current_database() AND w.wait_event_type = 'Lock')"
)


class Database:
    def __init__(self, settings: Settings, *, background: bool = False) -> None:
        """`background`: this process's writes are no customer's (the delivery worker)."""
        url = settings.database_url
        self.is_sqlite = settings.is_sqlite
        self.read_engine: AsyncEngine = create_engine(
            url,
            synchronous=settings.sqlite_synchronous,
            statement_cache_size=settings.pg_statement_cache_size,
        )
        # SQLite takes one writer at a time: a separate engine whose
        # transactions begin IMMEDIATE. PostgreSQL uses one engine for both.
        self.write_engine: AsyncEngine = (
            create_engine(url, synchronous=settings.sqlite_synchronous, for_writes=True)
            if self.is_sqlite
            else self.read_engine
        )
        # PostgreSQL: the bounds of each group-commit transaction, set in it (a
        # session setting would not hold behind PgBouncer in transaction mode).
        self._bounds = {
            "idle": f"{settings.pg_idle_in_transaction_ms}ms",
            "lock": f"{settings.pg_lock_timeout_ms}ms",
        }
        self._idle_s = settings.pg_idle_in_transaction_ms / 1000
        self._watches: set[asyncio.Task[None]] = set()
        self._thread_engine: Engine | None = None
        self._writer_connection: Connection | None = None  # the writer thread's own
        self._thread: ThreadPoolExecutor | None = None
        if self.is_sqlite:
            self._thread_engine = create_sqlite_writer_engine(
                url, synchronous=settings.sqlite_synchronous
            )
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
            self._turn = WriterTurn(sqlite_path(url), background=background)
        self.writer = GroupCommitWriter(
            self._in_thread if self.is_sqlite else self._on_loop, settings.commit_batch_max
        )

    async def _in_thread(self, work: Callable[[Connection], list[Any]]) -> list[Any]:
        """SQLite: the whole transaction on the writer thread, one hand-off."""
        assert self._thread is not None and self._thread_engine is not None
        engine = self._thread_engine

        def transaction() -> list[Any]:
            # One connection kept by the writer thread: no pool check-out, and
            # no reset (a ROLLBACK) on check-in, for every commit.
            conn = self._writer_connection
            if conn is None or conn.closed or conn.invalidated:
                conn = self._writer_connection = engine.connect()
            with self._turn, conn.begin():
                return work(conn)

        return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)

    async def _on_loop(self, work: Callable[[Connection], list[Any]]) -> list[Any]:
        """PostgreSQL: the same synchronous code over asyncpg, through SQLAlchemy's bridge.

        Each transaction first bounds itself: if this process stalls inside
        it (frozen, swapped out, stopped in a debugger), the server ends it
        after `pg_idle_in_transaction_ms` and frees the rows it locked, which
        other nodes' customers wait for (an account's balance); and none of
        its statements waits for another's lock longer than `pg_lock_timeout_ms`."""
        try:
            return await self._bounded(work)
        except DBAPIError as exc:
            if not _ended_while_idle(exc):
                raise
        # Ended by the server, so rolled back whole: nothing of it happened, and
        # it can be done again (this process was slow, or stalled and resumed).
        log.warning("a write transaction sat idle past pg_idle_in_transaction_ms: done again")
        return await self._bounded(work)

    async def _bounded(self, work: Callable[[Connection], list[Any]]) -> list[Any]:
        async with self.write_engine.begin() as conn:
            await conn.execute(_BOUNDS, self._bounds)
            done = asyncio.Event()
            if self._idle_s:
                watch = asyncio.create_task(self._end_stalled(done), name="stalled-blockers")
                self._watches.add(watch)
                watch.add_done_callback(self._watches.discard)
            try:
                return await conn.run_sync(work)
            finally:
                done.set()

    async def _end_stalled(self, done: asyncio.Event) -> None:
        """While a write transaction runs, every `pg_idle_in_transaction_ms`:
        the backends of stalled processes that hold up a lock waiter (most
        likely this transaction) ended (_END_STALLED says why)."""
        while True:
            try:
                await asyncio.wait_for(done.wait(), self._idle_s)
                return
            except TimeoutError:
                pass
            try:
                async with self.read_engine.connect() as conn:
                    ended = (await conn.execute(_END_STALLED, {"idle_s": self._idle_s})).all()
            except SQLAlchemyError:
                log.exception("looking for stalled lock holders failed")
                return
            if ended:
                log.warning(
                    "ended stalled transactions of other processes that held a lock up",
                    extra={"count": len(ended)},
                )

    async def start(self) -> None:
        await self.writer.start()

    async def close(self) -> None:
        await self.writer.stop()
        # Their transactions are over; a watch in the middle of its query
        # gives its connection back before the pool goes.
        await asyncio.gather(*self._watches, return_exceptions=True)
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()
        if self._thread is not None and self._thread_engine is not None:
            if self._writer_connection is not None:
                self._thread.submit(self._writer_connection.close).result()
                self._writer_connection = None
            self._thread.shutdown(wait=True)
            self._turn.close()
            self._thread_engine.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.read_engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError("database read failed") from exc

    async def read_sync(self, query: Callable[[Connection], T]) -> T:
        """Run a synchronous Core query function on a read connection."""
        async with self.read() as conn:
            return await conn.run_sync(query)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction of its own, for operator commands."""
        try:
            async with self.write_engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database write failed: {type(exc).__name__}") from exc

    async def write(
        self, handler: Callable[[Connection, list[I]], Sequence[T | BaseException]], item: I
    ) -> T:
        """Apply a batch handler to `item` in the next group commit."""
        return await self.writer.run(handler, item)


def _ended_while_idle(exc: BaseException) -> bool:
    """Whether PostgreSQL ended this transaction for sitting idle in it
    (SQLSTATE 25P03), or another node ended it for stalling mid-statement
    (57P01, _END_STALLED); either way it was rolled back whole. asyncpg
    reports it as the cause of the closed connection the next statement finds."""
    return has_sqlstate(exc, "25P03") or has_sqlstate(exc, "57P01")


def has_sqlstate(exc: BaseException, code: str) -> bool:
    """Whether PostgreSQL's error `code` is among the causes of `exc`."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) == code:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
