"""How history is cut by time on PostgreSQL (store/partitions.py does the DDL).

The ids of messages, reports and replies carry the UTC day they were made
in: PostgreSQL assigns `day << DAY_SHIFT | (sequence & low bits)` (migration
0020's `hongyan_day_id`), so an id alone says which day's partition holds
the row, and a lookup by id (every step of delivery) reads one partition.
A message's parts are cut by their message's id, so they sit beside it.

Partitions span `partition_days` days each and are made ahead of time;
ids from before the cut-over (a small sequence) live in the first one,
which ends at day 1. History goes a partition at a time, once all of it is
past retention: rows wait up to `partition_days` past `retention_days`.
"""

from __future__ import annotations

from typing import NamedTuple

DAY_MS = 86_400_000
# 2^35 ids a day and table (34 billion); day 20,000 of the epoch is still
# below 2^53, so ids stay exact in JavaScript and JSON readers.
DAY_SHIFT = 35
# Everything below this is the sequence's history from before the cut-over.
LEGACY_TOP = 1 << DAY_SHIFT
# Tables cut by time, and the column that says when: its ids' days.
PARTITIONED = {
    "messages": "id",
    "message_parts": "message_id",
    "reports": "id",
    "replies": "id",
}
# Days made ahead beyond the period holding today, at least.
AHEAD_DAYS = 7
# A node's clock against the database's: a bound, not an estimate.
CLOCK_SKEW_MS = 3_600_000


class Period(NamedTuple):
    start_day: int  # first day in it
    end_day: int  # first day after it

    @property
    def low(self) -> int:
        return first_id(self.start_day)

    @property
    def high(self) -> int:
        return first_id(self.end_day)

    @property
    def end_ms(self) -> int:
        return self.end_day * DAY_MS


def day_of(ms: int) -> int:
    return ms // DAY_MS


def first_id(day: int) -> int:
    return day << DAY_SHIFT


def id_floor(since_ms: int) -> int:
    """No id below this was made at `since_ms` or later by a node whose
    clock is within CLOCK_SKEW_MS of the database's (legacy ids aside)."""
    return first_id(day_of(since_ms - CLOCK_SKEW_MS))


def periods_ahead(top_day: int, today: int, span_days: int) -> list[Period]:
    """The periods to make so that days up to today + AHEAD_DAYS (and all of
    today's period) are covered: from `top_day` (where the last one ends, or
    today if that is in the past), `span_days` long, aligned to multiples of
    the span counted from the epoch so that every node cuts alike."""
    start = max(top_day, today)
    made: list[Period] = []
    while start <= today + AHEAD_DAYS:
        end = (start // span_days + 1) * span_days
        made.append(Period(start, end))
        start = end
    return made


def past_retention(period: Period, cutoff_ms: int, today: int) -> bool:
    """A period may go once all of it lies before the retention cutoff; the
    period holding today (or later) never goes, whatever the data says."""
    return period.end_ms <= cutoff_ms and period.end_day <= today
