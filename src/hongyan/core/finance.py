"""Finance: parts charged, refunded, topped up and deducted per account and
local day or month, and the check that every account's ledger sums to its
balance.

Read-only for every role, but for the CSV export: finance data leaving the
platform is the `finance.export` action, checked and written to the audit
log before the first row goes. Days and months are the platform's zone's
(`settings.timezone`, Beijing by default). A page is keyset-paged by
(period, account): its cursor is a string a page can put in a link.

The ledger rule the check holds every account to: the sum of its entries'
deltas is its balance, its newest entry's `balance_after` is its balance,
and each entry's `balance_after` is the previous entry's (0 before the
first) plus its own delta.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from hongyan.core import audit
from hongyan.core.audit import Actor
from hongyan.core.ledger import Period, period
from hongyan.errors import InvalidInput, NotFound
from hongyan.store import finance as store
from hongyan.store.database import Database
from hongyan.store.finance import Periods, SumRow

PAGE_SIZE = 100
EXPORT_CHUNK = 5000
EXPORT_ACTION = "finance.export"
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_CURSOR = re.compile(r"(\d{1,9})\.(\d{1,18})")


class Grain(StrEnum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class ReportQuery:
    period: Period  # local dates, both included
    by: Grain = Grain.DAY
    uid: str | None = None  # one account, or every account


def month(text: str) -> Period:
    """`YYYY-MM` as the period of its days; `InvalidInput` otherwise."""
    found = _MONTH.fullmatch(text.strip())
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1970:
        raise InvalidInput("a month is YYYY-MM")
    first = date(int(found[1]), int(found[2]), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Period(first, following - timedelta(days=1))


def report_query(
    zone: ZoneInfo,
    now: int,
    *,
    month_text: str = "",
    first: str = "",
    last: str = "",
    by: str = "day",
    uid: str = "",
) -> ReportQuery:
    """What a form or a command asks for: a month, or local dates (the last
    30 days without either, as the customer's ledger page)."""
    if by not in tuple(Grain):
        raise InvalidInput("by day or by month")
    if month_text.strip():
        if first.strip() or last.strip():
            raise InvalidInput("give a month, or the first and last day, not both")
        chosen = month(month_text)
    else:
        chosen = period(first, last, zone, now)
    return ReportQuery(chosen, Grain(by), uid.strip() or None)


@dataclass(frozen=True, slots=True)
class FinanceRow:
    period: str  # "2026-11-03" by day, "2026-11" by month
    account_id: int
    uid: str
    charged: int  # parts charged at acceptance
    refunded: int  # parts given back (failed messages, cancelled sends)
    topped_up: int
    deducted: int
    key: tuple[int, int]  # (period key, account id): the order

    @property
    def net(self) -> int:
        """Parts charged and kept."""
        return self.charged - self.refunded

    @property
    def cursor(self) -> str:
        return f"{self.key[0]}.{self.key[1]}"


@dataclass(frozen=True, slots=True)
class Totals:
    charged: int
    refunded: int
    topped_up: int
    deducted: int
    accounts: int

    @property
    def net(self) -> int:
        return self.charged - self.refunded


class Tally:
    """Rows added up as they pass: the totals of exactly what was written."""

    def __init__(self) -> None:
        self.charged = self.refunded = self.topped_up = self.deducted = 0
        self._accounts: set[int] = set()

    def add(self, row: FinanceRow) -> None:
        self.charged += row.charged
        self.refunded += row.refunded
        self.topped_up += row.topped_up
        self.deducted += row.deducted
        self._accounts.add(row.account_id)

    def totals(self) -> Totals:
        return Totals(
            self.charged, self.refunded, self.topped_up, self.deducted, len(self._accounts)
        )


@dataclass(frozen=True, slots=True)
class ReportPage:
    query: ReportQuery
    rows: list[FinanceRow]
    next_after: str | None  # the cursor of the next page; None on the last
    totals: Totals


CSV_HEADER = ("period", "account", "charged", "refunded", "net charged", "topped up", "deducted")
TOTAL_LABEL = "total"


def csv_cells(row: FinanceRow | Totals) -> tuple[str | int, ...]:
    """One CSV line of a row; the totals row says `total` and no account."""
    if isinstance(row, Totals):
        head: tuple[str, str] = (TOTAL_LABEL, "")
    else:
        head = (row.period, row.uid)
    return (*head, row.charged, row.refunded, row.net, row.topped_up, row.deducted)


def parse_cursor(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    found = _CURSOR.fullmatch(text.strip())
    if found is None:
        raise InvalidInput("not a page of this report")
    return int(found[1]), int(found[2])


def _periods(query: ReportQuery, zone: ZoneInfo) -> tuple[int, int, Periods]:
    since, until = query.period.bounds(zone)
    if query.by == Grain.DAY:
        # The offset of the period's start: Asia/Shanghai keeps one all year
        # (as core/ledger.py; in a zone with summer time a day is cut an hour off).
        offset = datetime.fromtimestamp(since / 1000, zone).utcoffset()
        offset_ms = int(offset.total_seconds() * 1000) if offset else 0
        return since, until, Periods(utc_offset_ms=offset_ms)
    starts = []
    first = date(query.period.first.year, query.period.first.month, 1)
    while first <= query.period.last:
        start = Period(first, first).bounds(zone)[0]
        starts.append((max(start, since), first.year * 100 + first.month))
        first = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return since, until, Periods(starts=tuple(starts))


def _label(key: int, by: Grain) -> str:
    if by == Grain.MONTH:
        return f"{key // 100:04d}-{key % 100:02d}"
    return (date(1970, 1, 1) + timedelta(days=key)).isoformat()


def _row(r: SumRow, by: Grain) -> FinanceRow:
    return FinanceRow(
        _label(r.period, by),
        r.account_id,
        r.uid,
        r.charged,
        r.refunded,
        r.topped_up,
        r.deducted,
        (r.period, r.account_id),
    )


# -- the check ----------------------------------------------------------------------------


class Difference(StrEnum):
    SUM = "sum"  # the deltas do not add up to the balance
    NEWEST = "newest"  # the newest entry's balance_after is not the balance
    NO_ENTRIES = "no_entries"  # a balance without a single entry
    CHAIN = "chain"  # an entry's balance_after is not the previous one's plus its delta


@dataclass(frozen=True, slots=True)
class Problem:
    uid: str
    difference: Difference
    expected: int
    found: int
    entry_id: int | None = None  # the entry that differs (NEWEST, CHAIN)
    previous_id: int | None = None  # CHAIN: the entry before it; None for the first


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    accounts: int
    entries: int
    problems: list[Problem]
    more: bool  # more entries differ than are listed

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def differing_accounts(self) -> list[str]:
        return sorted({p.uid for p in self.problems})


def account_problems(a: store.AccountSum) -> list[Problem]:
    """What is wrong with one account's ledger as a whole (the rule above)."""
    found = []
    if a.total != a.balance:
        found.append(Problem(a.uid, Difference.SUM, a.balance, a.total))
    if a.newest_id is None:
        if a.balance != 0:
            found.append(Problem(a.uid, Difference.NO_ENTRIES, a.balance, 0))
    elif a.newest_balance_after != a.balance:
        after = a.newest_balance_after or 0
        found.append(Problem(a.uid, Difference.NEWEST, a.balance, after, a.newest_id))
    return found


def link_problem(e: store.EntryLink) -> Problem | None:
    expected = e.previous_balance_after + e.delta
    if e.balance_after == expected:
        return None
    return Problem(e.uid, Difference.CHAIN, expected, e.balance_after, e.id, e.previous_id)


class Finance:
    def __init__(self, db: Database, zone: ZoneInfo) -> None:
        self._db = db
        self.zone = zone

    async def _account(self, uid: str | None) -> int | None:
        if uid is None:
            return None
        found = await self._db.read_sync(lambda conn: store.account_ids(conn, [uid]))
        if uid not in found:
            raise NotFound(f"no account {uid!r}")
        return found[uid]

    async def page(
        self, query: ReportQuery, *, after: str | None = None, size: int = PAGE_SIZE
    ) -> ReportPage:
        """One page of rows by (period, account), and the period's totals."""
        account_id = await self._account(query.uid)
        since, until, periods = _periods(query, self.zone)
        chunk = partial(
            store.report_chunk,
            since=since,
            until=until,
            periods=periods,
            account_id=account_id,
            after=parse_cursor(after),
            size=size + 1,
        )

        def read(conn: Connection) -> tuple[list[SumRow], tuple[int, int, int, int, int]]:
            # One read transaction, so the totals are those of the rows: one
            # snapshot (PostgreSQL's default takes one a statement).
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            rows = chunk(conn)
            return rows, store.totals(conn, since=since, until=until, account_id=account_id)

        rows, t = await self._db.read_sync(read)
        shown = [_row(r, query.by) for r in rows[:size]]
        more = len(rows) > size
        return ReportPage(query, shown, shown[-1].cursor if more else None, Totals(*t))

    async def rows(
        self, query: ReportQuery, *, chunk: int = EXPORT_CHUNK
    ) -> AsyncIterator[list[FinanceRow]]:
        """Every row, a chunk a short read, until one comes short."""
        account_id = await self._account(query.uid)
        since, until, periods = _periods(query, self.zone)
        after: tuple[int, int] | None = None
        while True:
            read = partial(
                store.report_chunk,
                since=since,
                until=until,
                periods=periods,
                account_id=account_id,
                after=after,
                size=chunk,
            )
            found = await self._db.read_sync(read)
            if found:
                yield [_row(r, query.by) for r in found]
            if len(found) < chunk:
                return
            after = (found[-1].period, found[-1].account_id)

    async def export(
        self, actor: Actor, query: ReportQuery, *, chunk: int = EXPORT_CHUNK
    ) -> AsyncIterator[list[tuple[str | int, ...]]]:
        """The CSV lines (`CSV_HEADER`'s columns) chunk by chunk, the totals
        row last. The export is checked and audited before any row is read."""
        actor.require(EXPORT_ACTION)
        await self._account(query.uid)
        target = f"account:{query.uid}" if query.uid else "finance:all-accounts"
        note = f"report {query.period.first}..{query.period.last} by {query.by}"
        async with self._db.transaction() as conn:
            await audit.record(conn, actor, EXPORT_ACTION, target, note=note)
        return self._export_lines(query, chunk)

    async def _export_lines(
        self, query: ReportQuery, chunk: int
    ) -> AsyncIterator[list[tuple[str | int, ...]]]:
        # The totals row is the sum of the rows written, so the file adds up.
        tally = Tally()
        async for rows in self.rows(query, chunk=chunk):
            for r in rows:
                tally.add(r)
            yield [csv_cells(r) for r in rows]
        yield [csv_cells(tally.totals())]

    async def check(self, *, limit: int = 1000) -> LedgerCheck:
        """Every account's ledger against the rule; at most `limit` broken links listed."""
        accounts, entries, differing = await self._db.read_sync(
            lambda conn: store.account_sums(conn, differing_only=True)
        )
        links = await self._db.read_sync(lambda conn: store.broken_links(conn, limit=limit + 1))
        problems = [p for a in differing for p in account_problems(a)]
        problems += [p for e in links[:limit] if (p := link_problem(e)) is not None]
        problems.sort(key=lambda p: (p.uid, p.entry_id or 0))
        return LedgerCheck(accounts, entries, problems, len(links) > limit)
