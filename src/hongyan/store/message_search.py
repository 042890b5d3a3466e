"""Messages of every account for the operator console: a keyset page newest
first by (created_at, id), under a filter.

Each filter has an index that starts the page at its row however many
million messages there are (migration 0016): the number
(mobile, created_at, id), the channel (channel, created_at, id), the
account (account_id, created_at, id), the batch (submission_id), the
message id (the key); with none of these, time alone (created_at, id), and
failed ones may use the partial `ix_messages_failed_all` (PostgreSQL's planner;
SQLite, without statistics, reads the failed messages by the state index
and sorts them: a few in a hundred).
The conditions are the customer console's own
(`store.history.message_conditions`, with or without an account), so both
read a filter alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, select, tuple_

from hongyan.core.records import MessageFilter, Window
from hongyan.store.history import message_conditions
from hongyan.store.schema import accounts, messages, submissions


@dataclass(frozen=True, slots=True)
class FoundRow:
    id: int
    created_at: int
    uid: str
    mobile: str
    content: str
    parts: int
    status: str
    state: str  # a MessageState
    channel: str | None  # where it went (the latest attempt's); None before any
    submission_id: int  # the batch
    done_at: int | None


def conditions(
    f: MessageFilter,
    *,
    account_id: int | None,
    channel: str | None,
    message_id: int | None,
) -> list[ColumnElement[bool]]:
    where = message_conditions(account_id, f)
    if channel is not None:
        where.append(messages.c.channel == channel)
    if message_id is not None:
        where.append(messages.c.id == message_id)
    return where


def _select(where: list[ColumnElement[bool]]) -> Select[Any]:
    return (
        select(
            messages.c.id,
            messages.c.created_at,
            accounts.c.uid,
            messages.c.mobile,
            submissions.c.content,
            messages.c.parts,
            messages.c.status,
            messages.c.state,
            messages.c.channel,
            messages.c.submission_id,
            messages.c.done_at,
        )
        .join(submissions, submissions.c.id == messages.c.submission_id)
        .join(accounts, accounts.c.id == messages.c.account_id)
        .where(*where)
    )


def _key(conn: Connection, message_id: int | None) -> tuple[int, int] | None:
    if message_id is None:
        return None
    created_at = conn.execute(
        select(messages.c.created_at).where(messages.c.id == message_id)
    ).scalar()
    return None if created_at is None else (int(created_at), message_id)


def window(
    conn: Connection,
    where: list[ColumnElement[bool]],
    *,
    before: int | None = None,
    after: int | None = None,
    size: int,
) -> Window[FoundRow]:
    """`size` messages newest first: the newest, those older than message
    `before`, or those newer than message `after` (one row more than shown
    says whether there are more)."""
    key = (messages.c.created_at, messages.c.id)
    cursor = _key(conn, before if before is not None else after)
    if cursor is not None and after is not None:
        rows = conn.execute(
            _select([*where, tuple_(*key) > tuple_(*cursor)])
            .order_by(key[0].asc(), key[1].asc())
            .limit(size + 1)
        ).all()
        if len(rows) > size:
            shown = [FoundRow(*r) for r in reversed(rows[:size])]
            return Window(tuple(shown), shown[0].id, shown[-1].id)
        cursor = None  # the newest page is shown whole rather than short
    older = where if cursor is None else [*where, tuple_(*key) < tuple_(*cursor)]
    query = _select(older)
    rows = conn.execute(query.order_by(key[0].desc(), key[1].desc()).limit(size + 1)).all()
    shown = [FoundRow(*r) for r in rows[:size]]
    return Window(
        tuple(shown),
        shown[0].id if cursor is not None and shown else None,
        shown[-1].id if len(rows) > size else None,
    )


def account_id(conn: Connection, uid: str) -> int | None:
    found = conn.execute(select(accounts.c.id).where(accounts.c.uid == uid)).scalar()
    return None if found is None else int(found)
