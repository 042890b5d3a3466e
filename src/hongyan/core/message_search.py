"""Messages of every account, as operators search them: by number, message
id, account, batch, channel, status and time, newest first, a keyset page
at a time (`store/message_search.py` says which index serves each filter).

The number, status, batch and dates are read as the customer console reads
them (`core.records.message_filter`: a number as the store keeps it, a
status class or one exact status, local `YYYY-MM-DD` dates with the last
counted whole); the account and channel are an operator's alone. Reading
is open to every role.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import partial
from zoneinfo import ZoneInfo

from hongyan.core.models import UID_MAX_LENGTH
from hongyan.core.records import PAGE_SIZE, MessageFilter, Window, message_filter
from hongyan.core.records import status_class as class_of
from hongyan.core.states import StatusClass
from hongyan.errors import InvalidInput, NotFound
from hongyan.store import message_search as store
from hongyan.store.database import Database
from hongyan.store.message_search import FoundRow

CHANNEL_MAX_LENGTH = 40  # messages.channel
MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Which messages: every field optional, all must hold."""

    messages: MessageFilter = field(default_factory=MessageFilter)
    uid: str | None = None
    channel: str | None = None
    message_id: int | None = None


def _id(text: str, what: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(f"{what} is a number")
    return int(text)


def search_filter(
    zone: ZoneInfo,
    *,
    mobile: str = "",
    message_id: str = "",
    uid: str = "",
    batch: str = "",
    channel: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
) -> SearchFilter:
    """A filter from what an operator typed; `InvalidInput` for what cannot be read."""
    base = message_filter(zone, start=since, end=until, number=mobile, status=status, batch=batch)
    uid, channel = uid.strip(), channel.strip()
    if len(uid) > UID_MAX_LENGTH:
        raise InvalidInput("no account uid is that long")
    if len(channel) > CHANNEL_MAX_LENGTH:
        raise InvalidInput("no channel name is that long")
    return SearchFilter(base, uid or None, channel or None, _id(message_id, "a message id"))


@dataclass(frozen=True, slots=True)
class FoundMessage(FoundRow):
    """A message found (the store's row) with its status class."""

    @property
    def status_class(self) -> StatusClass:
        return class_of(self.status)

    @classmethod
    def from_row(cls, row: FoundRow) -> FoundMessage:
        return cls(*(getattr(row, f.name) for f in fields(FoundRow)))


class MessageSearch:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(
        self,
        f: SearchFilter,
        *,
        before: int | None = None,
        after: int | None = None,
        size: int = PAGE_SIZE,
    ) -> Window[FoundMessage]:
        """A page newest first; `before`/`after` are the `older`/`newer` ids of a page."""
        if not 1 <= size <= MAX_PAGE:
            raise InvalidInput(f"a page is 1 to {MAX_PAGE} messages")
        account_id = None
        if f.uid is not None:
            uid = f.uid
            account_id = await self._db.read_sync(lambda conn: store.account_id(conn, uid))
            if account_id is None:
                raise NotFound(f"no account {uid!r}")
        where = store.conditions(
            f.messages, account_id=account_id, channel=f.channel, message_id=f.message_id
        )
        page = partial(
            store.window,
            where=where,
            before=before,
            after=after,
            size=size,
        )
        found = await self._db.read_sync(lambda conn: page(conn))
        return Window(tuple(FoundMessage.from_row(r) for r in found.rows), found.newer, found.older)
