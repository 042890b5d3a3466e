"""The live pages' arithmetic: receipts' delivery rate and latency per
channel, counts a second, the push outbox summed by host with its breaker."""

from __future__ import annotations

from hongyan.core.channel_figures import ChannelFigures, percentile
from hongyan.core.system_view import UNKNOWN, outbox_by_host
from hongyan.push.policy import CLOSED, OPEN, PROBING, Breaker, host_key
from hongyan.store.push import StreamStatus
from hongyan.store.push_breakers import BreakerRow
from hongyan.throughput import ACCEPTED, DELIVERED, Counts


def test_delivery_rate_counts_the_last_hour_and_latency_the_latest_receipts() -> None:
    figures = ChannelFigures(window_s=3600, bucket_s=60)
    for i in range(100):
        figures.receipt("a", delivered=i % 4 != 0, latency_ms=i * 10, now_s=0)
    figures.receipt("a", delivered=True, latency_ms=5, now_s=1800)
    assert figures.delivery("a", now_s=1800) == (76, 101)
    assert figures.latency("a") == (490, 940)
    assert figures.delivery("a", now_s=3700) == (1, 1)  # the first minute left the window
    assert figures.delivery("b") == (0, 0)
    assert figures.latency("b") == (None, None)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7], 0.95) == 7
    assert percentile([1, 2, 3, 4], 0.5) == 2
    assert percentile(list(range(1, 101)), 0.95) == 95


def test_counts_by_second_are_taken_once_and_given_back_after_a_failed_flush() -> None:
    counts = Counts()
    counts.add(ACCEPTED, 3, at_s=10)
    counts.add(ACCEPTED, 2, at_s=10)
    counts.add(DELIVERED, 1, at_s=11)
    counts.add(DELIVERED, 0, at_s=12)
    taken = counts.take()
    assert taken == {10: (5, 0, 0, 0), 11: (0, 0, 1, 0)}
    assert counts.take() == {}
    counts.give_back(taken)
    counts.add(ACCEPTED, 1, at_s=10)
    assert counts.take() == {10: (6, 0, 0, 0), 11: (0, 0, 1, 0)}


def test_breaker_states() -> None:
    breaker = Breaker(failures_to_open=2, open_s=10, max_open_s=60)
    assert breaker.state(0) == CLOSED
    breaker.failed(0)
    breaker.failed(0)
    assert breaker.state(5) == OPEN
    assert breaker.state(11) == PROBING
    breaker.succeeded()
    assert breaker.state(11) == CLOSED


def stream(uid: str, url: str, queued: int, retrying: int, given_up: int) -> StreamStatus:
    return StreamStatus(uid, "report", url, queued, retrying, given_up, None, "", None)


def test_the_outbox_is_summed_by_host_beside_its_breaker() -> None:
    a = host_key("https://a.example/cb?x=1")
    assert a == "https://a.example:443"
    streams = [
        stream("u1", "https://a.example/cb?x=1", 3, 1, 0),
        stream("u2", "https://a.example:443/other", 2, 0, 4),
        stream("u3", "http://b.example:8080/cb", 0, 5, 0),
        stream("u4", "", 0, 0, 7),  # push turned off since
    ]
    breakers = {
        a: BreakerRow(a, OPEN, 5, 1, 61_000, 50_000),
        "http://b.example:8080": BreakerRow("http://b.example:8080", CLOSED, 0, 0, 0, 1_000),
    }
    hosts = {h.host: h for h in outbox_by_host(streams, breakers, now=60_000)}
    assert set(hosts) == {"", a, "http://b.example:8080"}
    assert (hosts[a].accounts, hosts[a].queued, hosts[a].retrying, hosts[a].given_up) == (
        2,
        5,
        1,
        4,
    )
    assert (hosts[a].breaker, hosts[a].open_until, hosts[a].failures) == (OPEN, 61_000, 5)
    # Reported a minute ago: the pusher is not running, the state is not known.
    assert hosts["http://b.example:8080"].breaker == UNKNOWN
    assert (hosts[""].given_up, hosts[""].breaker) == (7, UNKNOWN)
