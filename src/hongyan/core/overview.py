"""An account's activity as the console's overview shows it.

The periods are the platform's local ones (`settings.timezone`, Beijing time
by default): "today" and "this month" start at local midnight; the delivery
rate and the failures speak of the messages accepted in the last 30 local
days, today included, that have ended (delivered / (delivered + failed));
messages still waiting for their report count in neither.

The chart's ranges: the last 24 hours by the hour (the current hour last),
and the last 7 or 30 local days by the day (today last), each bucket with
the messages accepted in it and how many of those were delivered or failed.
All of it is read from the rollup `store.message_stats` in one read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from hongyan.store import accounts as account_store
from hongyan.store import message_stats
from hongyan.store import replies as reply_store
from hongyan.store.database import Database
from hongyan.store.message_stats import HOUR_MS, Bucket, Totals

RATE_DAYS = 30


class ChartRange(StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @classmethod
    def read(cls, raw: str) -> ChartRange:
        """The range a query asks for; the 24 hours for anything else."""
        try:
            return cls(raw)
        except ValueError:
            return cls.DAY


@dataclass(frozen=True, slots=True)
class Point:
    """One bucket of the chart: its start (epoch ms) and what it holds."""

    at_ms: int
    sent: int
    delivered: int
    failed: int


@dataclass(frozen=True, slots=True)
class Overview:
    balance: int
    today: Totals
    month: Totals
    recent: Totals  # the last RATE_DAYS days: the delivery rate's period
    failures: list[tuple[str, int]]  # (status, messages) in the recent period, most first
    replies_waiting: int
    chart_range: ChartRange
    chart: list[Point]

    @property
    def delivery_rate(self) -> float | None:
        """Delivered of the recent messages that ended, or None when none has."""
        ended = self.recent.ended
        return self.recent.delivered / ended if ended else None


def local_midnight(ms: int, zone: ZoneInfo, days_back: int = 0) -> int:
    """Epoch ms of the local midnight `days_back` days before `ms`'s day."""
    day = datetime.fromtimestamp(ms / 1000, zone).date() - timedelta(days=days_back)
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)


def month_start(ms: int, zone: ZoneInfo) -> int:
    day = datetime.fromtimestamp(ms / 1000, zone).date()
    return int(datetime(day.year, day.month, 1, tzinfo=zone).timestamp() * 1000)


def chart_points(
    buckets: list[Bucket], chart_range: ChartRange, zone: ZoneInfo, now: int
) -> list[Point]:
    """The chart's buckets, every one of the range (empty ones as zeros), oldest first."""
    if chart_range is ChartRange.DAY:
        last = message_stats.hour_of(now)
        starts = [last - HOUR_MS * back for back in range(23, -1, -1)]
        by_start = {b.at_ms: b.totals for b in buckets}
    else:
        days = 7 if chart_range is ChartRange.WEEK else 30
        starts = [local_midnight(now, zone, back) for back in range(days - 1, -1, -1)]
        by_start = {}
        for b in buckets:  # each hour into the local day it starts in
            day = local_midnight(b.at_ms, zone)
            by_start[day] = message_stats.total([Bucket(0, by_start.get(day, Totals())), b])
    points = []
    for start in starts:
        t = by_start.get(start, Totals())
        points.append(Point(start, t.sent, t.delivered, t.failed))
    return points


async def overview(
    db: Database, account_id: int, zone: ZoneInfo, now: int, chart_range: ChartRange
) -> Overview:
    today = local_midnight(now, zone)
    month = month_start(now, zone)
    recent = local_midnight(now, zone, RATE_DAYS - 1)
    since = min(month, recent, message_stats.hour_of(now) - 23 * HOUR_MS)
    until = message_stats.hour_of(now) + HOUR_MS
    async with db.read() as conn:
        balance, _ = await account_store.balance_of(conn, account_id)
        buckets = await message_stats.hourly(conn, account_id, since, until)
        failures = await message_stats.failures(conn, account_id, recent, until)
        waiting = await reply_store.waiting(conn, account_id)
    return Overview(
        balance=balance,
        today=message_stats.total(buckets, today),
        month=message_stats.total(buckets, month),
        recent=message_stats.total(buckets, recent),
        failures=failures,
        replies_waiting=waiting,
        chart_range=chart_range,
        chart=chart_points(buckets, chart_range, zone, now),
    )
