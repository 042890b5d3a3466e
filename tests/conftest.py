"""Shared fixtures: settings on a temporary directory, databases, a real server.

`server` runs the whole platform under uvicorn on a free loopback port in a
background thread: every request in the conformance and property tests goes
through a real socket and real HTTP parsing.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import secrets
import shutil
import socket
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
import uvicorn
from argon2 import PasswordHasher
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url

from hongyan.api.server import uvicorn_options
from hongyan.app import App, Platform
from hongyan.config import Role, Settings, load_settings
from hongyan.core import credentials
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.credentials import api_password
from hongyan.store.database import Database
from hongyan.store.migrate import upgrade
from tests.clock import ControlledClock
from tests.waiting import until

T = TypeVar("T")

# The console's Argon2 hash (never read by the API) costs ~100 ms with the
# production parameters; tests make hundreds of accounts, so theirs are cheap.
credentials._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# Examples are not timed: a loaded CI machine runs one many times slower than
# a laptop, and Hypothesis's default 200 ms deadline would fail them for it.
hypothesis_settings.register_profile(
    "hongyan",
    hypothesis_settings.default,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.load_profile("hongyan")

PG_ADMIN_DSN = os.environ.get("HONGYAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("HONGYAN_REQUIRE_SERVICES") == "1"


def service_missing(reason: str) -> None:
    """Skip, or fail in CI where every service must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"HONGYAN_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


# -- databases --------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    import asyncpg

    name = f"hongyan_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        service_missing(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_pg_schemas = itertools.count()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head; each test gets a copy (a copy is
    ~1 ms, running the migrations ~300 ms)."""
    path = tmp_path_factory.mktemp("template") / "hongyan.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    with sqlite3.connect(path) as conn:
        # Everything into the main file, so that copying it alone copies it all.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "hongyan.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    asyncio.run(_empty_postgres(url))
    yield url


# What the migrations leave in PostgreSQL's tables (seed rows), per test
# session: emptying the tables and putting these back is ~10x faster than
# dropping the schema and migrating again.
_pg_seeds: dict[str, list[dict[str, Any]]] | None = None


async def _empty_postgres(url: str) -> None:
    """The database at head with only the migrations' own rows: emptied when
    it is at head already, rebuilt otherwise (a test may have left it at
    another revision)."""
    global _pg_seeds
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            tables = [
                name
                for (name,) in await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ]
            version = None
            if "alembic_version" in tables:
                version = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar()
            data = [name for name in tables if name != "alembic_version"]
            if _pg_seeds is not None and version == _head_revision() and data:
                listed = ", ".join(f'"{name}"' for name in data)
                await conn.exec_driver_sql(f"TRUNCATE {listed} RESTART IDENTITY CASCADE")
                for name, rows in _pg_seeds.items():
                    columns = ", ".join(f'"{c}"' for c in rows[0])
                    marks = ", ".join(f":{c}" for c in rows[0])
                    await conn.execute(
                        text(f'INSERT INTO "{name}" ({columns}) VALUES ({marks})'), rows
                    )
                return
    finally:
        await engine.dispose()
    await _reset_postgres(url)
    await upgrade(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            seeds: dict[str, list[dict[str, Any]]] = {}
            for name in data_tables(await conn.run_sync(_table_names)):
                found = (await conn.execute(text(f'SELECT * FROM "{name}"'))).mappings().all()
                if found:
                    seeds[name] = [dict(row) for row in found]
            _pg_seeds = seeds
    finally:
        await engine.dispose()


@functools.cache
def _head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    from hongyan.store.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _table_names(conn: Any) -> list[str]:
    from sqlalchemy import inspect

    return list(inspect(conn).get_table_names())


def data_tables(names: list[str]) -> list[str]:
    return [name for name in names if name != "alembic_version"]


async def _reset_postgres(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        await conn.exec_driver_sql("CREATE SCHEMA public")
    await engine.dispose()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "var_dir": tmp_path / "var",
        "secret": "test-secret",
        "reload_interval_s": 0.05,
        "sqlite_synchronous": "NORMAL",
        # Delivery tests turn it on; elsewhere messages stay as accepted.
        "run_dispatcher": False,
        "push": {"run": False},
    }
    values.update(overrides)
    return load_settings(None, **values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


# -- accounts -----------------------------------------------------------------------

_uids = itertools.count(1)


@dataclass(frozen=True)
class Customer:
    uid: str
    password: str

    @property
    def pwd(self) -> str:
        return api_password(self.password, self.uid)

    def auth(self) -> dict[str, str]:
        return {"uid": self.uid, "pwd": self.pwd}


async def create_customer(
    op: Operator,
    *,
    balance: int = 1000,
    rate: str = "off",
    per_number: str = "off",
    uid: str | None = None,
    password: str = "123123",
) -> Customer:
    uid = uid or f"c{next(_uids)}_{secrets.token_hex(2)}"
    await op.create_account(uid, password, balance)
    await op.set_limits(uid, rate=rate, per_number=per_number)
    return Customer(uid, password)


# -- a real server ---------------------------------------------------------------------


class RunningServer:
    """The platform served by uvicorn on a loopback port, in a background thread.

    `clock` is the platform's time: the real one, until a test holds it
    (`with server.clock.frozen() as clock: ... clock.advance(500)`).
    """

    def __init__(self, settings: Settings, role: Role = Role.ALL) -> None:
        self.settings = settings
        self.clock = ControlledClock()
        self.app = App(Platform(settings, self.clock, role))
        self.platform: Platform = self.app.platform
        # IPPROTO_TCP, as uvicorn's own listener has: asyncio then sets TCP_NODELAY
        # on accepted connections (with protocol 0 it does not, and keep-alive
        # answers wait ~40 ms on delayed ACKs).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, **{**uvicorn_options("127.0.0.1", self.port), "loop": "asyncio"}
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        until(lambda: self._server.started or not self._thread.is_alive(), "test server started")
        if not self._server.started:
            raise RuntimeError("test server did not start")
        # Generous: a loaded CI machine is slow; the bound only ends a hang.
        self.http = httpx.Client(base_url=self.url, timeout=60)

    def stop(self) -> None:
        self.http.close()
        self._server.should_exit = True
        self._thread.join(timeout=20)

    def on_server(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the server's own event loop (its database, its caches)."""
        assert self.platform.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.platform.loop).result(timeout=60)  # type: ignore[arg-type]

    def operate(self, action: Callable[[Operator], Awaitable[T]]) -> T:
        """An operator action, as the CLI would do it; the server sees it at once."""
        result = self.on_server(
            action(Operator(self.settings, self.platform.db, actor=Actor.cli()))
        )
        self.on_server(self.platform.gates.refresh())
        return result

    def customer(self, **options: Any) -> Customer:
        return self.operate(lambda op: create_customer(op, **options))

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.get(path, params=params)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, data=data, **kwargs)

    def raw(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send bytes as they are (raw GBK in the URL, odd bodies); status, headers, body."""
        return raw_http(self.port, request)


def raw_http(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                headers = _headers(head)
                length = int(headers.get("content-length", "-1"))
                if length >= 0 and len(body) >= length:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, _headers(head), body


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _server_settings(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> Settings:
    tmp = tmp_path_factory.mktemp("server")
    settings = make_settings(tmp, **overrides)
    # On a thread of its own: the browser tests' Playwright keeps an event loop
    # running on the main thread, where asyncio.run cannot start another.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, upgrade(settings.database_url)).result()
    return settings


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One platform for the session, on SQLite; tests make their own accounts."""
    running = RunningServer(_server_settings(tmp_path_factory))
    yield running
    running.stop()


def on_database(conn: Any, settings: Settings) -> bool:
    """Whether `conn` (sync or async) reaches `settings`' database. A test that
    wraps a store function to watch it sees the calls of every platform in the
    process, the session's `server` too, whose gates, dispatcher and
    housekeeper poll their own store all along: it counts its own only."""
    return bool(conn.engine.url.database == make_url(settings.database_url).database)


@pytest_asyncio.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """A started Database on each kind of store."""
    database = Database(settings)
    await database.start()
    yield database
    await database.close()


@pytest_asyncio.fixture
async def operator(settings: Settings, db: Database) -> Operator:
    return Operator(settings, db, actor=Actor.cli())
