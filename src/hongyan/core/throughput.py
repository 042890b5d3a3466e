"""Live throughput: accepted, submitted, delivered and failed a second.

Each process counts in memory (hongyan/throughput.py) and `ThroughputFlusher`
writes the counts once a second, one row per second and process, and prunes
rows older than `keep_s` now and then. `recent` sums the processes for the
last N seconds: one range read of a table of a few thousand rows, whatever
the traffic, so a page may ask every second.

What is counted: accepted, messages charged at /mt/ (and the console's
send); submitted, message parts the upstream took; delivered and failed,
messages made final (a receipt, a refusal, expiry, a cancel).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass

from hongyan.store import throughput as store
from hongyan.store.database import Database
from hongyan.tasks import cancel
from hongyan.throughput import Counts

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0
KEEP_S = 600
_PRUNE_EVERY = 60  # flushes


@dataclass(frozen=True, slots=True)
class Second:
    at: int  # epoch seconds
    accepted: int = 0
    submitted: int = 0
    delivered: int = 0
    failed: int = 0


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[-64:]


class ThroughputFlusher:
    """Writes this process's counts once a second (one group-committed row a second)."""

    def __init__(
        self,
        db: Database,
        counts: Counts,
        *,
        process: str | None = None,
        every_s: float = FLUSH_EVERY_S,
        keep_s: int = KEEP_S,
    ) -> None:
        self._db = db
        self._counts = counts
        self._process = process or process_name()
        self._every_s = every_s
        self._keep_s = keep_s
        self._flushes = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="throughput-flush")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
        try:
            await self.flush()
        except Exception:
            log.exception("flushing throughput counts failed")

    async def flush(self) -> None:
        counted = self._counts.take()
        self._flushes += 1
        prune = self._flushes % _PRUNE_EVERY == 1
        if not counted and not prune:
            return
        before = int(time.time()) - self._keep_s if prune else None
        try:
            await self._db.write(store.add, store.Flush(self._process, counted, before))
        except Exception:
            self._counts.give_back(counted)
            raise

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            try:
                await self.flush()
            except Exception:
                log.exception("flushing throughput counts failed")


async def recent(db: Database, seconds: int = 60, now_s: int | None = None) -> list[Second]:
    """The last `seconds` whole seconds before `now_s`, oldest first, every
    process summed; a second nothing happened in is all zeros."""
    until = int(time.time()) if now_s is None else now_s
    since = until - max(1, seconds)
    counted = await db.read_sync(lambda conn: store.series(conn, since, until))
    return [Second(at, *counted.get(at, (0, 0, 0, 0))) for at in range(since, until)]
