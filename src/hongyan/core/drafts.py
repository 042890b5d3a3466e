"""Console send drafts: the numbers, text and time a customer previewed,
kept on the server until confirmed (or until `[console] draft_keep_s`).

Every lookup is by account and a random id (144 bits): a draft id of
another account finds nothing.
"""

from __future__ import annotations

import secrets

from hongyan.store import drafts as draft_store
from hongyan.store.database import Database
from hongyan.store.drafts import Draft
from hongyan.store.engine import Clock


class SendDrafts:
    def __init__(self, db: Database, clock: Clock, keep_s: int) -> None:
        self._db = db
        self._clock = clock
        self._keep_ms = keep_s * 1000

    async def save(self, account_id: int, numbers: list[str], content: str, time: str) -> Draft:
        draft = Draft(
            id=secrets.token_urlsafe(18),
            account_id=account_id,
            numbers="\n".join(numbers),
            content=content,
            time=time,
            created_at=self._clock(),
        )
        await self.restore(draft)
        return draft

    async def restore(self, draft: Draft) -> None:
        """Keep `draft` (again: a send it was taken for was refused)."""
        async with self._db.transaction() as conn:
            await draft_store.create(conn, draft)

    async def take(self, account_id: int, draft_id: str) -> Draft | None:
        """The account's draft, removed: only one confirmation sends it."""
        since = self._clock() - self._keep_ms
        async with self._db.transaction() as conn:
            draft = await draft_store.find(conn, account_id, draft_id, since)
            if draft is None or not await draft_store.take(conn, account_id, draft_id):
                return None
        return draft
