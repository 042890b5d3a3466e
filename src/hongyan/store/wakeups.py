"""Wake-ups across processes and machines on PostgreSQL: LISTEN/NOTIFY.

An API node that accepted messages tells the worker nodes at once, rather
than leaving them to find the messages at their next poll (`dispatch_poll_s`).
Polling stays as the fallback: SQLite has no notifications, and one can be
missed while a listening connection is down; a listener that (re)connects is
therefore told once, as if notified.

LISTEN holds a session, which PgBouncer's transaction mode does not keep:
there, `pg_listen_url` names the server itself (NOTIFY, sent in a
transaction of its own, works through PgBouncer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hongyan.store.database import Database
from hongyan.tasks import cancel

log = logging.getLogger(__name__)

DUE = "hongyan_due"  # messages were accepted: due now, or scheduled
LISTENER_NAME = "hongyan-listener"  # its connections' application_name
_NOTIFY = text("SELECT pg_notify(:channel, '')")
# Between two notifications from one process: under load, workers are busy and
# look again after each round anyway; one a pause is all they need.
NOTIFY_PAUSE_S = 0.05
_PING_S = 10.0  # a listening connection is checked this often (a silent network loss)
_RETRY_S = (0.5, 10.0)  # reconnecting: the first wait, and the longest


class Notifier:
    """Sends `channel` notifications, coalesced: whatever asks while one is on
    its way is told by the next, at most one every NOTIFY_PAUSE_S."""

    def __init__(self, db: Database, channel: str = DUE) -> None:
        self._db = db
        self._channel = channel
        self._pending = False
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send(), name="notify")

    async def _send(self) -> None:
        while self._pending:
            self._pending = False
            try:
                async with self._db.transaction() as conn:
                    await conn.execute(_NOTIFY, {"channel": self._channel})
            except Exception as exc:  # the workers' polls find the work instead
                log.warning("notifying the workers failed", extra={"error": repr(exc)})
                return
            await asyncio.sleep(NOTIFY_PAUSE_S)

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None


def asyncpg_dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy `postgresql+asyncpg://` URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """Calls `on_notify` for each `channel` notification, on a connection of
    its own, reconnecting as long as it runs (and calling once on each
    connect, for what was sent while it was not listening)."""

    def __init__(self, url: str, on_notify: Callable[[], None], channel: str = DUE) -> None:
        self._dsn = asyncpg_dsn(url)
        self._on_notify = on_notify
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self.connects = 0  # for tests and logs

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"listen-{self._channel}")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _run(self) -> None:
        wait = _RETRY_S[0]
        while True:
            try:
                await self._listen()
                wait = _RETRY_S[0]
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning(
                    "listening for work failed; polling meanwhile",
                    extra={"channel": self._channel, "error": repr(exc), "retry_s": wait},
                )
                await asyncio.sleep(wait)
                wait = min(wait * 2, _RETRY_S[1])

    async def _listen(self) -> None:
        """Until the connection is lost."""
        conn = await asyncpg.connect(
            self._dsn, timeout=10, server_settings={"application_name": LISTENER_NAME}
        )
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(self._channel, lambda *_args: self._on_notify())
            self.connects += 1
            self._on_notify()  # what came while nobody listened
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), _PING_S)
                if not lost.is_set():
                    await conn.execute("SELECT 1", timeout=_PING_S)
            raise ConnectionResetError("the listening connection was closed")
        finally:
            if not conn.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5)
