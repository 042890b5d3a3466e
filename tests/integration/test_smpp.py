"""The smpp channel against real SMSCs on loopback: `hongyan smsc`, and
tests/peers/smsc.js, built on the npm library `smpp`, which we did not write.

Each peer runs in its own process. Its message ids are hex in submit_sm_resp
and decimal in the receipt text, so the channel must normalise them to match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from hongyan.channels.smpp import text
from hongyan.store.schema import messages, reports
from tests.conftest import Customer, RunningServer
from tests.integration.conftest import live_server
from tests.integration.test_crash import until
from tests.peers.either import PEERS, Peer, running_peer

PAYLOAD_UID = "smpp_payload"


def smpp_channel(peer: Peer, name: str, **options: Any) -> dict[str, Any]:
    return {
        "kind": "smpp",
        "name": name,
        "port": peer.port,
        "system_id": "hongyan",
        "password": "secret",
        "submit_id_base": "hex",
        "receipt_id_base": "dec",
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
        "throttle_pause_s": 0.2,
        "response_timeout_s": 3,
        **options,
    }


@pytest.fixture(scope="module", params=PEERS)
def peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    with running_peer(request.param, failure_ratio=0.1, receipt_delay_ms=100) as started:
        yield started


@pytest.fixture(scope="module")
def platform(peer: Peer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = live_server(
        tmp_path_factory,
        channels=[
            smpp_channel(peer, "smpp"),
            smpp_channel(peer, "smpp-payload", split="payload"),
        ],
        fallback_channel="smpp",
        routes=[{"channel": "smpp-payload", "accounts": [PAYLOAD_UID]}],
        dispatch_batch=500,
        lease_s=10,
    )
    yield server
    server.stop()


def send(server: RunningServer, c: Customer, mobiles: list[str], content: str) -> None:
    for i in range(0, len(mobiles), 2000):
        answer = server.post(
            "/mt/",
            {
                **c.auth(),
                "mobile": ",".join(mobiles[i : i + 2000]),
                "content": content,
                "encode": "utf8",
            },
        )
        assert answer.text.startswith("sms&stat=100"), answer.text


def finals(server: RunningServer, c: Customer) -> dict[str, tuple[str, str, int]]:
    """mobile: (state, status, reports written) for each of the account's messages."""
    account_id = server.operate(lambda op: op.show(c.uid)).id

    def read(conn: Any) -> dict[str, tuple[str, str, int]]:
        counts = dict(
            conn.execute(
                select(reports.c.message_id, func.count())
                .where(reports.c.account_id == account_id)
                .group_by(reports.c.message_id)
            ).all()
        )
        rows = conn.execute(
            select(messages.c.id, messages.c.mobile, messages.c.state, messages.c.status).where(
                messages.c.account_id == account_id
            )
        ).all()
        return {r.mobile: (r.state, r.status, counts.get(r.id, 0)) for r in rows}

    return server.on_server(server.platform.db.read_sync(read))


def all_final(server: RunningServer, c: Customer, count: int) -> bool:
    states = finals(server, c)
    return len(states) == count and all(s in ("delivered", "failed") for s, _, _ in states.values())


def expected_status(stat: str | None) -> str:
    """Our report for the peer's word; no word: the peer refused the number for good."""
    if stat is None:
        return "ESME_RINVDSTADR"  # both peers refuse numbers ending 9999
    return "100" if stat == "DELIVRD" else stat


def mobiles(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(count)]


def each_ends_once_as_the_peer_decided(
    server: RunningServer, peer: Peer, c: Customer, numbers: list[str], what: str, timeout: float
) -> dict[str, tuple[str, str, int]]:
    """Wait for every message of `c` to be final; each has one report, with
    the peer's word for its number. The final states, by number."""
    until(lambda: all_final(server, c, len(numbers)), timeout, what)
    decided = {s["destination"]: s["stat"] for s in peer.submits()}
    states = finals(server, c)
    assert {m: (status, n) for m, (_, status, n) in states.items()} == {
        m: (expected_status(decided.get(m)), 1) for m in numbers
    }
    return states


def test_ten_thousand_messages_each_end_once_with_the_peers_receipt(
    platform: RunningServer, peer: Peer
) -> None:
    c = platform.customer(balance=20_000)
    numbers = mobiles("13910", 10_000)
    send(platform, c, numbers, "Your code is 2468")
    states = each_ends_once_as_the_peer_decided(
        platform, peer, c, numbers, "10,000 messages final", 120
    )
    assert states["13910009999"][1] == "ESME_RINVDSTADR"  # a permanent error is final
    failed = sum(1 for _, status, _ in states.values() if status != "100")
    assert 700 < failed < 1300  # the peer fails about 10 %
    assert peer.counters()["binds"] >= 2  # both channels bound


def test_long_messages_by_udh_and_by_message_payload(platform: RunningServer, peer: Peer) -> None:
    long_text = "长短信测试" * 30  # 150 UCS2 characters: 3 parts of 67, 67, 16
    udh_customer = platform.customer()
    send(platform, udh_customer, ["13920000011"], long_text)
    payload_customer = platform.customer(uid=PAYLOAD_UID)
    send(platform, payload_customer, ["13920000012"], long_text)
    until(lambda: all_final(platform, udh_customer, 1), 30, "UDH message final")
    until(lambda: all_final(platform, payload_customer, 1), 30, "payload message final")

    submits = [s for s in peer.submits() if s["destination"] == "13920000011"]
    assert len(submits) == 3
    bodies = [bytes.fromhex(s["short_message"]) for s in submits]
    concat = [text.split_udh(body) for body in bodies]
    assert [(c.total, c.seq) for c, _, _ in concat if c] == [(3, 1), (3, 2), (3, 3)]
    assert len({c.reference for c, _, _ in concat if c}) == 1
    assert all(s["esm_class"] & 0x40 and s["data_coding"] == 8 for s in submits)
    assert "".join(t.decode("utf-16-be") for _, t, _ in concat) == long_text

    (payload,) = [s for s in peer.submits() if s["destination"] == "13920000012"]
    assert payload["short_message"] == ""
    assert bytes.fromhex(payload["payload"]).decode("utf-16-be") == long_text
    for c, mobile in ((udh_customer, "13920000011"), (payload_customer, "13920000012")):
        _, status, written = finals(platform, c)[mobile]
        stats = [s["stat"] for s in peer.submits() if s["destination"] == mobile]
        want = "100" if all(s == "DELIVRD" for s in stats) else "UNDELIV"
        assert (status, written) == (want, 1)


def test_replies_single_and_two_part_ucs2_reach_the_account(
    platform: RunningServer, peer: Peer
) -> None:
    c = platform.customer()
    ext = platform.operate(lambda op: op.show(c.uid)).ext_code
    gateway = platform.settings.gateway_prefix + ext + "7"
    long_reply = "收到，谢谢！明天上午十点见。" * 6  # 84 characters: needs two parts
    peer.inject_mo("13930000001", gateway, "OK thanks")
    peer.inject_mo("13930000002", gateway, long_reply, parts=2)
    got: list[list[str]] = []

    def arrived() -> bool:
        body = platform.get("/rx/", c.auth()).content.decode("gbk")
        got.extend(entry.split("||") for entry in body.split("{&}")[1:])
        return len(got) >= 2

    until(arrived, 30, "two replies on /rx/")
    assert sorted((mobile, content, to) for mobile, content, _, to in got) == [
        ("13930000001", "OK thanks", gateway),
        ("13930000002", long_reply, gateway),
    ]


def test_throttling_slows_down_and_loses_nothing(platform: RunningServer, peer: Peer) -> None:
    c = platform.customer()
    before = peer.counters()["throttled"]
    peer.throttle(1.0)
    numbers = mobiles("13940", 300)
    send(platform, c, numbers, "throttled but delivered")
    each_ends_once_as_the_peer_decided(platform, peer, c, numbers, "throttled messages final", 60)
    assert peer.counters()["throttled"] > before


def test_peer_dropping_the_connection_mid_window(platform: RunningServer, peer: Peer) -> None:
    c = platform.customer(balance=5_000)
    start = peer.counters()["submits"]
    numbers = mobiles("13950", 3_000)
    send(platform, c, numbers, "through a dropped connection")
    until(lambda: peer.counters()["submits"] - start > 300, 30, "submits under way")
    peer.drop()
    until(lambda: all_final(platform, c, 3_000), 90, "every message final after the drop")
    states = finals(platform, c)
    assert Counter(n for _, _, n in states.values()) == Counter({1: 3_000})
    # A part whose response was lost with the connection is submitted again;
    # the peer's latest decision for the number is the one that can apply.
    decided: dict[str, set[str]] = {}
    for s in peer.submits():
        decided.setdefault(s["destination"], set()).add(expected_status(s["stat"]))
    assert all(
        status in decided.get(m, {expected_status(None)}) for m, (_, status, _) in states.items()
    )
