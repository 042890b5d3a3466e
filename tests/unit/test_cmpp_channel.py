"""The cmpp channel's decisions that need no gateway: whom it believes at
login, and what it answers a DELIVER it cannot use."""

from __future__ import annotations

import asyncio

from hongyan.channels.base import InboundFragment, InboundReply, Receipt
from hongyan.channels.cmpp import codec
from hongyan.channels.cmpp.channel import CmppChannel, _refusal
from hongyan.channels.cmpp.pdu import (
    V2,
    V3,
    ActiveTestResp,
    ConnectResp,
    Deliver,
    DeliverResp,
    StatusReport,
)
from hongyan.channels.cmpp.settings import CmppSettings

SOURCE = bytes(range(16))  # our AuthenticatorSource of the login


def settings(version: str) -> CmppSettings:
    return CmppSettings(name="c", version=version, sp_id="901234", secret="secret")


def answered(resp: ConnectResp, wire_version: int, read_as: int) -> ConnectResp:
    """The CONNECT_RESP as the channel reads it off the wire."""
    decoded = codec.decode(codec.encode(resp, wire_version), read_as)
    assert isinstance(decoded, ConnectResp)
    return decoded


def good(version: int) -> ConnectResp:
    ismg = codec.authenticator_ismg(0, SOURCE, "secret", version)
    return ConnectResp(status=0, authenticator_ismg=ismg, version=version)


def test_a_gateway_that_knows_the_secret_lets_us_in() -> None:
    assert _refusal(answered(good(V3), V3, V3), SOURCE, settings("3.0")) == ""
    assert _refusal(answered(good(V2), V2, V2), SOURCE, settings("2.0")) == ""
    # A 3.0 gateway answers a 2.0 login in 2.0, naming its own version.
    resp = good(V2)
    resp.version = V3
    assert _refusal(answered(resp, V2, V2), SOURCE, settings("2.0")) == ""


def test_a_gateway_that_does_not_know_the_secret_is_not_believed() -> None:
    resp = ConnectResp(status=0, authenticator_ismg=bytes(16), version=V3)
    assert "does not match our secret" in _refusal(answered(resp, V3, V3), SOURCE, settings("3.0"))


def test_a_2_0_gateway_answering_a_3_0_login_is_named() -> None:
    # Read as 3.0 (our version), the 2.0-sized answer is still read in 2.0.
    resp = answered(good(V2), V2, V3)
    assert _refusal(resp, SOURCE, settings("3.0")) == (
        'the gateway answers in CMPP 2.0: set version = "2.0"'
    )
    # Even when it claims 3.0 in a 2.0 layout.
    claims = good(V2)
    claims.version = V3
    assert "CMPP 2.0" in _refusal(answered(claims, V2, V3), SOURCE, settings("3.0"))
    refused = ConnectResp(status=4, version=V2)
    assert _refusal(answered(refused, V2, V3), SOURCE, settings("3.0")) == (
        'connect refused: status 4, version too high (set version = "2.0")'
    )


def test_a_refusal_names_its_status_and_never_the_secret() -> None:
    for status, word in ((2, "bad source addr"), (3, "auth failed"), (9, "other error")):
        text = _refusal(answered(ConnectResp(status=status), V3, V3), SOURCE, settings("3.0"))
        assert text == f"connect refused: status {status}, {word}" and "secret" not in text


def test_active_test_resp_without_its_reserved_octet_is_read() -> None:
    frame = bytes.fromhex("0000000c8000000800000007")
    assert codec.decode(frame, V3) == ActiveTestResp(sequence=7)


class Sink:
    def __init__(self) -> None:
        self.got: list[object] = []

    async def receipt(self, channel: str, receipt: Receipt) -> None:
        self.got.append(receipt)

    async def reply(self, channel: str, reply: InboundReply) -> None:
        self.got.append(reply)

    async def reply_part(self, channel: str, fragment: InboundFragment) -> None:
        self.got.append(fragment)


def deliver_to(channel: CmppChannel, pdu: Deliver) -> object:
    async def run() -> object:
        return await channel._on_request(None, pdu)  # type: ignore[arg-type]

    return asyncio.run(run())


def test_a_report_too_short_is_refused_not_acknowledged() -> None:
    channel = CmppChannel(settings("3.0"))
    channel._sink = sink = Sink()
    pdu = Deliver(msg_id=77, registered_delivery=1, msg_content=b"DELIVRD")
    assert deliver_to(channel, pdu) == DeliverResp(msg_id=77, result=1)
    assert sink.got == []


def test_a_report_of_an_odd_size_is_still_taken_by_its_id_and_stat() -> None:
    channel = CmppChannel(settings("3.0"))
    channel._sink = sink = Sink()
    content = codec.encode_report(StatusReport(msg_id=123456789, stat="MK:0005"), V3) + b"\0\0\0"
    pdu = Deliver(msg_id=78, registered_delivery=1, msg_content=content)
    assert deliver_to(channel, pdu) == DeliverResp(msg_id=78, result=0)
    assert [(r.upstream_id, r.status) for r in sink.got] == [("123456789", "MK:0005")]  # type: ignore[attr-defined]
