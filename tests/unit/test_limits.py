import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hongyan.core.limits import (
    Bucket,
    Pacer,
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


@settings(max_examples=300)
@given(
    rate=st.integers(1, 500),
    asks=st.lists(st.tuples(st.floats(0, 2.0), st.integers(1, 600)), min_size=1, max_size=60),
)
def test_a_paced_channel_never_sends_more_than_its_rate_in_any_second(
    rate: int, asks: list[tuple[float, int]]
) -> None:
    """Whenever and however much the dispatcher asks, no second (wherever it
    begins) carries more than `rate` parts, and a carrier counting with a
    bucket of a second's burst refuses none: nothing comes back throttled for
    going faster than the channel's tps."""
    sent: list[float] = []
    pacer, now = Pacer(0.0), 0.0
    for gap, wanted in asks:
        now += gap
        left = wanted
        while left:
            granted, wait, pacer = pacer.take(rate, left, now)
            assert granted in (0, 1)
            if not granted:
                assert wait > 0
                now += wait
                continue
            sent.append(now)
            left -= granted
    start = 0
    for end, at in enumerate(sent):
        while sent[start] <= at - 1.0 + 1e-9:
            start += 1
        assert end - start + 1 <= rate, (rate, at)
    carrier = Bucket(tokens=float(rate), at_ms=0)
    for at in sent:
        allowed, carrier = carrier.take(rate, round(at * 1000))
        assert allowed, (rate, at)
