"""Submissions, messages, their reports, and the charge that goes with them.

`accept()` is a group-commit handler (synchronous, see `store.writer`): it
charges and stores a batch of checked /mt/ requests in the writer's one
transaction. The account rows are locked first (FOR UPDATE on PostgreSQL,
the database lock on SQLite) and read with the per-number history; the
decision is `core.acceptance.decide`, applied here, so balance, request rate
and per-number limits are decided against committed state, and several API
processes never charge the same balance twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core.acceptance import AccountState, History, Plan, decide
from hongyan.core.limits import Bucket, longest_window_ms
from hongyan.core.models import Accepted, Record, RecordPage, Submission
from hongyan.core.records import MessageFilter
from hongyan.core.states import LedgerKind, MessageState, Status
from hongyan.errors import Rejected
from hongyan.store import message_stats, push
from hongyan.store.history import message_conditions
from hongyan.store.schema import accounts, ledger, messages, submissions
from hongyan.store.sql import MadeSince

_IN_CHUNK = 900


def accept(conn: Connection, batch: list[Submission]) -> list[Accepted | Rejected]:
    states = _lock_accounts(conn, {s.account.id for s in batch})
    history = _recent_sends(conn, batch)
    # Decided one after another: each sees the balance the previous one left.
    outcomes = [decide(s, states[s.account.id], history) for s in batch]
    plans = [o for o in outcomes if isinstance(o, Plan)]
    ids = _write(conn, plans) if plans else []
    message_stats.add(conn, _counts(plans))
    _save_accounts(conn, states)
    accepted = iter(
        Accepted(sid, p.charged, len(p.submission.recipients) - len(p.refused), len(p.refused))
        for sid, p in zip(ids, plans, strict=True)
    )
    return [o if isinstance(o, Rejected) else next(accepted) for o in outcomes]


# Statements built once (see store/delivery/claims.py).
_LOCK_ACCOUNTS = (
    select(
        accounts.c.id,
        accounts.c.balance,
        accounts.c.sent_total,
        accounts.c.rate_tokens,
        accounts.c.rate_at,
    )
    .where(accounts.c.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(accounts.c.id)
    .with_for_update()
)
_NEW_SUBMISSIONS = insert(submissions).returning(submissions.c.id, sort_by_parameter_order=True)
_NEW_MESSAGES = insert(messages).returning(messages.c.id, sort_by_parameter_order=True)
_CHARGES = insert(ledger)
_SAVE_ACCOUNTS = (
    update(accounts)
    .where(accounts.c.id == bindparam("b_id"))
    .values(
        balance=bindparam("b_balance"),
        sent_total=bindparam("b_sent_total"),
        rate_tokens=bindparam("b_rate_tokens"),
        rate_at=bindparam("b_rate_at"),
    )
)


def _lock_accounts(conn: Connection, ids: Iterable[int]) -> dict[int, AccountState]:
    rows = conn.execute(_LOCK_ACCOUNTS, {"b_ids": sorted(ids)})
    return {
        row.id: AccountState(row.balance, row.sent_total, Bucket(row.rate_tokens, row.rate_at))
        for row in rows
    }


def _recent_sends(conn: Connection, batch: Sequence[Submission]) -> History:
    """Accepted sends per (account, number) within the longest per-number window."""
    wanted: dict[int, set[str]] = defaultdict(set)
    since: dict[int, int] = {}
    for s in batch:
        if not s.account.per_number:
            continue
        wanted[s.account.id].update(r.number for r in s.recipients if r.number is not None)
        start = s.created_at - longest_window_ms(s.account.per_number)
        since[s.account.id] = min(since.get(s.account.id, start), start)
    history: dict[tuple[int, str], list[int]] = defaultdict(list)
    for account_id, numbers in wanted.items():
        ordered = sorted(numbers)
        for offset in range(0, len(ordered), _IN_CHUNK):
            rows = conn.execute(
                select(messages.c.mobile, messages.c.created_at).where(
                    messages.c.account_id == account_id,
                    messages.c.mobile.in_(ordered[offset : offset + _IN_CHUNK]),
                    messages.c.created_at > since[account_id],
                    MadeSince(messages.c.id, since[account_id]),
                    messages.c.charged > 0,
                )
            )
            for mobile, created_at in rows:
                history[(account_id, mobile)].append(int(created_at))
    return history


def _write(conn: Connection, plans: list[Plan]) -> list[int]:
    ids = list(
        (
            conn.execute(
                _NEW_SUBMISSIONS,
                [
                    {
                        "account_id": p.submission.account.id,
                        "content": p.submission.content,
                        "mid": p.submission.mid,
                        "source": p.submission.source,
                        "parts": p.submission.parts,
                        "created_at": p.submission.created_at,
                        "due_at": p.submission.due_at,
                    }
                    for p in plans
                ],
            )
        ).scalars()
    )
    rows: list[dict[str, Any]] = []
    for submission_id, plan in zip(ids, plans, strict=True):
        s = plan.submission
        refused = dict(plan.refused)
        for index, r in enumerate(s.recipients):
            status = refused.get(index)
            rows.append(
                {
                    "submission_id": submission_id,
                    "account_id": s.account.id,
                    "mobile": r.number or r.entry[:40],
                    "mobileid": r.mobileid,
                    "parts": s.parts,
                    "charged": 0 if status else s.parts,
                    "state": MessageState.FAILED if status else MessageState.QUEUED,
                    "status": status or Status.WAITING,
                    "created_at": s.created_at,
                    "due_at": s.due_at,
                    "done_at": s.created_at if status else None,
                }
            )
    # Rows go in request order; ids are needed only to report refused numbers.
    if not any(plan.refused for plan in plans):
        _insert_rows(conn, messages, rows)
    else:
        message_ids = (conn.execute(_NEW_MESSAGES, rows)).scalars()
        push.insert_reports(
            conn,
            [
                {
                    "account_id": row["account_id"],
                    "message_id": message_id,
                    "mobile": row["mobile"],
                    "mobileid": row["mobileid"],
                    "status": row["status"],
                    "created_at": row["created_at"],
                }
                for message_id, row in zip(message_ids, rows, strict=True)
                if row["state"] == MessageState.FAILED
            ],
            max(p.submission.created_at for p in plans),
        )
    conn.execute(
        _CHARGES,
        [
            {
                "account_id": p.submission.account.id,
                "delta": -p.charged,
                "balance_after": p.balance_after,
                "kind": LedgerKind.CHARGE,
                "submission_id": sid,
                "note": "",
                "created_at": p.submission.created_at,
            }
            for sid, p in zip(ids, plans, strict=True)
        ],
    )
    return ids


def _counts(plans: list[Plan]) -> list[message_stats.Count]:
    """What the overview counts of these plans: the messages charged, and the
    numbers refused at acceptance under their status (final already)."""
    counts = []
    for p in plans:
        s = p.submission
        sent = len(s.recipients) - len(p.refused)
        counts.append(
            message_stats.Count(
                s.account.id, s.created_at, message_stats.ACCEPTED, sent, sent * s.parts
            )
        )
        counts += (
            message_stats.Count(s.account.id, s.created_at, status, 1, s.parts)
            for _, status in p.refused
        )
    return counts


_compiled_inserts: dict[tuple[str, str, tuple[str, ...]], tuple[str, bool]] = {}


def _insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows, skipping SQLAlchemy's per-row parameter processing.

    The statement is still Core's, compiled once per dialect; rows go to the
    driver as tuples in the compiled statement's own positional order. For a
    2000-number POST this halves the insert (parameter building was a third
    of the commit). Only for plain columns: no type needs a bind processor.
    """
    columns = tuple(rows[0])
    key = (conn.dialect.name, table.name, columns)
    if key not in _compiled_inserts:
        compiled = insert(table).compile(
            dialect=conn.dialect, column_keys=list(columns), for_executemany=True
        )
        positional = compiled.positiontup is not None and tuple(compiled.positiontup) == columns
        _compiled_inserts[key] = (str(compiled), positional)
    sql, positional = _compiled_inserts[key]
    if not positional:  # a named paramstyle: the driver takes the dicts as they are
        conn.execute(insert(table), rows)
        return
    conn.exec_driver_sql(sql, [tuple(row.values()) for row in rows])


def _save_accounts(conn: Connection, states: dict[int, AccountState]) -> None:
    changed = [
        {
            "b_id": account_id,
            "b_balance": s.balance,
            "b_sent_total": s.sent_total,
            "b_rate_tokens": s.bucket.tokens,
            "b_rate_at": s.bucket.at_ms,
        }
        for account_id, s in states.items()
        if s.changed
    ]
    if not changed:
        return
    conn.execute(_SAVE_ACCOUNTS, changed)


async def records(
    conn: AsyncConnection,
    account_id: int,
    *,
    page: int,
    page_size: int,
    since: int | None = None,
    until: int | None = None,
    mobile: str | None = None,
) -> RecordPage:
    """A page of the account's messages, newest first (/rd/)."""
    if since is None or until is None:
        since = until = None
    where = and_(*message_conditions(account_id, MessageFilter(since, until, mobile)))
    total = (await conn.execute(select(func.count()).select_from(messages).where(where))).scalar()
    if not total:
        return RecordPage(0, ())
    rows = await conn.execute(
        select(messages.c.created_at, messages.c.mobile, submissions.c.content, messages.c.status)
        .join(submissions, submissions.c.id == messages.c.submission_id)
        .where(where)
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return RecordPage(int(total), tuple(Record(*row) for row in rows))
