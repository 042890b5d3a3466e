"""The operator's list of accounts: search, sorting, pages, and what its figures mean.

- "Sent today": messages accepted since local midnight (`settings.timezone`).
- "Delivery rate (24 h)": of the messages accepted in the last 24 hours (the
  current hour and the 23 before it) that have ended, the share delivered
  (delivered / (delivered + failed), refused numbers counting as failed);
  messages still waiting for their report count in neither, and an account
  none of whose recent messages has ended has no rate (shown as "—").
- "Last activity": when the account's newest message was accepted.

Sorting is by one of `SORTS`, either way; accounts without a rate or any
message sort last whichever the direction, ties by uid. The figures of every
matching account come in one statement (store/account_list.py); sorting and
paging happen here, over a few hundred (or a few thousand) rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hongyan.core.overview import local_midnight
from hongyan.store import account_list as store
from hongyan.store.database import Database
from hongyan.store.message_stats import HOUR_MS, hour_of

PAGE_SIZE = 50
RATE_HOURS = 24
SORTS = ("uid", "balance", "sent_today", "delivery_rate", "last_activity")
DEFAULT_SORT = "uid"


@dataclass(frozen=True, slots=True)
class AccountRow:
    uid: str
    frozen: bool
    api_send: bool
    balance: int
    sent_today: int
    delivered: int  # in the last RATE_HOURS hours
    failed: int
    last_activity: int | None  # epoch ms

    @property
    def ended(self) -> int:
        return self.delivered + self.failed

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.ended if self.ended else None

    @property
    def active(self) -> bool:
        return not self.frozen and self.api_send


@dataclass(frozen=True, slots=True)
class AccountListing:
    rows: list[AccountRow]
    total: int  # accounts matching the search
    page: int  # 1-based
    pages: int
    q: str
    sort: str
    descending: bool


def _key(sort: str) -> Callable[[AccountRow], object]:
    if sort == "uid":
        return lambda r: r.uid
    if sort == "balance":
        return lambda r: r.balance
    if sort == "sent_today":
        return lambda r: r.sent_today
    if sort == "delivery_rate":
        return lambda r: r.delivery_rate
    return lambda r: r.last_activity


def read_sort(sort: str, direction: str) -> tuple[str, bool]:
    """The sort a query asks for (`sort`, `dir` = asc|desc); the default for anything else."""
    if sort not in SORTS:
        return DEFAULT_SORT, False
    return sort, direction == "desc"


def read_page(raw: str) -> int:
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def arrange(rows: list[AccountRow], sort: str, descending: bool) -> list[AccountRow]:
    """Sorted by `sort`; rows without a value last either way, ties by uid."""
    key = _key(sort)
    present = sorted((r for r in rows if key(r) is not None), key=lambda r: r.uid)
    present.sort(key=key, reverse=descending)  # type: ignore[arg-type]  # never None here
    missing = sorted((r for r in rows if key(r) is None), key=lambda r: r.uid)
    return present + missing


async def account_list(
    db: Database,
    zone: ZoneInfo,
    now: int,
    *,
    q: str = "",
    sort: str = DEFAULT_SORT,
    descending: bool = False,
    page: int = 1,
    size: int = PAGE_SIZE,
) -> AccountListing:
    q = q.strip()[:64]
    async with db.read() as conn:
        found = await store.figures(
            conn,
            uid_contains=q,
            sent_since=local_midnight(now, zone),
            rate_since=hour_of(now) - (RATE_HOURS - 1) * HOUR_MS,
        )
    rows = [
        AccountRow(
            f.uid, f.frozen, f.api_send, f.balance, f.sent, f.delivered, f.failed, f.last_message_at
        )
        for f in found
    ]
    ordered = arrange(rows, sort, descending)
    pages = max(1, -(-len(ordered) // size))
    page = min(max(page, 1), pages)
    shown = ordered[(page - 1) * size : page * size]
    return AccountListing(shown, len(ordered), page, pages, q, sort, descending)
