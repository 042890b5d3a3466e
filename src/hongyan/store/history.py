"""An account's history for the console: messages and replies a page at a
time, one message in full, and chunks for an export.

Pages are keyset pages newest first by (time, id): a page starts at the row
the cursor names, found through the (account_id, created_at, id) index,
however deep in millions of rows; there is no OFFSET and no COUNT. Every
query is scoped by the account: a cursor or message id of another account
finds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Select, literal_column, select, tuple_

from hongyan.core.records import (
    LedgerRow,
    MessageDetail,
    MessageFilter,
    MessageRow,
    PartRow,
    ReplyFilter,
    ReplyRow,
    ReportRow,
    Window,
)
from hongyan.core.states import (
    LedgerKind,
    MessageState,
    OutboxKind,
    OutboxState,
    Status,
    StatusClass,
)
from hongyan.store.schema import (
    ledger,
    message_parts,
    messages,
    push_outbox,
    replies,
    reports,
    submissions,
)
from hongyan.store.sql import MadeSince, chunks

R = TypeVar("R", MessageRow, ReplyRow)


def message_conditions(account_id: int | None, f: MessageFilter) -> list[ColumnElement[bool]]:
    """The WHERE of a message filter; /rd/ (store/messages.py) uses it too, and
    the operator console's search (store/message_search.py) across every
    account with `account_id` None."""
    where: list[ColumnElement[bool]] = []
    if account_id is not None:
        where.append(messages.c.account_id == account_id)
    if f.since is not None:
        where += [messages.c.created_at >= f.since, MadeSince(messages.c.id, f.since)]
    if f.until is not None:
        where.append(messages.c.created_at < f.until)
    if f.mobile is not None:
        where.append(messages.c.mobile == f.mobile)
    if f.batch is not None:
        where.append(messages.c.submission_id == f.batch)
    if f.status == StatusClass.DELIVERED:
        where.append(messages.c.status == Status.DELIVERED)
    elif f.status == StatusClass.WAITING:
        where.append(messages.c.status == Status.WAITING)
    elif f.status == StatusClass.FAILED:
        # Failed is the final state that is not delivered; said as the partial
        # index ix_messages_failed says it: the value written out, not bound.
        where.append(messages.c.state == literal_column(f"'{MessageState.FAILED}'"))
    elif f.status is not None:
        where.append(messages.c.status == f.status)
    return where


_MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.created_at,
    messages.c.mobile,
    submissions.c.content,
    messages.c.parts,
    messages.c.status,
    messages.c.mobileid,
    messages.c.submission_id,
    messages.c.done_at,
)


def _message_select(where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return (
        select(*_MESSAGE_COLUMNS)
        .join(submissions, submissions.c.id == messages.c.submission_id)
        .where(*where)
    )


def message_window(
    conn: Connection,
    account_id: int,
    f: MessageFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int,
) -> Window[MessageRow]:
    """`size` messages newest first: the newest, those older than message
    `before`, or those newer than message `after`."""
    where = message_conditions(account_id, f)
    key = (messages.c.created_at, messages.c.id)
    cursor = _message_key(conn, account_id, before if before is not None else after)
    return _window(
        conn,
        _message_select(where),
        key,
        cursor,
        newer=after is not None,
        size=size,
        make=lambda row: MessageRow(*row),
    )


def message_chunk(
    conn: Connection,
    account_id: int,
    f: MessageFilter,
    *,
    older_than: tuple[int, int] | None,
    size: int,
) -> list[MessageRow]:
    """The next `size` messages of an export, older than (created_at, id)."""
    where = message_conditions(account_id, f)
    if older_than is not None:
        where.append(tuple_(messages.c.created_at, messages.c.id) < tuple_(*older_than))
    rows = conn.execute(
        _message_select(where)
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(size)
    )
    return [MessageRow(*row) for row in rows]


def _message_key(
    conn: Connection, account_id: int, message_id: int | None
) -> tuple[int, int] | None:
    if message_id is None:
        return None
    created_at = conn.execute(
        select(messages.c.created_at).where(
            messages.c.id == message_id, messages.c.account_id == account_id
        )
    ).scalar()
    return None if created_at is None else (int(created_at), message_id)


def _window(
    conn: Connection,
    query: Select[Any],
    key: tuple[Any, Any],
    cursor: tuple[int, int] | None,
    *,
    newer: bool,
    size: int,
    make: Callable[[Any], R],
) -> Window[R]:
    """A keyset page: one row more than shown tells whether there are more."""
    if cursor is not None and newer:
        rows = conn.execute(
            query.where(tuple_(*key) > tuple_(*cursor))
            .order_by(key[0].asc(), key[1].asc())
            .limit(size + 1)
        ).all()
        if len(rows) > size:
            shown = [make(r) for r in reversed(rows[:size])]
            return Window(tuple(shown), shown[0].id, shown[-1].id)
        cursor = None  # the newest page is shown whole rather than short
    if cursor is not None:
        query = query.where(tuple_(*key) < tuple_(*cursor))
    rows = conn.execute(query.order_by(key[0].desc(), key[1].desc()).limit(size + 1)).all()
    shown = [make(r) for r in rows[:size]]
    return Window(
        tuple(shown),
        shown[0].id if cursor is not None and shown else None,
        shown[-1].id if len(rows) > size else None,
    )


def message_detail(conn: Connection, account_id: int, message_id: int) -> MessageDetail | None:
    """One message with its parts, reports and refunds; None when not the account's."""
    row = conn.execute(
        select(
            *_MESSAGE_COLUMNS,
            messages.c.charged,
            messages.c.due_at,
            submissions.c.source,
            messages.c.channel,
            messages.c.attempts,
        )
        .join(submissions, submissions.c.id == messages.c.submission_id)
        .where(messages.c.id == message_id, messages.c.account_id == account_id)
    ).first()
    if row is None:
        return None
    message = MessageRow(*row[: len(_MESSAGE_COLUMNS)])
    parts = conn.execute(
        select(
            message_parts.c.seq,
            message_parts.c.channel,
            message_parts.c.upstream_id,
            message_parts.c.state,
            message_parts.c.status,
            message_parts.c.submitted_at,
            message_parts.c.done_at,
        )
        .where(message_parts.c.message_id == message_id)
        .order_by(message_parts.c.seq)
    )
    report_rows = conn.execute(
        select(
            reports.c.id,
            reports.c.status,
            reports.c.created_at,
            reports.c.fetched_at,
            reports.c.pushed_at,
        )
        .where(reports.c.message_id == message_id, reports.c.account_id == account_id)
        .order_by(reports.c.id)
    ).all()
    waiting = _outbox(conn, account_id, OutboxKind.REPORT, [r.id for r in report_rows])
    # A refund names its message in the note (store/delivery/finals.py); a
    # cancelled batch's refund names none and is shown with each of its messages.
    refunds = conn.execute(
        select(
            ledger.c.kind,
            ledger.c.delta,
            ledger.c.balance_after,
            ledger.c.note,
            ledger.c.created_at,
        )
        .where(
            ledger.c.submission_id == message.submission_id,
            ledger.c.account_id == account_id,
            ledger.c.kind == LedgerKind.REFUND,
        )
        .order_by(ledger.c.id)
    )
    prefix = f"message {message_id}:"
    return MessageDetail(
        message=message,
        charged=row.charged,
        due_at=row.due_at,
        source=row.source,
        channel=row.channel,
        attempts=row.attempts,
        parts=tuple(PartRow(*p) for p in parts),
        reports=tuple(ReportRow(*r, r.id in waiting, waiting.get(r.id, "")) for r in report_rows),
        refunds=tuple(
            LedgerRow(*r)
            for r in refunds
            if r.note.startswith(prefix) or not r.note.startswith("message ")
        ),
    )


def _outbox(conn: Connection, account_id: int, kind: str, item_ids: list[int]) -> dict[int, str]:
    """Which items still wait in the push outbox (queued), with the last error."""
    found: dict[int, str] = {}
    for chunk in chunks(item_ids):
        rows = conn.execute(
            select(push_outbox.c.item_id, push_outbox.c.last_error).where(
                push_outbox.c.account_id == account_id,
                push_outbox.c.kind == kind,
                push_outbox.c.state == OutboxState.QUEUED,
                push_outbox.c.item_id.in_(chunk),
            )
        )
        found.update({row.item_id: row.last_error for row in rows})
    return found


# -- replies --------------------------------------------------------------------------


def reply_conditions(account_id: int, f: ReplyFilter) -> list[ColumnElement[bool]]:
    where = [replies.c.account_id == account_id]
    if f.since is not None:
        where += [replies.c.received_at >= f.since, MadeSince(replies.c.id, f.since)]
    if f.until is not None:
        where.append(replies.c.received_at < f.until)
    if f.mobile is not None:
        where.append(replies.c.mobile == f.mobile)
    if f.text is not None:
        where.append(replies.c.content.icontains(f.text, autoescape=True))
    return where


_REPLY_COLUMNS = (
    replies.c.id,
    replies.c.received_at,
    replies.c.mobile,
    replies.c.content,
    replies.c.gateway,
    replies.c.fetched_at,
    replies.c.pushed_at,
)


def reply_window(
    conn: Connection,
    account_id: int,
    f: ReplyFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int,
) -> Window[ReplyRow]:
    where = reply_conditions(account_id, f)
    key = (replies.c.received_at, replies.c.id)
    cursor = _reply_key(conn, account_id, before if before is not None else after)
    window = _window(
        conn,
        select(*_REPLY_COLUMNS).where(*where),
        key,
        cursor,
        newer=after is not None,
        size=size,
        make=_reply_row,
    )
    return Window(_with_push_state(conn, account_id, list(window.rows)), window.newer, window.older)


def reply_chunk(
    conn: Connection,
    account_id: int,
    f: ReplyFilter,
    *,
    older_than: tuple[int, int] | None,
    size: int,
) -> list[ReplyRow]:
    where = reply_conditions(account_id, f)
    if older_than is not None:
        where.append(tuple_(replies.c.received_at, replies.c.id) < tuple_(*older_than))
    rows = conn.execute(
        select(*_REPLY_COLUMNS)
        .where(*where)
        .order_by(replies.c.received_at.desc(), replies.c.id.desc())
        .limit(size)
    )
    return list(_with_push_state(conn, account_id, [_reply_row(row) for row in rows]))


def _reply_key(conn: Connection, account_id: int, reply_id: int | None) -> tuple[int, int] | None:
    if reply_id is None:
        return None
    received_at = conn.execute(
        select(replies.c.received_at).where(
            replies.c.id == reply_id, replies.c.account_id == account_id
        )
    ).scalar()
    return None if received_at is None else (int(received_at), reply_id)


def _reply_row(row: Any) -> ReplyRow:
    return ReplyRow(
        row.id,
        row.received_at,
        row.mobile,
        row.content,
        row.gateway,
        row.fetched_at,
        row.pushed_at,
        push_waiting=False,
    )


def _with_push_state(
    conn: Connection, account_id: int, rows: list[ReplyRow]
) -> tuple[ReplyRow, ...]:
    # Only replies marked taken but not pushed can be waiting in the outbox.
    maybe = [r.id for r in rows if r.fetched_at is not None and r.pushed_at is None]
    waiting = _outbox(conn, account_id, OutboxKind.REPLY, maybe) if maybe else {}
    return tuple(replace(r, push_waiting=True) if r.id in waiting else r for r in rows)


def cursor_of(row: MessageRow | ReplyRow) -> tuple[int, int]:
    """The (time, id) an export's next chunk starts below."""
    if isinstance(row, MessageRow):
        return (row.created_at, row.id)
    return (row.received_at, row.id)
