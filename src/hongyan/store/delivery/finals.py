"""Making messages final, each exactly once: state, report and refund in the
transaction that records what made them final (`core.finals` says which
status and whether parts go back)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, select, update

from hongyan import throughput
from hongyan.core import finals
from hongyan.core.states import Status
from hongyan.store import message_stats, push, refunds
from hongyan.store.schema import accounts, message_parts, messages
from hongyan.store.sql import chunks

# Statements built once (see store/delivery/claims.py): SQLAlchemy keeps each
# one's compiled form and cache key, so a call only binds its values.
_IDS: BindParameter[int] = bindparam("b_ids", expanding=True)
_TOTALS = select(messages.c.id, messages.c.parts).where(messages.c.id.in_(_IDS))
_PART_STATES = (
    select(message_parts.c.message_id, message_parts.c.state, message_parts.c.status)
    .where(message_parts.c.message_id.in_(_IDS))
    .order_by(message_parts.c.message_id, message_parts.c.seq)
)
_NOT_FINAL = (
    select(
        messages.c.id,
        messages.c.account_id,
        messages.c.mobile,
        messages.c.mobileid,
        messages.c.charged,
        messages.c.submission_id,
        messages.c.parts,
        messages.c.created_at,
        accounts.c.refund_on_failure,
    )
    .add_columns(messages.c.state)
    .join(accounts, accounts.c.id == messages.c.account_id)
    # By primary key only; the state is checked in Python (a state filter here
    # makes SQLite scan the state index: every waiting message).
    .where(messages.c.id.in_(_IDS))
    .with_for_update(of=messages)
)
_MAKE_FINAL = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        status=bindparam("b_status"),
        done_at=bindparam("b_done"),
        lease_until=None,
    )
)


def finalise_complete(conn: Connection, message_ids: list[int], now: int) -> None:
    """Finalise those of these messages whose every part is final."""
    totals: dict[int, int] = {}
    states: dict[int, list[tuple[str, str]]] = {}
    for chunk in chunks(message_ids):
        for message_id, total in conn.execute(_TOTALS, {"b_ids": chunk}):
            totals[message_id] = total
        for row in conn.execute(_PART_STATES, {"b_ids": chunk}):
            states.setdefault(row.message_id, []).append((row.state, row.status))
    ends = []
    for message_id in message_ids:
        status = finals.message_status(states.get(message_id, []), totals.get(message_id, 0))
        if status is not None:
            ends.append((message_id, status))
    finalise(conn, ends, now)


def finalise(conn: Connection, ends: list[tuple[int, str]], now: int) -> None:
    """Make messages final with these statuses, each once: state, report and refund.

    Only a message not yet final is changed; its row is locked first (FOR
    UPDATE on PostgreSQL), so two processes cannot both finalise it.
    """
    wanted = dict(reversed(ends))  # the first status given for a message wins
    if not wanted:
        return
    rows: list[Any] = []
    for chunk in chunks(sorted(wanted)):
        rows += conn.execute(_NOT_FINAL, {"b_ids": chunk}).all()
    rows = [row for row in rows if finals.may_become_final(row.state)]
    if not rows:
        return
    # For the live page; counted before the commit (a batch that fails and is
    # retried item by item may count its finals twice: a gauge, not a ledger).
    delivered = sum(1 for row in rows if wanted[row.id] == Status.DELIVERED)
    live = throughput.counts_of(conn.engine.url.database)
    live.add(throughput.DELIVERED, delivered)
    live.add(throughput.FAILED, len(rows) - delivered)
    conn.execute(
        _MAKE_FINAL,
        [
            {
                "b_id": row.id,
                "b_state": finals.final_state(wanted[row.id]),
                "b_status": wanted[row.id],
                "b_done": now,
            }
            for row in rows
        ],
    )
    push.insert_reports(
        conn,
        [
            {
                "account_id": row.account_id,
                "message_id": row.id,
                "mobile": row.mobile,
                "mobileid": row.mobileid,
                "status": wanted[row.id],
                "created_at": now,
            }
            for row in rows
        ],
        now,
    )
    # Counted in the hour each message was accepted in (store/message_stats.py).
    message_stats.add(
        conn,
        (
            message_stats.Count(row.account_id, row.created_at, wanted[row.id], 1, row.parts)
            for row in rows
        ),
    )
    for row in rows:
        status = wanted[row.id]
        parts = finals.refund(status, row.charged, refund_on_failure=row.refund_on_failure)
        if parts:
            note = f"message {row.id}: {status}"
            refunds.refund(conn, row.account_id, parts, row.submission_id, note, now)
