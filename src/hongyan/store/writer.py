"""Group commit: many concurrent write requests share one transaction and one fsync.

Each caller hands the writer a handler and an item and awaits the result.
The writer takes everything queued, groups the items by handler (keeping
their order), runs each handler once over its items inside one transaction,
commits, and only then gives each caller its result: nothing is answered
before it is durable. If a batch fails as a whole, each item is retried alone
so one bad item cannot fail the others.

Handlers are plain synchronous functions over a SQLAlchemy `Connection`, so a
whole batch is one call: on SQLite it runs on one dedicated thread (one hand-
off per batch instead of one per statement, and the event loop keeps parsing
requests meanwhile); on PostgreSQL it runs through `AsyncConnection.run_sync`
over asyncpg. Same Core code, both databases.

SQLAlchemy has no group commit, hence this small queue written by hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from hongyan.errors import HongyanError, StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")
Handler = Callable[[Connection, list[Any]], Sequence[Any]]
# Runs a function inside one committed transaction; its result after the commit.
Transact = Callable[[Callable[[Connection], list[Any]]], Awaitable[list[Any]]]


@dataclass(slots=True)
class _Entry:
    handler: Handler
    item: Any
    future: asyncio.Future[Any] = field(repr=False)


class GroupCommitWriter:
    """One writer task per process; `run()` is safe to call from any task."""

    def __init__(self, transact: Transact, max_batch: int = 256) -> None:
        self._transact = transact
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Entry | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="group-commit-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None

    async def run(
        self,
        handler: Callable[[Connection, list[I]], Sequence[T | BaseException]],
        item: I,
    ) -> T:
        """Apply `handler` to `item` in the next group commit; its result once durable.

        A handler answers each item with a result, or with an exception to raise
        to that item's caller (the others still commit)."""
        if self._task is None or self._task.done():
            raise StoreError("the writer is not running")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Entry(handler, item, future))
        return await future

    async def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                entry = self._queue.get_nowait()
                if entry is None:
                    stopping = True
                    break
                batch.append(entry)
            try:
                await self._commit(batch)
            except Exception as exc:  # a bug here must not stop every later write
                log.exception("writer batch failed")
                for entry in batch:
                    _fail(entry, exc)

    async def _commit(self, batch: list[_Entry]) -> None:
        try:
            results = await self._transact(lambda conn: _apply(conn, batch))
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            log.warning("group commit failed, retrying items alone", extra={"items": len(batch)})
            for entry in batch:
                await self._commit([entry])
            return
        self.batches += 1
        self.items += len(batch)
        for entry, result in zip(batch, results, strict=True):
            if entry.future.done():  # the caller went away
                continue
            if isinstance(result, BaseException):
                entry.future.set_exception(result)
            else:
                entry.future.set_result(result)


def _apply(conn: Connection, batch: list[_Entry]) -> list[Any]:
    groups: dict[Handler, list[int]] = {}
    for index, entry in enumerate(batch):
        groups.setdefault(entry.handler, []).append(index)
    results: list[Any] = [None] * len(batch)
    for handler, indexes in groups.items():
        outcome = handler(conn, [batch[i].item for i in indexes])
        for index, result in zip(indexes, outcome, strict=True):
            results[index] = result
    return results


def _fail(entry: _Entry, exc: Exception) -> None:
    if entry.future.done():
        return
    if isinstance(exc, HongyanError):
        entry.future.set_exception(exc)
        return
    if isinstance(exc, SQLAlchemyError):
        log.error("write failed: %s", type(exc).__name__, exc_info=exc)
        entry.future.set_exception(StoreError("database write failed"))
        return
    log.error("write failed", exc_info=exc)
    entry.future.set_exception(StoreError("write failed"))
