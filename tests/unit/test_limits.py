import pytest

from hongyan.core.limits import (
    Bucket,
    Window,
    format_windows,
    longest_window_ms,
    parse_windows,
    within_windows,
)


def test_parse_and_format_round_trip() -> None:
    windows = parse_windows("10/d, 1/30s,5/h")
    assert windows == (Window(1, 30), Window(5, 3600), Window(10, 86400))
    assert format_windows(windows) == "1/30s,5/h,10/d"
    assert parse_windows("off") == () and format_windows(()) == "off"
    assert longest_window_ms(windows) == 86_400_000


@pytest.mark.parametrize("spec", ["5", "x/h", "0/h", "5/0h", "5/w", "1/30s;2/h"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_windows(spec)


def test_windows_count_sends_inside_each_window() -> None:
    windows = parse_windows("1/30s,2/h")
    assert within_windows([], 100_000, windows)
    assert not within_windows([90_000], 100_000, windows)  # 10 s ago
    assert within_windows([60_000], 100_000, windows)  # 40 s ago, one in the hour
    assert not within_windows([10_000, 60_000], 100_000, windows)  # two in the hour


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = Bucket(tokens=2.0, at_ms=0)
    ok1, bucket = bucket.take(2, 0)
    ok2, bucket = bucket.take(2, 0)
    ok3, bucket = bucket.take(2, 0)
    assert (ok1, ok2, ok3) == (True, True, False)
    ok4, bucket = bucket.take(2, 500)  # half a second refills one token
    assert ok4
    ok5, _ = bucket.take(2, 10_000)
    assert ok5
