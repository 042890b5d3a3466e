"""`hongyan serve` with an smpp channel, SIGKILLed between submit and receipt.

The peer holds the receipts for the system_id until a receiver binds again
(as a carrier does), and the submitted parts' upstream ids are in the
database, so after the restart every message ends once with the peer's
receipt: nothing resubmitted, nothing lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_crash import PWD, SETTINGS, UID, Server, database, directory, until
from tests.integration.test_serve import SUCCESS, cli
from tests.integration.test_smpp import expected_status, smpp_channel
from tests.peers.either import PEERS, Peer, running_peer

__all__ = ["directory"]  # the fixture: an account with balance, limits off
COUNT = 2_000


@pytest.fixture(params=PEERS)
def slow_peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    """A peer that sends receipts 4 s after the submit: time to kill the platform."""
    with running_peer(request.param, failure_ratio=0.1, receipt_delay_ms=4000) as started:
        yield started


def test_restart_between_submit_and_receipt(directory: Path, slow_peer: Peer) -> None:
    env = {
        **SETTINGS,
        "HONGYAN_CHANNELS": json.dumps([smpp_channel(slow_peer, "smpp")]),
        "HONGYAN_FALLBACK_CHANNEL": "smpp",
    }
    mobiles = [f"1396{i:07d}" for i in range(COUNT)]
    first = Server(directory, env)
    try:
        form = {"uid": UID, "pwd": PWD, "mobile": ",".join(mobiles), "content": "restart test"}
        assert first.http.post("/mt/", data=form).content == SUCCESS
        until(lambda: slow_peer.counters()["submits"] >= COUNT, 30, "every message submitted")
        until(lambda: sent_parts(directory) == COUNT, 10, "every submit recorded")
    finally:
        first.kill()
    assert slow_peer.counters()["receipts_acked"] == 0, "killed too late: receipts came"

    second = Server(directory, env)
    try:
        until(lambda: final_count(directory) == COUNT, 60, "every message final after restart")
        bind_line = re.compile(
            r"^  bind 1/trx: bound, window \d+/32, [\d.]+/s, \d+ submitted", re.M
        )
        until(lambda: bool(bind_line.search(channels(directory))), 10, "bind in channel list")
    finally:
        second.stop()
    decided = {s["destination"]: s["stat"] for s in slow_peer.submits()}
    assert len(slow_peer.submits()) == COUNT  # nothing submitted twice
    with database(directory) as db:
        rows = db.execute(
            "SELECT m.mobile, m.status, (SELECT count(*) FROM reports r WHERE r.message_id = m.id)"
            " FROM messages m"
        ).fetchall()
        (early,) = db.execute("SELECT count(*) FROM early_receipts").fetchone()
    assert {m: (status, n) for m, status, n in rows} == {
        m: (expected_status(decided.get(m)), 1) for m in mobiles
    }
    assert early == 0


def channels(directory: Path) -> str:
    done = cli(directory, "channel", "list")
    assert done.returncode == 0, done.stderr
    return done.stdout


def sent_parts(directory: Path) -> int:
    with database(directory) as db:
        (count,) = db.execute("SELECT count(*) FROM message_parts").fetchone()
    return int(count)


def final_count(directory: Path) -> int:
    with database(directory) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM messages WHERE state IN ('delivered', 'failed')"
        ).fetchone()
    return int(count)
