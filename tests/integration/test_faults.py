"""Carrier faults over a real server: random failures, an outage, throttling, a TPS limit.

Random failures run `hongyan serve` as a subprocess. The outage and the
throttling need the simulator's operator controls (no CLI for them yet), so
those run the platform in-process under uvicorn (`RunningServer`), as
test_delivery.py does, and call `platform.simulator` directly.
"""

from __future__ import annotations

import sqlite3
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hongyan.store.engine import now_ms
from tests.conftest import Customer, RunningServer
from tests.integration.conftest import live_server
from tests.integration.test_crash import PWD, UID, Server, database
from tests.integration.test_serve import SUCCESS, cli
from tests.waiting import WAIT_S, until

# -- random failures, `hongyan serve` ----------------------------------------------


def test_a_tenth_fail_at_random_and_every_message_ends_once(tmp_path: Path) -> None:
    for args in [
        ("account", "create", UID, "--password", "crash-password", "--balance", "100000"),
        ("account", "limits", UID, "--rate", "off", "--per-number", "off"),
        ("account", "refund", UID, "on"),
    ]:
        assert cli(tmp_path, *args).returncode == 0
    settings = {
        "HONGYAN_ACCESS_LOG": "false",
        "HONGYAN_SIMULATOR__DELAY_MIN_S": "0",
        "HONGYAN_SIMULATOR__DELAY_MAX_S": "0.1",
        "HONGYAN_SIMULATOR__FAILURE_RATIO": "0.1",
        "HONGYAN_DISPATCH_POLL_S": "0.05",
    }
    server = Server(tmp_path, settings)
    count = 6000
    mobiles = [f"13{i // 2000}{i % 2000:04d}5555" for i in range(count)]  # no test numbers
    try:
        for start in range(0, count, 2000):
            form = {
                "uid": UID,
                "pwd": PWD,
                "mobile": ",".join(mobiles[start : start + 2000]),
                "mobileids": ",".join(f"r{i}" for i in range(start, start + 2000)),
                "content": "x",
            }
            assert server.http.post("/mt/", data=form).content == SUCCESS
        fetched: list[tuple[str, str, str, str]] = []
        deadline = time.monotonic() + WAIT_S
        while len(fetched) < count and time.monotonic() < deadline:
            got = server.reports()
            fetched += got
            if not got:
                time.sleep(0.05)
        time.sleep(0.3)
        fetched += server.reports()
    finally:
        server.stop()
    assert Counter(Counter(r[2] for r in fetched).values()) == {1: count}
    statuses = Counter(r[1] for r in fetched)
    assert set(statuses) == {"100", "UNDELIV"}
    assert 0.08 < statuses["UNDELIV"] / count < 0.12, statuses  # binomial sd: 0.4 %
    with database(tmp_path) as db:
        states = dict(db.execute("SELECT state, count(*) FROM messages GROUP BY state"))
        balance, ledger_sum, refunds = db.execute(
            "SELECT balance, (SELECT sum(delta) FROM ledger),"
            " (SELECT count(*) FROM ledger WHERE kind = 'refund') FROM accounts WHERE uid = ?",
            (UID,),
        ).fetchone()
    assert states == {"delivered": statuses["100"], "failed": statuses["UNDELIV"]}
    assert refunds == statuses["UNDELIV"]
    assert balance == ledger_sum == 100_000 - statuses["100"]


# -- outage and throttling, in-process ---------------------------------------------

RETRIES = {"retry_base_s": 0.05, "retry_max_s": 0.5}
# The carrier stays down (or throttled) until the test brings it back: when
# it comes back is decided by what the test waits for, not by how quick the
# machine is. The backoff's own timing is checked on a held clock
# (tests/store/test_retry_timing.py).
UNTIL_BROUGHT_BACK_S = 3600


@pytest.fixture
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A fresh delivering platform a test: these tests take its carrier down."""
    server = live_server(tmp_path_factory, **RETRIES)
    yield server
    server.stop()


def numbers(prefix: str, count: int) -> list[str]:
    """Distinct numbers the simulator delivers: none ends in a failing test suffix."""
    return [f"{prefix}{i:04d}5" for i in range(count)]


def send(server: RunningServer, c: Customer, mobiles: list[str], tag: str) -> None:
    form = {
        **c.auth(),
        "mobile": ",".join(mobiles),
        "mobileids": ",".join(f"{tag}{i}" for i in range(len(mobiles))),
        "content": "x",
    }
    assert server.post("/mt/", form).content == SUCCESS


def poll(server: RunningServer, c: Customer) -> list[tuple[float, list[str]]]:
    """One /st/ call: (seconds on the monotonic clock, report fields) a report."""
    body = server.get("/st/", c.auth()).content.decode("gbk")
    at = time.monotonic()
    return [(at, line.split(",")) for line in body.split("\n")] if body else []


def collect(
    server: RunningServer, c: Customer, count: int, timeout: float
) -> list[tuple[float, list[str]]]:
    got: list[tuple[float, list[str]]] = []
    deadline = time.monotonic() + max(timeout, WAIT_S)
    while len(got) < count and time.monotonic() < deadline:
        more = poll(server, c)
        got += more
        if not more:
            time.sleep(0.05)
    time.sleep(0.2)
    got += poll(server, c)  # nothing more may come
    return got


def db_rows(server: RunningServer, sql: str) -> list[tuple[Any, ...]]:
    path = server.settings.database_url.split("///", 1)[1]
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def fewest_attempts(server: RunningServer, tag: str = "") -> int:
    """The fewest submit attempts any message (whose mobileid starts with `tag`) has had."""
    sql = f"SELECT coalesce(min(attempts), 0) FROM messages WHERE mobileid LIKE '{tag}%'"
    return int(db_rows(server, sql)[0][0])


def test_an_outage_delays_but_loses_nothing(live: RunningServer) -> None:
    c = live.customer(balance=10_000)
    simulator = live.platform.simulator
    simulator.go_down(UNTIL_BROUGHT_BACK_S)
    send(live, c, numbers("138000", 1000), "a")
    until(lambda: fewest_attempts(live, "a") >= 1, "the first batch tried while down")
    assert simulator.status().state == "down"
    send(live, c, numbers("138100", 1000), "b")  # sent meanwhile, too
    early: list[tuple[float, list[str]]] = []

    def retried_all_along() -> bool:
        early.extend(poll(live, c))
        return fewest_attempts(live) >= 10

    # Retried all along with the short backoff, not given up: ten tries each.
    until(retried_all_along, "every message tried ten times while the carrier is down")
    assert early == [], "a report while the carrier was down"
    simulator.go_down(0)  # back
    got = collect(live, c, 2000, timeout=20)
    assert len(got) == 2000 and len({r[2] for _, r in got}) == 2000
    assert {r[1] for _, r in got} == {"100"}
    assert simulator.status().state == "up"
    # Retried with the short backoff (0.05 s doubling to 0.5 s), not given up.
    ((low, high),) = db_rows(live, "SELECT min(attempts), max(attempts) FROM messages")
    assert 10 <= low <= high < 60, (low, high)


def test_messages_expire_when_the_outage_outlasts_their_time_to_live(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = live_server(tmp_path_factory, message_ttl_s=2)
    try:
        c = server.customer(balance=1000)
        server.operate(lambda op: op.set_refund(c.uid, True))
        server.platform.simulator.go_down(UNTIL_BROUGHT_BACK_S)
        send(server, c, numbers("138200", 100), "e")
        got = collect(server, c, 100, timeout=10)
        assert sorted(Counter(r[1] for _, r in got).items()) == [("EXPIRED", 100)]
        assert server.get("/mm/", c.auth()).text == "sms&stat=100&remain=1000"  # refunded
    finally:
        server.stop()


def test_throttling_is_a_temporary_error(live: RunningServer) -> None:
    c = live.customer(balance=10_000)
    simulator = live.platform.simulator
    simulator.throttle(UNTIL_BROUGHT_BACK_S)
    before = simulator.status().submitted
    send(live, c, numbers("138300", 1000), "t")
    early: list[tuple[float, list[str]]] = []

    def all_tried() -> bool:
        early.extend(poll(live, c))
        return fewest_attempts(live) >= 2  # answered THROTTLED, and tried again

    until(all_tried, "every message tried while throttled")
    assert simulator.status().state == "throttled"
    assert simulator.status().submitted == before  # every submit answered THROTTLED
    assert early == [], "a report while throttled"
    simulator.throttle(0)  # back
    got = collect(live, c, 1000, timeout=15)
    assert len(got) == 1000 and {r[1] for _, r in got} == {"100"}


def test_a_tps_limit_spreads_submits_and_loses_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tps, count = 200, 800
    server = live_server(
        tmp_path_factory, simulator={"delay_min_s": 0, "delay_max_s": 0.05, "tps": tps}
    )
    try:
        c = server.customer(balance=10_000)
        started = now_ms()
        send(server, c, numbers("138400", count), "p")
        got = collect(server, c, count, timeout=20)
        submitted = sorted(t for (t,) in db_rows(server, "SELECT submitted_at FROM message_parts"))
        attempts = db_rows(server, "SELECT max(attempts) FROM messages")[0][0]
        status = server.platform.simulator.status()
    finally:
        server.stop()
    assert len(got) == count and {r[1] for _, r in got} == {"100"}
    assert status.submitted == count and status.tps == tps
    # The bucket holds `tps` tokens at first, then refills at `tps` a second.
    assert (submitted[-1] - started) / 1000 >= (count - tps) / tps - 0.2
    busiest = max(bisect_left(submitted, t + 1000) - i for i, t in enumerate(submitted))
    assert busiest <= 2 * tps + 10, busiest
    # The dispatcher paces itself to the limit: nothing was refused THROTTLED and retried.
    assert attempts == 1
