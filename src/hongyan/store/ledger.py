"""The ledger as the console's ledger page reads it.

Top-ups and debits are shown one by one. Charges (one entry per accepted
request) and refunds (one per refunded message) can be thousands a day, so
they are summed per kind and local day. Each row of a page, single or
summed, is keyed by its newest entry's id: newest first, and the next page
is the rows keyed below the last one shown (keyset paging on the
(account_id, id) index, never OFFSET). A summed day is one row, so it is
never cut between two pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.core.states import LedgerKind
from hongyan.store.schema import ledger

DAY_MS = 86_400_000
SINGLE = (LedgerKind.TOPUP, LedgerKind.DEBIT)
SUMMED = (LedgerKind.CHARGE, LedgerKind.REFUND)


@dataclass(frozen=True, slots=True)
class LedgerRow:
    key: int  # the newest entry's id: the page's order and cursor
    kind: LedgerKind
    entries: int  # 1 for a top-up or debit; requests charged or messages refunded
    delta: int  # parts, negative for charges and debits
    first_at: int
    last_at: int
    note: str
    balance_after: int  # after the newest entry of the row


@dataclass(frozen=True, slots=True)
class KindTotal:
    kind: LedgerKind
    entries: int
    delta: int


async def page(
    conn: AsyncConnection,
    account_id: int,
    *,
    since: int,
    until: int,
    before: int | None,
    size: int,
    utc_offset_ms: int,
) -> list[LedgerRow]:
    """Up to `size` rows of the period keyed below `before`, newest first."""
    c = ledger.c
    where = [c.account_id == account_id, c.created_at >= since, c.created_at < until]
    single_where = [*where, c.kind.in_(SINGLE)]
    if before is not None:
        single_where.append(c.id < before)
    single = select(
        c.id.label("key"),
        c.kind,
        literal(1).label("entries"),
        c.delta,
        c.created_at.label("first_at"),
        c.created_at.label("last_at"),
        c.note,
    ).where(*single_where)
    # Floor division (SQLAlchemy renders it per database): the local day number.
    day = (c.created_at + utc_offset_ms) // DAY_MS
    summed = (
        select(
            func.max(c.id).label("key"),
            c.kind,
            func.count().label("entries"),
            func.sum(c.delta).label("delta"),
            func.min(c.created_at).label("first_at"),
            func.max(c.created_at).label("last_at"),
            literal("").label("note"),
        )
        .where(*where, c.kind.in_(SUMMED))
        .group_by(c.kind, day)
    )
    if before is not None:
        # On the whole day's entries: a day shown is never shown again in part.
        summed = summed.having(func.max(c.id) < before)
    both = union_all(single, summed).subquery()
    rows = (await conn.execute(select(both).order_by(both.c.key.desc()).limit(size))).all()
    if not rows:
        return []
    balances = dict(
        (
            await conn.execute(
                select(c.id, c.balance_after).where(
                    c.account_id == account_id, c.id.in_([r.key for r in rows])
                )
            )
        ).all()
    )
    return [
        LedgerRow(
            int(r.key),
            LedgerKind(r.kind),
            int(r.entries),
            int(r.delta),
            int(r.first_at),
            int(r.last_at),
            str(r.note),
            int(balances[r.key]),
        )
        for r in rows
    ]


async def totals(
    conn: AsyncConnection, account_id: int, *, since: int, until: int
) -> list[KindTotal]:
    """Entries and parts of each kind in the period."""
    c = ledger.c
    rows = await conn.execute(
        select(c.kind, func.count(), func.sum(c.delta))
        .where(c.account_id == account_id, c.created_at >= since, c.created_at < until)
        .group_by(c.kind)
    )
    return [KindTotal(LedgerKind(kind), int(n), int(delta)) for kind, n, delta in rows]
