"""What every operator use case shares: who acts, reading an account, and
changing an account's fields with the one audit entry that says so.

An operation checks the actor's role first (`Forbidden`), then its input
(`InvalidInput`, `NotFound`), and makes its change and writes its audit entry
in one transaction: a change that fails leaves neither.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.config import Settings
from hongyan.core import audit
from hongyan.core.audit import Actor
from hongyan.core.models import AccountSummary
from hongyan.errors import InvalidInput, NotFound
from hongyan.store import accounts as account_store
from hongyan.store.database import Database
from hongyan.store.engine import now_ms

NOTE_MAX = 200  # ledger.note and audit_log.note are String(200)


def account_target(uid: str) -> str:
    return f"account:{uid}"


def required_note(note: str) -> str:
    """A money change's note: not empty, and short enough for the ledger."""
    note = note.strip()
    if not note:
        raise InvalidInput("give a note: it is kept with the change in the ledger")
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"a note is at most {NOTE_MAX} characters")
    return note


def fields(summary: AccountSummary, names: tuple[str, ...]) -> dict[str, Any]:
    """An account's fields as the audit log keeps them (tuples as lists)."""
    shown = {}
    for name in names:
        value = getattr(summary, name)
        shown[name] = list(value) if isinstance(value, tuple) else value
    return shown


class OperatorBase:
    def __init__(self, settings: Settings, db: Database, *, actor: Actor) -> None:
        self._settings = settings
        self._db = db
        self.actor = actor

    def _require(self, action: str, uid: str | None = None) -> None:
        self.actor.require(action, account=uid)

    async def show(self, uid: str) -> AccountSummary:
        async with self._db.read() as conn:
            summary = await account_store.load_summary(conn, uid)
        if summary is None:
            raise NotFound(f"no account {uid!r}")
        return summary

    async def exists(self, uid: str) -> bool:
        async with self._db.read() as conn:
            return await account_store.load_summary(conn, uid) is not None

    async def _account_id(self, uid: str) -> int:
        return (await self.show(uid)).id

    @staticmethod
    async def _locked(conn: AsyncConnection, uid: str) -> AccountSummary:
        """The account as the transaction `conn` sees it, its row locked till the end."""
        summary = await account_store.load_summary(conn, uid, lock=True)
        if summary is None:
            raise NotFound(f"no account {uid!r}")
        return summary

    async def _record(
        self,
        conn: AsyncConnection,
        action: str,
        target: str,
        *,
        before: Any = None,
        after: Any = None,
        note: str = "",
    ) -> None:
        await audit.record(conn, self.actor, action, target, before=before, after=after, note=note)

    async def _set(
        self, action: str, uid: str, shown: tuple[str, ...], **values: object
    ) -> AccountSummary:
        """Set account columns (role already checked, input already valid), with
        the audit entry of `action` showing the fields `shown` before and after."""
        async with self._db.transaction() as conn:
            summary = await self._locked(conn, uid)
            await account_store.update_account(conn, summary.id, now_ms(), **values)
            changed = await self._locked(conn, uid)
            await self._record(
                conn,
                action,
                account_target(uid),
                before=fields(summary, shown),
                after=fields(changed, shown),
            )
        return changed
