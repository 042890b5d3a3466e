"""core/partitions.py: how days map to ids, which periods are made ahead,
and which may go."""

from __future__ import annotations

import itertools

from hongyan.core.partitions import (
    AHEAD_DAYS,
    CLOCK_SKEW_MS,
    DAY_MS,
    LEGACY_TOP,
    Period,
    first_id,
    id_floor,
    past_retention,
    periods_ahead,
)

TODAY = 20_788  # 2026-12-01


def test_ids_carry_their_day_and_stay_exact_in_javascript() -> None:
    assert first_id(TODAY) >> 35 == TODAY
    assert first_id(TODAY + 1) - first_id(TODAY) == 1 << 35
    assert first_id(TODAY * 10) < 2**53
    assert first_id(1) == LEGACY_TOP


def test_periods_are_made_from_the_last_one_to_a_week_ahead() -> None:
    made = periods_ahead(TODAY - 3, TODAY, 7)
    assert made[0].start_day == TODAY  # nothing is made for days gone by
    assert all(a.end_day == b.start_day for a, b in itertools.pairwise(made))
    assert made[-1].start_day <= TODAY + AHEAD_DAYS < made[-1].end_day
    # Aligned to the span from the epoch: every node cuts alike.
    assert all(p.end_day % 7 == 0 for p in made)
    assert periods_ahead(made[-1].end_day, TODAY, 7) == []
    assert [p.end_day - p.start_day for p in periods_ahead(TODAY, TODAY, 1)] == [1] * 8


def test_a_period_goes_only_when_all_of_it_is_past_and_not_today() -> None:
    period = Period(TODAY - 200, TODAY - 193)
    assert past_retention(period, (TODAY - 193) * DAY_MS, TODAY)
    assert not past_retention(period, (TODAY - 193) * DAY_MS - 1, TODAY)
    # However old the cutoff says, the period of today (or later) stays.
    assert not past_retention(Period(TODAY, TODAY + 7), (TODAY + 30) * DAY_MS, TODAY)


def test_the_floor_of_a_time_leaves_room_for_clocks() -> None:
    since = TODAY * DAY_MS + 10 * 60_000  # ten minutes into the day
    assert id_floor(since) == first_id(TODAY - 1)  # within the skew of midnight
    assert id_floor(since + CLOCK_SKEW_MS) == first_id(TODAY)
