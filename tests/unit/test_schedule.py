from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hongyan.core.schedule import ScheduleError, day_bounds, format_local, parse_schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = int(datetime(2026, 5, 27, 12, 0, tzinfo=SHANGHAI).timestamp() * 1000)


def at(*args: int) -> int:
    return int(datetime(*args, tzinfo=SHANGHAI).timestamp() * 1000)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-05-27 12:01", at(2026, 5, 27, 12, 1)),  # the document's own form
        ("2026-05-27 12:01:30", at(2026, 5, 27, 12, 1, 30)),
        ("20260527120130", at(2026, 5, 27, 12, 1, 30)),
        ("", None),
        ("   ", None),
        ("2010-05-27 12:01", None),  # in the past: send now
    ],
)
def test_accepted_forms(raw: str, expected: int | None) -> None:
    assert parse_schedule(raw, SHANGHAI, NOW, 30) == expected


@pytest.mark.parametrize("raw", ["tomorrow", "2026-13-01 00:00", "2026/05/28 12:00", "12:00"])
def test_unreadable_times(raw: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(raw, SHANGHAI, NOW, 30)


def test_more_than_thirty_days_ahead_is_refused() -> None:
    assert parse_schedule("2026-06-26 11:59", SHANGHAI, NOW, 30) is not None
    with pytest.raises(ScheduleError):
        parse_schedule("2026-06-26 12:01", SHANGHAI, NOW, 30)


def test_local_formatting_and_day_bounds() -> None:
    assert format_local(at(2011, 3, 11, 11, 22, 11), SHANGHAI) == "2011-03-11 11:22:11"
    start, end = day_bounds("2012-12-12", SHANGHAI)
    assert (start, end) == (at(2012, 12, 12), at(2012, 12, 13))
