"""An account's history as every entry point reads it: records and replies a
page at a time, one message in full, and exports that stream.

Every call is scoped by the account it is given: an id of another account's
message, reply or batch finds nothing. An export reads `EXPORT_CHUNK` rows a
query, each on a short read of its own, so a million rows pass through in
flat memory and no transaction stays open while a slow client downloads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TypeVar

from hongyan.core.models import Account
from hongyan.core.records import (
    EXPORT_CHUNK,
    PAGE_SIZE,
    MessageDetail,
    MessageFilter,
    MessageRow,
    ReplyFilter,
    ReplyRow,
    Window,
)
from hongyan.store import history as store
from hongyan.store.database import Database

Row = TypeVar("Row", MessageRow, ReplyRow)


class History:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def messages(
        self,
        account: Account,
        f: MessageFilter,
        *,
        before: int | None = None,
        after: int | None = None,
        size: int = PAGE_SIZE,
    ) -> Window[MessageRow]:
        query = partial(
            store.message_window, account_id=account.id, f=f, before=before, after=after, size=size
        )
        return await self._db.read_sync(lambda conn: query(conn))

    async def message(self, account: Account, message_id: int) -> MessageDetail | None:
        return await self._db.read_sync(
            lambda conn: store.message_detail(conn, account.id, message_id)
        )

    def export_messages(
        self, account: Account, f: MessageFilter, *, chunk: int = EXPORT_CHUNK
    ) -> AsyncIterator[list[MessageRow]]:
        return self._chunks(partial(store.message_chunk, account_id=account.id, f=f), chunk)

    async def replies(
        self,
        account: Account,
        f: ReplyFilter,
        *,
        before: int | None = None,
        after: int | None = None,
        size: int = PAGE_SIZE,
    ) -> Window[ReplyRow]:
        query = partial(
            store.reply_window, account_id=account.id, f=f, before=before, after=after, size=size
        )
        return await self._db.read_sync(lambda conn: query(conn))

    def export_replies(
        self, account: Account, f: ReplyFilter, *, chunk: int = EXPORT_CHUNK
    ) -> AsyncIterator[list[ReplyRow]]:
        return self._chunks(partial(store.reply_chunk, account_id=account.id, f=f), chunk)

    async def _chunks(self, query: Callable[..., list[Row]], size: int) -> AsyncIterator[list[Row]]:
        """Chunk after chunk, each its own short read, until one comes short."""
        older_than: tuple[int, int] | None = None
        while True:
            rows = await self._db.read_sync(partial(query, older_than=older_than, size=size))
            if rows:
                yield rows
            if len(rows) < size:
                return
            older_than = store.cursor_of(rows[-1])
