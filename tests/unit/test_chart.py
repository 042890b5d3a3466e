"""The overview chart's geometry: round scales, every bucket placed, labels
that fit, and an empty period drawn as an empty chart, not a division by 0."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from hongyan.console.chart import layout, nice_axis
from hongyan.core.overview import ChartRange, Point, chart_points, local_midnight
from hongyan.store.message_stats import Bucket, Totals

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3_600_000
# 2026-11-30 10:30 Beijing time
NOW = 1_796_005_800_000


@pytest.mark.parametrize(
    ("highest", "top", "ticks"),
    [
        (0, 4, [0, 1, 2, 3, 4]),
        (1, 4, [0, 1, 2, 3, 4]),
        (7, 8, [0, 2, 4, 6, 8]),
        (10, 20, [0, 5, 10, 15, 20]),
        (95, 100, [0, 25, 50, 75, 100]),
        (1234, 2000, [0, 500, 1000, 1500, 2000]),
        (40_000, 40_000, [0, 10_000, 20_000, 30_000, 40_000]),
    ],
)
def test_the_scale_is_round_and_covers_the_highest(
    highest: int, top: int, ticks: list[int] | None
) -> None:
    axis = nice_axis(highest)
    assert axis.top >= highest and axis.ticks[0] == 0 and len(axis.ticks) == 5
    steps = {b - a for a, b in zip(axis.ticks, axis.ticks[1:], strict=False)}
    assert len(steps) == 1
    (step,) = steps
    assert str(step).rstrip("0") in ("1", "2", "25", "5")
    if ticks is not None:
        assert (axis.top, axis.ticks) == (top, ticks)


def points(*values: tuple[int, int, int]) -> list[Point]:
    return [Point(i * HOUR, s, d, f) for i, (s, d, f) in enumerate(values)]


def test_points_span_the_plot_and_values_map_to_heights() -> None:
    chart = layout(
        points((0, 0, 0), (10, 5, 5), (20, 20, 0)), str, width=300, height=200, max_labels=10
    )
    assert (chart.left, chart.right, chart.top, chart.bottom) == (44, 278, 12, 172)
    sent = [(x, y) for x, y, _ in chart.dots["sent"]]
    # The top is 20: 0 is the bottom, 10 halfway, 20 the top.
    assert sent == [(44, 172), (161, 92), (278, 12)]
    assert chart.lines["sent"] == "44.0,172.0 161.0,92.0 278.0,12.0"
    assert [y for y, _ in chart.y_ticks] == [172, 132, 92, 52, 12]
    assert not chart.empty


def test_an_empty_period_is_a_flat_chart_with_a_scale() -> None:
    chart = layout(points(*[(0, 0, 0)] * 24), str, width=720, height=260, max_labels=12)
    assert chart.empty
    assert all(y == chart.bottom for _, y, _ in chart.dots["failed"])
    assert [v for _, v in chart.y_ticks] == [0, 1, 2, 3, 4]


def test_labels_fit_and_the_newest_bucket_is_labelled() -> None:
    thirty = points(*[(1, 1, 0)] * 30)
    narrow = layout(thirty, lambda ms: str(ms // HOUR), width=360, height=240, max_labels=6)
    assert len(narrow.x_labels) <= 6
    assert narrow.x_labels[-1] == (narrow.right, "29")
    one = layout(points((3, 3, 0)), str, width=360, height=240, max_labels=6)
    assert one.x_labels == [((one.left + one.right) / 2, "0")]


def test_the_day_chart_is_24_hours_ending_with_the_current_one() -> None:
    hour = NOW - NOW % HOUR
    buckets = [Bucket(hour - 2 * HOUR, Totals(5, 5, 4, 1)), Bucket(hour - 30 * HOUR, Totals(9))]
    found = chart_points(buckets, ChartRange.DAY, SHANGHAI, NOW)
    assert len(found) == 24 and found[-1].at_ms == hour
    assert [p.sent for p in found] == [0] * 21 + [5, 0, 0]
    assert found[21] == Point(hour - 2 * HOUR, 5, 4, 1)


def test_days_are_local_days_summing_their_hours() -> None:
    today = local_midnight(NOW, SHANGHAI)
    assert today == NOW - (10 * 60 + 30) * 60_000  # Beijing midnight, 16:00 UTC the day before
    buckets = [
        Bucket(today, Totals(2, 2, 1, 1)),
        Bucket(today + 9 * HOUR, Totals(3, 6, 3, 0)),
        Bucket(today - HOUR, Totals(7, 7, 0, 7)),  # 23:00 yesterday
        Bucket(today - 7 * 24 * HOUR, Totals(100)),  # outside the week
    ]
    week = chart_points(buckets, ChartRange.WEEK, SHANGHAI, NOW)
    assert [p.at_ms for p in week] == [today - d * 24 * HOUR for d in range(6, -1, -1)]
    assert (week[-1].sent, week[-1].delivered, week[-1].failed) == (5, 4, 1)
    assert (week[-2].sent, week[-2].failed) == (7, 7)
    assert sum(p.sent for p in week) == 12
    assert len(chart_points([], ChartRange.MONTH, SHANGHAI, NOW)) == 30
