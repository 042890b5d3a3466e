"""The platform's one retry rule (`hongyan.core.retry`): what the dispatcher,
the pusher and the SMPP binds wait after a failure."""

from __future__ import annotations

import random

import pytest

from hongyan.core.retry import SHORTEST_S, backoff_ms, backoff_s


def test_the_backoff_doubles_per_failure_up_to_its_cap() -> None:
    for failures, full in [(1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (60, 300)]:
        assert backoff_s(failures, 10, 300, draw=1.0) == full
        assert backoff_s(failures, 10, 300, draw=0.0) == full / 2


def test_the_jitter_spreads_delays_over_half_to_all_of_the_backoff() -> None:
    rng = random.Random(7)
    delays = {backoff_s(3, 10, 300, rng.random()) for _ in range(100)}
    assert all(20 <= d <= 40 for d in delays)
    assert len(delays) > 50


@pytest.mark.parametrize("failures", [1_025, 2_000, 10**9])
def test_a_peer_down_for_days_waits_the_cap_and_raises_nothing(failures: int) -> None:
    """A message retried every minute for a day fails ~1,900 times; 2.0 ** 1024
    overflows a float, and the dispatcher's own formula raised OverflowError."""
    assert backoff_s(failures, 1, 60, draw=1.0) == 60
    assert backoff_ms(failures, 1, 60, draw=0.0) == 30_000


@pytest.mark.parametrize(
    ("failures", "base_s", "cap_s", "draw"),
    [(0, 1, 60, 0.5), (-3, 1, 60, 0.5), (1, 0, 60, 0.0), (1, -5, -5, 0.0), (3, 1, 0, 0.0),
     (1, 1e-9, 1e-9, -1.0), (1, 1, 60, 7.0)],
)  # fmt: skip
def test_the_delay_is_never_zero_or_negative(
    failures: int, base_s: float, cap_s: float, draw: float
) -> None:
    assert backoff_s(failures, base_s, cap_s, draw) >= SHORTEST_S
    assert backoff_ms(failures, base_s, cap_s, draw) >= 1


def test_a_draw_out_of_range_stays_within_the_backoff() -> None:
    assert backoff_s(2, 10, 300, draw=7.0) == 20
    assert backoff_s(2, 10, 300, draw=-1.0) == 10
