"""A send's batch (one submission) after acceptance: the numbers refused,
the batches waiting for their time, and cancelling one.

`cancel()` is a group-commit handler (see `store.writer`): it runs in the
writer's transaction, as the dispatcher's claims do, so on SQLite the two are
serialised; on PostgreSQL the messages are locked (FOR UPDATE) before
`core.cancel` decides, and the dispatcher's claim skips locked rows, so a
message is either claimed or cancelled, never both.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core import cancel as rule
from hongyan.core.states import MessageState
from hongyan.errors import NotFound
from hongyan.store import message_stats, push, refunds
from hongyan.store.schema import accounts, message_parts, messages, submissions
from hongyan.store.sql import chunks


class Batch(NamedTuple):
    """A submission with messages still waiting for their time."""

    id: int
    content: str
    parts: int
    created_at: int
    due_at: int
    waiting: int  # messages still queued
    cost: int  # parts charged for them


async def waiting_batches(conn: AsyncConnection, account_id: int, now: int) -> list[Batch]:
    """The account's submissions due after `now` with queued messages, soonest first.

    Found through the messages' (state, due_at) index: only what is queued
    for later is read, however many messages the account has sent."""
    queued = (
        select(
            messages.c.submission_id,
            func.count().label("waiting"),
            func.sum(messages.c.charged).label("cost"),
        )
        .where(
            messages.c.state == MessageState.QUEUED,
            messages.c.due_at > now,
            messages.c.account_id == account_id,
        )
        .group_by(messages.c.submission_id)
        .subquery()
    )
    rows = await conn.execute(
        select(
            submissions.c.id,
            submissions.c.content,
            submissions.c.parts,
            submissions.c.created_at,
            submissions.c.due_at,
            queued.c.waiting,
            queued.c.cost,
        )
        .join(queued, queued.c.submission_id == submissions.c.id)
        .where(submissions.c.account_id == account_id, submissions.c.due_at > now)
        .order_by(submissions.c.due_at, submissions.c.id)
    )
    return [Batch(*row[:5], int(row.waiting), int(row.cost or 0)) for row in rows]


class CancelRequest(NamedTuple):
    account_id: int
    submission_id: int
    now: int


def cancel(conn: Connection, requests: list[CancelRequest]) -> list[rule.Cancelled | NotFound]:
    return [_cancel_one(conn, r) for r in requests]


def _cancel_one(conn: Connection, request: CancelRequest) -> rule.Cancelled | NotFound:
    due_at = conn.execute(
        select(submissions.c.due_at).where(
            submissions.c.id == request.submission_id,
            submissions.c.account_id == request.account_id,  # another's batch is not found
        )
    ).scalar_one_or_none()
    if due_at is None:
        return NotFound("no such batch")
    # Its messages keep the batch's due time until a submit is retried (which
    # only moves it later): the (state, due_at) index finds them.
    candidates = conn.execute(
        select(
            messages.c.id,
            messages.c.mobile,
            messages.c.mobileid,
            messages.c.charged,
            messages.c.state,
            messages.c.lease_until,
            messages.c.attempts,
            messages.c.created_at,
            messages.c.parts,
        )
        .where(
            messages.c.state == MessageState.QUEUED,
            messages.c.due_at >= due_at,
            messages.c.submission_id == request.submission_id,
            messages.c.account_id == request.account_id,
        )
        .with_for_update(of=messages)
    ).all()
    tried = [row.id for row in candidates if row.attempts]
    submitted: set[int] = set()
    for chunk in chunks(tried):
        submitted.update(
            conn.execute(
                select(message_parts.c.message_id)
                .where(message_parts.c.message_id.in_(chunk))
                .distinct()
            ).scalars()
        )
    rows = [
        row
        for row in candidates
        if rule.may_cancel(row.state, row.lease_until, row.id in submitted)
    ]
    balance = _balance(conn, request.account_id)
    if not rows:
        return rule.Cancelled(0, 0, balance)
    now = request.now
    for chunk in chunks([row.id for row in rows]):
        # The state and lease again: on PostgreSQL the rows are locked, but
        # the condition keeps the update right even where they are not.
        conn.execute(
            update(messages)
            .where(
                messages.c.id.in_(chunk),
                messages.c.state == MessageState.QUEUED,
                messages.c.lease_until.is_(None),
            )
            .values(state=rule.FINAL_STATE, status=rule.STATUS, done_at=now)
        )
    # Final like any message: counted with its status in the hour it was
    # accepted in, as store/delivery/finals.py counts the others.
    message_stats.add(
        conn,
        (
            message_stats.Count(request.account_id, row.created_at, rule.STATUS, 1, row.parts)
            for row in rows
        ),
    )
    push.insert_reports(
        conn,
        [
            {
                "account_id": request.account_id,
                "message_id": row.id,
                "mobile": row.mobile,
                "mobileid": row.mobileid,
                "status": rule.STATUS,
                "created_at": now,
            }
            for row in rows
        ],
        now,
    )
    refunded = sum(rule.refund(row.charged) for row in rows)
    if refunded:
        balance = refunds.refund(
            conn, request.account_id, refunded, request.submission_id, rule.LEDGER_NOTE, now
        )
    return rule.Cancelled(len(rows), refunded, int(balance))


def _balance(conn: Connection, account_id: int) -> int:
    return int(
        conn.execute(select(accounts.c.balance).where(accounts.c.id == account_id)).scalar_one()
    )


async def refused(
    conn: AsyncConnection, account_id: int, submission_id: int, limit: int
) -> list[tuple[str, str]]:
    """The first numbers of a batch refused at acceptance (charged nothing), with
    their status. Its messages share its creation time: found by the
    (account_id, created_at) index."""
    created_at = select(submissions.c.created_at).where(
        submissions.c.id == submission_id, submissions.c.account_id == account_id
    )
    rows = await conn.execute(
        select(messages.c.mobile, messages.c.status)
        .where(
            messages.c.account_id == account_id,
            messages.c.created_at == created_at.scalar_subquery(),
            messages.c.submission_id == submission_id,
            messages.c.charged == 0,
            messages.c.state == MessageState.FAILED,
        )
        .order_by(messages.c.id)
        .limit(limit)
    )
    return [(row.mobile, row.status) for row in rows]
