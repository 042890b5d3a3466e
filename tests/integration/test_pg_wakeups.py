"""Worker nodes woken by PostgreSQL's LISTEN/NOTIFY (issue 16, item 6): an API
node's send reaches a worker node on another connection at once, with its
poll set to an hour, and again after the worker's listening connection was
cut (it reconnects; polling covers the gap)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hongyan.app import Platform
from hongyan.config import Role, Settings
from hongyan.store.migrate import upgrade
from hongyan.store.wakeups import LISTENER_NAME
from tests import waiting
from tests.conftest import RunningServer, _reset_postgres, make_settings


class WorkerNode:
    """`serve --role worker`'s platform, on a thread and event loop of its own."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.platform = self.run(self._make(settings))
        self.run(self.platform.start())

    @staticmethod
    async def _make(settings: Settings) -> Platform:
        return Platform(settings, role=Role.WORKER)

    def run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.run(self.platform.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=60)
        self.loop.close()


@pytest.fixture
def pg_settings(tmp_path: Path, postgres_url: str) -> Settings:
    asyncio.run(_reset_postgres(postgres_url))
    asyncio.run(upgrade(postgres_url))
    # An hour between polls: only a notification wakes the worker in time.
    return make_settings(
        tmp_path, database_url=postgres_url, run_dispatcher=True, dispatch_poll_s=3600
    )


@pytest.fixture
def nodes(pg_settings: Settings) -> Iterator[tuple[RunningServer, WorkerNode]]:
    api = RunningServer(pg_settings, Role.API)
    worker = WorkerNode(pg_settings)
    yield api, worker
    worker.stop()
    api.stop()


async def _sql(url: str, statement: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            return int((await conn.execute(text(statement))).scalar() or 0)
    finally:
        await engine.dispose()


def submitted(settings: Settings) -> int:
    return asyncio.run(_sql(settings.database_url, "SELECT count(*) FROM message_parts"))


def test_a_send_wakes_a_worker_node_at_once_also_after_its_connection_is_cut(
    nodes: tuple[RunningServer, WorkerNode], pg_settings: Settings
) -> None:
    api, worker = nodes
    listener = worker.platform.listener
    assert listener is not None
    waiting.until(lambda: listener.connects >= 1, "the worker to listen")
    customer = api.customer(balance=10)
    assert api.get(
        "/mt/", {**customer.auth(), "mobile": "13900008881", "content": "x"}
    ).text.startswith("sms&stat=100")
    waiting.until(lambda: submitted(pg_settings) == 1, "the first message submitted")

    cut = asyncio.run(
        _sql(
            pg_settings.database_url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE application_name = '{LISTENER_NAME}' AND datname = current_database()",
        )
    )
    assert cut == 1
    waiting.until(lambda: listener.connects >= 2, "the worker to listen again")
    assert api.get(
        "/mt/", {**customer.auth(), "mobile": "13900008882", "content": "x"}
    ).text.startswith("sms&stat=100")
    waiting.until(lambda: submitted(pg_settings) == 2, "the second message submitted")
