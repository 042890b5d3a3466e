"""An account's ledger as the console shows it: a period of local days,
its rows newest first (charges and refunds summed per day, `store.ledger`),
50 a page, and what each kind came to in the period.

The period is given as local dates (`YYYY-MM-DD`, the platform's zone),
both included; without them it is the last 30 days, today included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hongyan.core.states import LedgerKind
from hongyan.errors import InvalidInput
from hongyan.store import ledger as ledger_store
from hongyan.store.database import Database
from hongyan.store.ledger import KindTotal, LedgerRow

PAGE_SIZE = 50
DEFAULT_DAYS = 30
# A period longer than this is refused: each page sums the period's charges.
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date  # included

    def bounds(self, zone: ZoneInfo) -> tuple[int, int]:
        """[since, until) in epoch ms."""
        start = datetime(self.first.year, self.first.month, self.first.day, tzinfo=zone)
        after = self.last + timedelta(days=1)
        end = datetime(after.year, after.month, after.day, tzinfo=zone)
        return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def period(first: str, last: str, zone: ZoneInfo, now: int) -> Period:
    """The period the form asks for: `InvalidInput` for a date that cannot be read,
    one before the other's start, or a period over `MAX_DAYS`."""
    today = datetime.fromtimestamp(now / 1000, zone).date()
    try:
        end = date.fromisoformat(last.strip()) if last.strip() else today
        start = (
            date.fromisoformat(first.strip())
            if first.strip()
            else end - timedelta(days=DEFAULT_DAYS - 1)
        )
    except ValueError:
        raise InvalidInput("dates are YYYY-MM-DD") from None
    if start > end:
        raise InvalidInput("the first day is after the last")
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(f"a period is at most {MAX_DAYS} days")
    return Period(start, end)


@dataclass(frozen=True, slots=True)
class LedgerPage:
    period: Period
    rows: list[LedgerRow]
    next_before: int | None  # the cursor of the next page, None on the last
    totals: dict[LedgerKind, KindTotal]

    def total(self, kind: LedgerKind) -> KindTotal:
        return self.totals.get(kind, KindTotal(kind, 0, 0))


async def ledger_page(
    db: Database,
    account_id: int,
    chosen: Period,
    zone: ZoneInfo,
    before: int | None,
) -> LedgerPage:
    since, until = chosen.bounds(zone)
    # The offset of the period's start: Asia/Shanghai keeps one all year; in a
    # zone with summer time a day near the change is cut an hour off.
    start = datetime.fromtimestamp(since / 1000, zone).utcoffset()
    offset_ms = int(start.total_seconds() * 1000) if start else 0
    async with db.read() as conn:
        rows = await ledger_store.page(
            conn,
            account_id,
            since=since,
            until=until,
            before=before,
            size=PAGE_SIZE + 1,
            utc_offset_ms=offset_ms,
        )
        totals = await ledger_store.totals(conn, account_id, since=since, until=until)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return LedgerPage(
        chosen,
        rows,
        rows[-1].key if more else None,
        {t.kind: t for t in totals},
    )
