"""Engines for SQLite and PostgreSQL.

SQLite runs in WAL mode with `synchronous` from the settings (FULL by
default: a commit is on disk before the customer hears "100"), in a file
only its owner may read (0600). Write transactions start with BEGIN
IMMEDIATE so a writer takes the lock up front and never fails half-way with
SQLITE_BUSY; pysqlite's own implicit transactions are turned off for that
(SQLAlchemy's documented recipe). Engines hide statement parameters from
their errors and logs: a failed insert of an account would otherwise print
its credential digests.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hongyan.paths import private_file

BUSY_TIMEOUT_MS = 30_000


# Wall-clock time in epoch milliseconds. Code whose rules are about time (rate
# buckets, per-number windows, retry backoff) takes one as a parameter,
# defaulting to `now_ms`, so that tests can hold time still and move it.
Clock = Callable[[], int]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def create_engine(
    url: str,
    *,
    synchronous: str = "FULL",
    pool_size: int = 5,
    for_writes: bool = False,
    statement_cache_size: int = 100,
) -> AsyncEngine:
    """An engine; on SQLite, `for_writes` makes every transaction BEGIN IMMEDIATE.

    On PostgreSQL, `statement_cache_size` prepared statements are kept per
    connection. At 0 none is kept, and each is named uniquely: PgBouncer in
    transaction mode hands a server connection to other clients between
    transactions, where a kept statement is missing and asyncpg's numbered
    names (`__asyncpg_stmt_1__`) of different clients collide."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args: dict[str, Any] = {
            "prepared_statement_cache_size": statement_cache_size,
            "statement_cache_size": statement_cache_size,
        }
        if statement_cache_size == 0:
            connect_args["prepared_statement_name_func"] = _unique_statement_name
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args=connect_args,
        )
    _private_sqlite_file(parsed.database)
    engine = create_async_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
    )
    _configure_sqlite(engine, synchronous, "BEGIN IMMEDIATE" if for_writes else "BEGIN")
    return engine


def _unique_statement_name() -> str:
    return f"__hongyan_{uuid.uuid4().hex}__"


def create_sqlite_writer_engine(url: str, *, synchronous: str = "FULL") -> Engine:
    """A synchronous (pysqlite) engine for the group-commit thread; BEGIN IMMEDIATE."""
    parsed = make_url(url).set(drivername="sqlite+pysqlite")
    _private_sqlite_file(parsed.database)
    engine = create_sync_engine(
        parsed,
        # The timeout covers opening the file and its PRAGMAs; transactions then
        # wait for the lock in _take_write_lock (busy_timeout 0 from there on).
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=1,
        max_overflow=0,
        hide_parameters=True,
    )
    _configure_sqlite(engine, synchronous, "BEGIN IMMEDIATE", waits_itself=True)
    return engine


def _private_sqlite_file(database: str | None) -> None:
    """SQLite gives its -wal and -shm files the database file's mode, so a
    file created 0600 before SQLite opens it keeps all three private."""
    if path := sqlite_path(database):
        private_file(path)


def _configure_sqlite(
    engine: AsyncEngine | Engine, synchronous: str, begin: str, *, waits_itself: bool = False
) -> None:
    """PRAGMAs at connect and `begin` at every transaction. `waits_itself`:
    the connection waits for the write lock in _take_write_lock, on its own
    thread (the group-commit writer's), rather than in SQLite's busy handler.
    Never for an async engine: its waits would block the event loop."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions from pysqlite's hands (aiosqlite passes this through).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={0 if waits_itself else BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if waits_itself:
            _take_write_lock(connection)
        else:
            connection.exec_driver_sql(begin)


# Waits between two tries for SQLite's write lock: from 50 µs, doubling, to 1 ms.
_LOCK_WAIT_FIRST_S = 0.000_05
_LOCK_WAIT_MAX_S = 0.001


def _take_write_lock(connection: Any) -> None:
    """BEGIN IMMEDIATE, tried again at once when another process holds the lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries, so
    with an API process and a delivery worker writing one file, a request
    waited up to a tenth of a second for a lock held a few hundred
    microseconds: p99 at 64 concurrent sends went from 60 ms to 1.2 s
    (issue 13). Python's sqlite3 cannot install another busy handler, so the
    group-commit writer's connection has none (busy_timeout 0) and waits here,
    in short naps that give up the GIL, up to the same BUSY_TIMEOUT_MS. The
    group-commit writers take their turns in WriterTurn first, so they nap
    here only behind a transaction that took no turn (an operator command,
    another program). Once BEGIN IMMEDIATE holds the lock, nothing in the
    transaction waits for it again (WAL: readers never block a writer)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    wait = _LOCK_WAIT_FIRST_S
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                raise
        time.sleep(wait)
        wait = min(wait * 2, _LOCK_WAIT_MAX_S)


def sqlite_path(url_or_database: str | None) -> Path | None:
    """The file of a SQLite URL, or of its database part (None: in memory)."""
    if url_or_database is None:
        return None
    database = make_url(url_or_database).database if "://" in url_or_database else url_or_database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


# How long a background writer lets waiting customer writes go first, at
# most: then it queues for its turn anyway, so that delivery never stops
# under a sustained load of customers' writes.
CUSTOMERS_FIRST_S = 0.05


class WriterTurn:
    """The group-commit writers of all processes on one SQLite file take turns
    here, an exclusive flock on `<file>-writer`, before BEGIN IMMEDIATE.

    The kernel wakes the next writer the moment the last one commits; waiting
    in SQLite's lock instead means polling it. Customers come first: a
    writer for customers (`background=False`: an API process's, or one doing
    both) holds a shared flock on `<file>-customers` from before it queues
    for its turn until it commits. A background writer (the delivery
    worker's) queues only once it could take that one exclusively, that is
    when no customer write waits or runs, or after `customers_first_s`: a
    request waits for at most the one background transaction already
    running, and delivery still moves while customers keep the lock busy.
    (The background writer polls for that, in naps: flock has no timeout.)
    Transactions that take no turn (operator commands) meet the writers at
    SQLite's own lock.
    """

    def __init__(
        self,
        database: Path | None,
        *,
        background: bool = False,
        customers_first_s: float = CUSTOMERS_FIRST_S,
    ) -> None:
        self._background = background
        self._customers_first_s = customers_first_s
        self._turn: int | None = None
        self._customers: int | None = None
        if database is not None:
            flags, mode = os.O_RDWR | os.O_CREAT, 0o600
            self._turn = os.open(database.with_name(database.name + "-writer"), flags, mode)
            self._customers = os.open(database.with_name(database.name + "-customers"), flags, mode)

    def __enter__(self) -> None:
        if self._turn is None or self._customers is None:
            return
        if self._background:
            self._let_customers_go_first(self._customers)
        else:
            fcntl.flock(self._customers, fcntl.LOCK_SH)
        fcntl.flock(self._turn, fcntl.LOCK_EX)

    def _let_customers_go_first(self, customers: int) -> None:
        deadline = time.monotonic() + self._customers_first_s
        wait = _LOCK_WAIT_FIRST_S
        while True:
            try:
                fcntl.flock(customers, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(wait)
                wait = min(wait * 2, _LOCK_WAIT_MAX_S)
                continue
            fcntl.flock(customers, fcntl.LOCK_UN)
            return

    def __exit__(self, *_exc: object) -> None:
        if self._turn is None or self._customers is None:
            return
        fcntl.flock(self._turn, fcntl.LOCK_UN)
        if not self._background:
            fcntl.flock(self._customers, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in (self._turn, self._customers):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._turn = self._customers = None
