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

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
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
    url: str, *, synchronous: str = "FULL", pool_size: int = 5, for_writes: bool = False
) -> AsyncEngine:
    """An engine; on SQLite, `for_writes` makes every transaction BEGIN IMMEDIATE."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            hide_parameters=True,
        )
    _private_sqlite_file(parsed.database)
    engine = create_async_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
    )
    _configure_sqlite(engine, synchronous, "BEGIN IMMEDIATE" if for_writes else "BEGIN")
    return engine


def create_sqlite_writer_engine(url: str, *, synchronous: str = "FULL") -> Engine:
    """A synchronous (pysqlite) engine for the group-commit thread; BEGIN IMMEDIATE."""
    parsed = make_url(url).set(drivername="sqlite+pysqlite")
    _private_sqlite_file(parsed.database)
    engine = create_sync_engine(
        parsed,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=1,
        max_overflow=0,
        hide_parameters=True,
    )
    _configure_sqlite(engine, synchronous, "BEGIN IMMEDIATE")
    return engine


def _private_sqlite_file(database: str | None) -> None:
    """SQLite gives its -wal and -shm files the database file's mode, so a
    file created 0600 before SQLite opens it keeps all three private."""
    if database and database != ":memory:" and not database.startswith("file:"):
        private_file(Path(database))


def _configure_sqlite(engine: AsyncEngine | Engine, synchronous: str, begin: str) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions from pysqlite's hands (aiosqlite passes this through).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)
