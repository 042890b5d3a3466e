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
def test_a_paced_channel_never_runs_into_a_carriers_bucket_of_its_rate(
    rate: int, asks: list[tuple[float, int]]
) -> None:
    """Whenever and however much the dispatcher asks, what the pacer lets go is
    never more than a carrier counting with a bucket of a second's burst takes:
    nothing comes back throttled for going faster than the channel's tps."""
    carrier = Bucket(tokens=float(rate), at_ms=0)
    pacer, now = Pacer(0.0), 0.0
    for gap, wanted in asks:
        now += gap
        while True:
            granted, wait, pacer = pacer.take(rate, wanted, now)
            if granted:
                break
            assert wait > 0
            now += wait
        assert 1 <= granted <= wanted
        for _ in range(granted):
            allowed, carrier = carrier.take(rate, round(now * 1000))
            assert allowed, (rate, now)


def test_fixed_one_second_windows_would_send_twice_the_rate_across_an_edge() -> None:
    """Why the pacer is a bucket: 20 parts at 0.99 s and 20 at 1.0 s fit
    one-second windows, and a carrier's bucket of 20 refuses most of the second 20."""
    carrier = Bucket(tokens=20.0, at_ms=0)
    refused = 0
    for at_ms in [990] * 20 + [1000] * 20:
        allowed, carrier = carrier.take(20, at_ms)
        refused += not allowed
    assert refused >= 18
