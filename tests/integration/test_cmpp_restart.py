"""`hongyan serve` with a cmpp channel (2.0 and 3.0), where the order of
things is not the happy one: SIGKILLed between submit and status report, and
a gateway whose status reports come before its SUBMIT_RESP.

The gateway keeps status reports for the SP until a connection takes them
(as an ISMG does), and the Msg_Ids are in the database, so after the restart
every message ends once with the gateway's report: nothing resubmitted,
nothing lost. A report that comes before its SUBMIT_RESP waits in
`early_receipts` until the outcome is recorded, then applies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cmpp import VERSIONS, cmpp_channel, expected, running_gateway
from tests.integration.test_crash import PWD, SETTINGS, UID, Server, database, directory, until
from tests.integration.test_serve import SUCCESS
from tests.integration.test_smpp_restart import final_count, sent_parts
from tests.peers.hongyan_smsc import HongyanSmsc

__all__ = ["directory"]  # the fixture: an account with balance, limits off
COUNT = 1_000


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def slow_gateway(version: str) -> Iterator[HongyanSmsc]:
    """Status reports 4 s after the SUBMIT: time to kill the platform."""
    with running_gateway(version, failure_ratio=0.1, receipt_delay_ms=4000) as started:
        yield started


@pytest.fixture
def reports_first(version: str) -> Iterator[HongyanSmsc]:
    """Each SUBMIT_RESP 1 s after its SUBMIT, each status report after 0.1-0.2 s."""
    with running_gateway(
        version, failure_ratio=0.1, receipt_delay_ms=100, response_delay_ms=1000
    ) as started:
        yield started


def environment(gateway: HongyanSmsc, version: str) -> dict[str, str]:
    return {
        **SETTINGS,
        "HONGYAN_CHANNELS": json.dumps([cmpp_channel(gateway, version, "cmpp")]),
        "HONGYAN_FALLBACK_CHANNEL": "cmpp",
    }


def send_all(server: Server, mobiles: list[str], content: str) -> None:
    form = {"uid": UID, "pwd": PWD, "mobile": ",".join(mobiles), "content": content}
    assert server.http.post("/mt/", data=form).content == SUCCESS


def outcomes(directory: Path) -> tuple[dict[str, tuple[str, int]], int]:
    """Each number's (status, reports written), and status reports still waiting."""
    with database(directory) as db:
        rows = db.execute(
            "SELECT m.mobile, m.status, (SELECT count(*) FROM reports r WHERE r.message_id = m.id)"
            " FROM messages m"
        ).fetchall()
        (early,) = db.execute("SELECT count(*) FROM early_receipts").fetchone()
    return {m: (status, n) for m, status, n in rows}, int(early)


def test_restart_between_submit_and_report(
    directory: Path, slow_gateway: HongyanSmsc, version: str
) -> None:
    env = environment(slow_gateway, version)
    mobiles = [f"1396{i:07d}" for i in range(COUNT)]
    first = Server(directory, env)
    try:
        send_all(first, mobiles, "restart test")
        until(lambda: slow_gateway.counters()["submits"] >= COUNT, 30, "every message submitted")
        until(lambda: sent_parts(directory) == COUNT, 10, "every submit recorded")
    finally:
        first.kill()
    assert slow_gateway.counters()["receipts_acked"] == 0, "killed too late: reports came"

    second = Server(directory, env)
    try:
        until(lambda: final_count(directory) == COUNT, 60, "every message final after restart")
    finally:
        second.stop()
    submits = slow_gateway.submits()
    assert len(submits) == COUNT  # nothing submitted twice
    decided = {s["dest_ids"][0]: s["outcomes"][0] for s in submits}
    assert outcomes(directory) == ({m: (expected(decided[m], version), 1) for m in mobiles}, 0)


def test_reports_before_their_submit_resp(
    directory: Path, reports_first: HongyanSmsc, version: str
) -> None:
    mobiles = [f"1397{i:07d}" for i in range(200)]
    server = Server(directory, environment(reports_first, version))
    try:
        send_all(server, mobiles, "report first")
        # Reports are taken (committed, acked) while their SUBMIT_RESP is still 0.8 s away.
        until(lambda: outcomes(directory)[1] > 0, 30, "reports kept before their SUBMIT_RESP")
        until(lambda: final_count(directory) == len(mobiles), 60, "every message final")
    finally:
        server.stop()
    submits = reports_first.submits()
    assert len(submits) == len(mobiles)
    decided = {s["dest_ids"][0]: s["outcomes"][0] for s in submits}
    assert outcomes(directory) == ({m: (expected(decided[m], version), 1) for m in mobiles}, 0)
    assert reports_first.counters()["receipts_acked"] == len(mobiles)
