"""The smpp channel's other modes against both peers: transmitter + receiver
binds, long messages by UDH with a 16-bit reference and by SAR, a reply in
SAR parts, and a peer that goes silent with its connections left open
(enquire_link finds the link dead). Then the channel's parts-a-second limit,
against a `hongyan smsc` that enforces one.

Each peer serves this module alone: with tx_rx binds, its receipts must come
back over the receiver binds of this platform and no other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hongyan.channels.base import BindStatus
from hongyan.channels.smpp import text
from tests.conftest import RunningServer
from tests.integration.conftest import live_server
from tests.integration.test_crash import until
from tests.integration.test_smpp import (
    all_final,
    each_ends_once_as_the_peer_decided,
    finals,
    mobiles,
    send,
    smpp_channel,
)
from tests.peers.either import PEERS, Peer, running_peer
from tests.peers.hongyan_smsc import HongyanSmsc

SAR_UID = "smpp_sar"
LONG_TEXT = "长短信测试" * 30  # 150 UCS2 characters: 3 parts
SESSIONS = 4  # two channels, each a transmitter and a receiver


@pytest.fixture(scope="module", params=PEERS)
def peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    with running_peer(request.param, failure_ratio=0.1, receipt_delay_ms=100) as started:
        yield started


@pytest.fixture(scope="module")
def platform(peer: Peer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    quick = {"bind_mode": "tx_rx", "enquire_link_s": 0.5, "response_timeout_s": 1.5}
    server = live_server(
        tmp_path_factory,
        channels=[
            smpp_channel(peer, "smpp-udh16", split="udh16", **quick),
            smpp_channel(peer, "smpp-sar", split="sar", **quick),
        ],
        fallback_channel="smpp-udh16",
        routes=[{"channel": "smpp-sar", "accounts": [SAR_UID]}],
        lease_s=10,
    )
    until(lambda: peer.counters()["binds"] == SESSIONS, 20, "both channels bound tx and rx")
    yield server
    server.stop()


def binds(server: RunningServer, channel: str) -> list[BindStatus]:
    return server.platform.channels[channel].status().binds


def test_transmitter_and_receiver_binds_carry_submits_and_receipts(
    platform: RunningServer, peer: Peer
) -> None:
    assert [b.bind for b in binds(platform, "smpp-udh16")] == ["1/tx", "1/rx"]
    c = platform.customer()
    numbers = mobiles("13960", 200)
    send(platform, c, numbers, "over tx, receipts over rx")
    # The peers refuse submits on a receiver and send receipts only to receivers.
    each_ends_once_as_the_peer_decided(platform, peer, c, numbers, "final through tx_rx", 60)
    assert peer.counters()["rejected"] == 0


def test_long_messages_by_udh16_and_by_sar(platform: RunningServer, peer: Peer) -> None:
    udh_customer = platform.customer()
    sar_customer = platform.customer(uid=SAR_UID)
    send(platform, udh_customer, ["13970000016"], LONG_TEXT)
    send(platform, sar_customer, ["13970000017"], LONG_TEXT)
    until(lambda: all_final(platform, udh_customer, 1), 30, "UDH16 message final")
    until(lambda: all_final(platform, sar_customer, 1), 30, "SAR message final")

    udh = [s for s in peer.submits() if s["destination"] == "13970000016"]
    bodies = [bytes.fromhex(s["short_message"]) for s in udh]
    # IEI 0x08: a 16-bit reference (6 octets of header after the length).
    assert all(body[:3] == b"\x06\x08\x04" for body in bodies)
    concat = [text.split_udh(body) for body in bodies]
    assert [(c.total, c.seq) for c, _, _ in concat if c] == [(3, 1), (3, 2), (3, 3)]
    assert len({c.reference for c, _, _ in concat if c}) == 1
    assert all(s["esm_class"] & 0x40 and s["data_coding"] == 8 for s in udh)
    assert "".join(t.decode("utf-16-be") for _, t, _ in concat) == LONG_TEXT

    sar = [s for s in peer.submits() if s["destination"] == "13970000017"]
    assert [tuple(s["sar"][1:]) for s in sar] == [(3, 1), (3, 2), (3, 3)]
    assert len({s["sar"][0] for s in sar}) == 1
    assert not any(s["esm_class"] & 0x40 for s in sar), "SAR parts carry no UDH"
    joined = b"".join(bytes.fromhex(s["short_message"]) for s in sar)
    assert joined.decode("utf-16-be") == LONG_TEXT

    for c, mobile, parts in (
        (udh_customer, "13970000016", udh),
        (sar_customer, "13970000017", sar),
    ):
        _, status, written = finals(platform, c)[mobile]
        want = "100" if all(s["stat"] == "DELIVRD" for s in parts) else "UNDELIV"
        assert (status, written) == (want, 1)


def test_a_reply_in_sar_parts_is_put_back_together(platform: RunningServer, peer: Peer) -> None:
    c = platform.customer()
    ext = platform.operate(lambda op: op.show(c.uid)).ext_code
    gateway = platform.settings.gateway_prefix + ext
    long_reply = "好的，我们周五下午三点在会议室见面。" * 5  # 90 characters: two parts
    peer.inject_mo("13980000001", gateway, long_reply, parts=2, split="sar")
    got: list[list[str]] = []

    def arrived() -> bool:
        body = platform.get("/rx/", c.auth()).content.decode("gbk")
        got.extend(entry.split("||") for entry in body.split("{&}")[1:])
        return bool(got)

    until(arrived, 30, "the SAR reply on /rx/")
    assert [(mobile, content, to) for mobile, content, _, to in got] == [
        ("13980000001", long_reply, gateway)
    ]


def test_a_peer_gone_silent_is_found_dead_and_bound_again(
    platform: RunningServer, peer: Peer
) -> None:
    before = peer.counters()["bind_total"]
    # Long enough that only the channel's own probe can end these connections.
    peer.freeze(60)
    until(
        lambda: peer.counters()["bind_total"] >= before + SESSIONS,
        30,
        "every bind made again while the old connections hang",
    )
    # Every old connection ended by the channel's own enquire_link, or by a
    # submit or receipt answer that timed out first; the bind keeps saying so.
    errors = [b.last_error for name in ("smpp-udh16", "smpp-sar") for b in binds(platform, name)]
    assert all("link dead" in e or "timed out" in e for e in errors), errors
    assert any("link dead" in e for e in errors), errors
    c = platform.customer()
    numbers = mobiles("13990", 50)
    send(platform, c, numbers, "after the silence")
    each_ends_once_as_the_peer_decided(platform, peer, c, numbers, "final over new binds", 30)


def test_the_channels_tps_limit_counts_parts(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The SMSC throttles past 20 submits in any second; the channel may send
    # 15 parts a second. 30 messages of 2 parts: were messages counted rather
    # than parts, 30 parts a second would go and the SMSC would throttle.
    with HongyanSmsc(receipt_delay_ms=50, tps=20) as smsc:
        server = live_server(
            tmp_path_factory,
            channels=[smpp_channel(smsc, "paced", tps=15)],
            fallback_channel="paced",
        )
        try:
            c = server.customer()
            numbers = [f"13991{i:05d}7" for i in range(30)]  # no test numbers (…0000-0002)
            send(server, c, numbers, "两条短信的内容。" * 10)  # 80 characters: 2 parts
            until(lambda: all_final(server, c, 30), 60, "paced messages final")
            assert smsc.counters()["submits"] == 60
            assert smsc.counters()["throttled"] == 0
            assert {s for _, s, _ in finals(server, c).values()} == {"100"}
        finally:
            server.stop()
