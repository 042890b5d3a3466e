"""The ledger summed for finance, and checked against the balances.

Report rows are the ledger's parts per account and period (a local day or
a local month), one column per kind, read in keyset chunks ordered by
(period, account): a chunk starts at the period its cursor names (the
`created_at` index finds it) and never reads the periods before. The check
runs two set queries over the whole ledger, each one pass the database
streams: per account its sum, count and newest entry against the balance
(the (account_id, id) index), and each entry against the one before it by
a window function (LAG, SQLite 3.25+ and PostgreSQL alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    case,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)

from hongyan.core.states import LedgerKind
from hongyan.store.schema import accounts, ledger

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Periods:
    """How entries fall into periods, each keyed by an int that sorts by time.

    By day: the local day number, `(created_at + utc_offset_ms) // DAY_MS`.
    By month: `starts` holds each month's first instant (epoch ms) with its
    key, ascending; an entry takes the key of the last start at or before it.
    """

    utc_offset_ms: int = 0
    starts: tuple[tuple[int, int], ...] = ()

    def key(self) -> ColumnElement[int]:
        """The period of an entry. Its numbers are written out, not bound: the
        expression is selected and grouped by, and PostgreSQL takes the two as
        the same only when they are the same text."""
        at = ledger.c.created_at
        if not self.starts:
            return (at + _number(self.utc_offset_ms)) // _number(DAY_MS)
        later = reversed(self.starts[1:])
        return case(
            *((at >= _number(start), _number(key)) for start, key in later),
            else_=_number(self.starts[0][1]),
        )

    def start_of(self, key: int) -> int:
        """The first instant of the period `key`: where a chunk from it starts reading."""
        if not self.starts:
            return key * DAY_MS - self.utc_offset_ms
        return next(start for start, k in self.starts if k == key)


def _number(value: int) -> ColumnElement[int]:
    return literal_column(str(int(value)), BigInteger)


@dataclass(frozen=True, slots=True)
class SumRow:
    period: int
    account_id: int
    uid: str
    charged: int  # parts, positive: what charges took
    refunded: int
    topped_up: int
    deducted: int  # parts, positive: what debits took


def _sums() -> list[Any]:
    c = ledger.c

    def of(kind: LedgerKind) -> Any:
        return func.coalesce(func.sum(case((c.kind == kind, c.delta), else_=0)), 0)

    return [
        (-of(LedgerKind.CHARGE)).label("charged"),
        of(LedgerKind.REFUND).label("refunded"),
        of(LedgerKind.TOPUP).label("topped_up"),
        (-of(LedgerKind.DEBIT)).label("deducted"),
    ]


def report_chunk(
    conn: Connection,
    *,
    since: int,
    until: int,
    periods: Periods,
    account_id: int | None,
    after: tuple[int, int] | None,
    size: int,
) -> list[SumRow]:
    """Up to `size` rows of (period, account) after the cursor (period, account id)."""
    c = ledger.c
    where = [c.created_at >= since, c.created_at < until]
    if account_id is not None:
        where.append(c.account_id == account_id)
    key = periods.key()
    if after is not None:
        where.append(c.created_at >= max(since, periods.start_of(after[0])))
        where.append(tuple_(key, c.account_id) > tuple_(*after))
    summed = (
        select(key.label("period"), c.account_id, *_sums())
        .where(*where)
        .group_by(key, c.account_id)
        .order_by(key, c.account_id)
        .limit(size)
        .subquery()
    )
    rows = conn.execute(
        select(summed, accounts.c.uid)
        .join(accounts, accounts.c.id == summed.c.account_id)
        .order_by(summed.c.period, summed.c.account_id)
    )
    return [
        SumRow(
            int(r.period),
            int(r.account_id),
            r.uid,
            int(r.charged),
            int(r.refunded),
            int(r.topped_up),
            int(r.deducted),
        )
        for r in rows
    ]


def totals(
    conn: Connection, *, since: int, until: int, account_id: int | None
) -> tuple[int, int, int, int, int]:
    """(charged, refunded, topped_up, deducted, accounts) over the period."""
    c = ledger.c
    where = [c.created_at >= since, c.created_at < until]
    if account_id is not None:
        where.append(c.account_id == account_id)
    row = conn.execute(
        select(*_sums(), func.count(func.distinct(c.account_id))).where(*where)
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4])


# -- the check --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountSum:
    account_id: int
    uid: str
    balance: int
    entries: int
    total: int  # the sum of its deltas
    newest_id: int | None
    newest_balance_after: int | None


@dataclass(frozen=True, slots=True)
class EntryLink:
    """An entry with the balance after the entry before it (0 before the first)."""

    id: int
    account_id: int
    uid: str
    delta: int
    balance_after: int
    previous_balance_after: int
    previous_id: int | None


def account_sums(conn: Connection, *, differing_only: bool) -> tuple[int, int, list[AccountSum]]:
    """(accounts, entries, the accounts): every account's ledger against its balance.

    With `differing_only`, the list holds only accounts whose sum or newest
    entry is not the balance (the counts are of all accounts all the same).
    """
    c = ledger.c
    per_account = (
        select(
            c.account_id,
            func.count().label("entries"),
            func.sum(c.delta).label("total"),
            func.max(c.id).label("newest_id"),
        )
        .group_by(c.account_id)
        .subquery()
    )
    newest = ledger.alias("newest")
    total = func.coalesce(per_account.c.total, 0)
    query = (
        select(
            accounts.c.id,
            accounts.c.uid,
            accounts.c.balance,
            func.coalesce(per_account.c.entries, 0).label("entries"),
            total.label("total"),
            per_account.c.newest_id,
            newest.c.balance_after,
        )
        .select_from(accounts)
        .outerjoin(per_account, per_account.c.account_id == accounts.c.id)
        .outerjoin(newest, newest.c.id == per_account.c.newest_id)
        .order_by(accounts.c.id)
    )
    counted = (
        conn.execute(select(func.count()).select_from(accounts)).scalar_one(),
        conn.execute(select(func.count()).select_from(ledger)).scalar_one(),
    )
    if differing_only:
        query = query.where(
            or_(
                total != accounts.c.balance,
                newest.c.balance_after != accounts.c.balance,
                # No entry at all, yet a balance: the newest entry is missing.
                (per_account.c.newest_id.is_(None)) & (accounts.c.balance != 0),
            )
        )
    rows = conn.execute(query)
    found = [
        AccountSum(
            int(r.id),
            r.uid,
            int(r.balance),
            int(r.entries),
            int(r.total),
            None if r.newest_id is None else int(r.newest_id),
            None if r.balance_after is None else int(r.balance_after),
        )
        for r in rows
    ]
    return int(counted[0]), int(counted[1]), found


def broken_links(conn: Connection, *, limit: int) -> list[EntryLink]:
    """Entries whose balance_after is not the previous entry's plus their delta
    (the account's entries in id order), the first `limit` by account and id."""
    c = ledger.c
    chained = select(
        c.id,
        c.account_id,
        c.delta,
        c.balance_after,
        func.coalesce(
            func.lag(c.balance_after).over(partition_by=c.account_id, order_by=c.id), 0
        ).label("previous"),
        func.lag(c.id).over(partition_by=c.account_id, order_by=c.id).label("previous_id"),
    ).subquery()
    rows = conn.execute(
        select(chained, accounts.c.uid)
        .join(accounts, accounts.c.id == chained.c.account_id)
        .where(chained.c.balance_after != chained.c.previous + chained.c.delta)
        .order_by(chained.c.account_id, chained.c.id)
        .limit(limit)
    )
    return [
        EntryLink(
            int(r.id),
            int(r.account_id),
            r.uid,
            int(r.delta),
            int(r.balance_after),
            int(r.previous),
            None if r.previous_id is None else int(r.previous_id),
        )
        for r in rows
    ]


def account_ids(conn: Connection, uids: Sequence[str]) -> dict[str, int]:
    rows = conn.execute(select(accounts.c.uid, accounts.c.id).where(accounts.c.uid.in_(uids)))
    return {uid: int(i) for uid, i in rows}
