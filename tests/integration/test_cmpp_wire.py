"""The CMPP 3.0 wire, checked by a decoder we did not write (issue 14).

Our channel talks to our ISMG simulator on loopback while tshark captures
the traffic; Wireshark's CMPP dissector (`tshark -d tcp.port==PORT,cmpp`)
then reads the capture, and every field of the CONNECT, the SUBMITs (a
single UCS2 part and the three parts of a long one), their SUBMIT_RESPs, the
status-report DELIVERs and an MO DELIVER, with our answers to them, must
decode to what we meant.

What the dissector cannot tell us (epan/dissectors/packet-cmpp.c, the same
since 2007): it reads every PDU in the 3.0 layout whatever the CONNECT said,
so only 3.0 is checked here; it shows Msg_Content and the authenticators as
placeholders ("SMS Messages", "MD5 Hash"), so their raw bytes are compared;
it shows 17 of Src_Id's 21 octets; its Msg_Id "ISMG code" sub-field is
shifted by 8 bits, so the whole 64-bit Msg_Id is compared instead; and it
does not check that the fields add up to Total_Length, so we check that
LinkID, the last field, ends where the PDU does. It does not parse the
concatenation UDH either: the test reads those six octets itself.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from hongyan.channels.base import InboundFragment, InboundReply, Part, Receipt, SubmitOutcome
from hongyan.channels.cmpp.channel import CmppChannel
from hongyan.channels.cmpp.codec import MsgId
from hongyan.channels.cmpp.ismg import Ismg, IsmgSettings
from hongyan.channels.cmpp.pdu import CommandId
from hongyan.channels.cmpp.settings import CmppSettings
from hongyan.core.states import ChannelState
from tests.conftest import service_missing
from tests.integration import tshark
from tests.integration.test_serve import free_port
from tests.waiting import WAIT_S, until_async

SP_ID, SECRET = "901234", "secret"
SRC_ID, EXTENSION = "1069012", "3456"
GATEWAY_NUMBER = SRC_ID + EXTENSION  # Src_Id of our SUBMITs, Dest_Id of the reports
SERVICE_ID = "MHY0019901"  # all 10 octets: no NUL after it
LINK_ID = "LINK0042"
FEE_TERMINAL = "13900001111"
DELIVERED_TO, UNDELIVERED_TO = "13800138000", "13800130000"  # ISMG: ...0000 is UNDELIV
HANDSET = "13912345678"

SINGLE = Part(
    1001, 1, 1, DELIVERED_TO, GATEWAY_NUMBER, "您的验证码是 2468，五分钟内有效。", EXTENSION
)
LONG_ID = 0x5A5A_0142  # its parts' concatenation reference is the low octet, 0x42
LONG_TEXT = (
    "尊敬的客户：您本月的账单已出，话费合计八十八元八角，其中套餐费五十八元，流量费三十元八角。" * 4
)
MO_TEXT = "收到，谢谢"

SETTINGS = CmppSettings(
    name="cmpp-wire",
    version="3.0",
    port=7890,  # the ISMG's, set when it is known
    sp_id=SP_ID,
    secret=SECRET,
    src_id=SRC_ID,
    service_id=SERVICE_ID,
    msg_level=1,
    fee_user_type=3,  # Fee_terminal_Id pays: the field carries a number
    fee_terminal_id=FEE_TERMINAL,
    fee_type="02",
    fee_code="000010",
    link_id=LINK_ID,
    active_test_s=600,  # no ACTIVE_TEST in the capture
    bind_wait_s=WAIT_S,
)


class RecordingSink:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.replies: list[InboundReply] = []
        self.fragments: list[InboundFragment] = []

    async def receipt(self, channel: str, receipt: Receipt) -> None:
        self.receipts.append(receipt)

    async def reply(self, channel: str, reply: InboundReply) -> None:
        self.replies.append(reply)

    async def reply_part(self, channel: str, fragment: InboundFragment) -> None:
        self.fragments.append(fragment)


@dataclass
class Exchange:
    """What we sent and got back, and tshark's reading of the wire."""

    parts: list[Part]  # in the order submitted
    outcomes: list[SubmitOutcome]
    sink: RecordingSink
    pdus: list[dict[str, Any]]
    problems: list[str]
    started: datetime
    ended: datetime

    def of(self, command: CommandId) -> list[dict[str, Any]]:
        return [p for p in self.pdus if int(p["cmpp.Command_Id"], 16) == command]

    def answer(self, command: CommandId, request: dict[str, Any]) -> dict[str, Any]:
        (found,) = [
            p for p in self.of(command) if p["cmpp.Sequence_Id"] == request["cmpp.Sequence_Id"]
        ]
        return found


async def _talk(port: int, sink: RecordingSink, parts: list[Part]) -> list[SubmitOutcome]:
    """CONNECT, the SUBMITs, their reports, an MO, TERMINATE."""
    ismg = Ismg(
        IsmgSettings(
            port=port,
            protocol="cmpp3",
            accounts={SP_ID: SECRET},
            receipt_delay_min_s=0.05,
            receipt_delay_max_s=0.1,
            active_test_s=600,
        )
    )
    await ismg.start()
    channel = CmppChannel(SETTINGS.model_copy(update={"port": port}), gateway_prefix="")
    try:
        await channel.start(sink)

        async def up() -> bool:
            return channel.status().state == ChannelState.UP

        await until_async(up, "the channel connected")
        # One message at a time, as the dispatcher would, so the wire's order is known.
        outcomes = await channel.submit(parts[:1])
        outcomes += await channel.submit(parts[1:])

        async def reported() -> bool:
            return ismg.stats()["receipts_acked"] == len(parts)

        await until_async(reported, "every status report answered")
        ismg.inject_mo(HANDSET, GATEWAY_NUMBER, MO_TEXT)

        async def replied() -> bool:
            return ismg.stats()["mo_acked"] == 1

        await until_async(replied, "the MO answered")
        await channel.stop()  # TERMINATE
    finally:
        await channel.stop()
        await ismg.stop()
    return outcomes


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    capture = tshark.Capture(free_port(), tmp_path_factory.mktemp("wire") / "cmpp.pcap")
    try:
        capture.start(WAIT_S)
    except tshark.CaptureRefused as exc:
        service_missing(f"tshark cannot capture on lo: {exc}")
    try:
        sink = RecordingSink()
        segments = CmppChannel(SETTINGS).segments(LONG_TEXT)
        parts = [SINGLE] + [
            Part(LONG_ID, seq, len(segments), UNDELIVERED_TO, GATEWAY_NUMBER, piece, EXTENSION)
            for seq, piece in enumerate(segments, 1)
        ]
        started = datetime.now()
        outcomes = asyncio.run(_talk(capture.port, sink, parts))
        ended = datetime.now()

        async def flushed() -> bool:
            # The TERMINATE_RESP's header: the last PDU is in the file.
            return capture.holds(bytes.fromhex("0000000c80000002"))

        asyncio.run(until_async(flushed, "the capture file holds the TERMINATE_RESP"))
    finally:
        capture.stop()
    yield Exchange(
        parts,
        outcomes,
        sink,
        tshark.decode(capture.path, capture.port, "cmpp"),
        tshark.problems(capture.path, capture.port, "cmpp"),
        started,
        ended,
    )


# -- what a field should be ----------------------------------------------------------


def octets(value: str, size: int) -> bytes:
    """A CMPP octet string: ASCII, left-aligned, NUL-padded (CMPP 3.0 §8.1)."""
    return value.encode("ascii").ljust(size, b"\0")


def text_field(pdu: dict[str, Any], name: str, value: str, size: int) -> None:
    assert (pdu[name], tshark.raw(pdu, name)) == (value, octets(value, size)), name


def fields(pdu: dict[str, Any], expected: dict[str, str]) -> None:
    assert {name: pdu.get(name) for name in expected} == expected


def pdu_bytes(pdu: dict[str, Any], name: str, size: int) -> bytes:
    """`size` octets of the PDU from where a field starts, as tshark places it."""
    whole, start = bytes.fromhex(pdu["cmpp_raw"][0]), int(pdu["cmpp_raw"][1])
    at = tshark.offset(pdu, name) - start
    return whole[at : at + size]


def ends_with_link_id(pdu: dict[str, Any], link_id: str) -> None:
    """LinkID, the last field of a 3.0 SUBMIT or DELIVER, ends the PDU."""
    text_field(pdu, "cmpp.LinkID", link_id, 20)
    end = tshark.offset(pdu, "cmpp.LinkID") + 20 - int(pdu["cmpp_raw"][1])
    assert end == int(pdu["cmpp.Total_Length"]) == len(bytes.fromhex(pdu["cmpp_raw"][0]))


def stamp(msg_id: MsgId) -> str:
    """A Msg_Id's time as tshark shows it."""
    m = msg_id
    return f"{m.month:02d}/{m.day:02d} {m.hour:02d}:{m.minute:02d}:{m.second:02d}"


def msg_id(pdu: dict[str, Any]) -> int:
    return int(pdu["cmpp.Msg_Id"], 16)


def during(exchange: Exchange, shown: str) -> bool:
    """Whether a "MM/DD HH:MM:SS" tshark shows is a moment of the exchange."""
    month, day, hour, minute, second = (
        int(n) for n in shown.replace("/", " ").replace(":", " ").split()
    )
    first = exchange.started.replace(microsecond=0)
    for year in {exchange.started.year, exchange.ended.year}:
        if first <= datetime(year, month, day, hour, minute, second) <= exchange.ended:
            return True
    return False


# -- the tests -------------------------------------------------------------------------


def test_the_capture_holds_each_pdu_and_nothing_tshark_complains_of(exchange: Exchange) -> None:
    assert exchange.problems == []
    long_parts = len(exchange.parts) - 1
    assert long_parts == 3
    seen = Counter(CommandId(int(p["cmpp.Command_Id"], 16)) for p in exchange.pdus)
    assert seen == {
        CommandId.CONNECT: 1,
        CommandId.CONNECT_RESP: 1,
        CommandId.SUBMIT: 1 + long_parts,
        CommandId.SUBMIT_RESP: 1 + long_parts,
        CommandId.DELIVER: 1 + long_parts + 1,  # the status reports and the MO
        CommandId.DELIVER_RESP: 1 + long_parts + 1,
        CommandId.TERMINATE: 1,
        CommandId.TERMINATE_RESP: 1,
    }
    for pdu in exchange.pdus:
        assert int(pdu["cmpp.Total_Length"]) == len(bytes.fromhex(pdu["cmpp_raw"][0]))
    (terminate,) = exchange.of(CommandId.TERMINATE)
    assert exchange.answer(CommandId.TERMINATE_RESP, terminate)["cmpp.Total_Length"] == "12"


def test_connect(exchange: Exchange) -> None:
    (connect,) = exchange.of(CommandId.CONNECT)
    fields(connect, {"cmpp.Total_Length": "39", "cmpp.Version": "03.00"})
    assert tshark.raw(connect, "cmpp.Version") == b"\x30"
    text_field(connect, "cmpp.connect.Source_Addr", SP_ID, 6)
    shown = connect["cmpp.connect.Timestamp"]
    assert during(exchange, shown), shown
    # MD5(Source_Addr + 9 zero octets + shared secret + Timestamp as MMDDHHMMSS), CMPP 3.0 §8.4.1
    mmddhhmmss = "".join(c for c in shown if c.isdigit())
    assert int.from_bytes(tshark.raw(connect, "cmpp.connect.Timestamp")) == int(mmddhhmmss)
    source = hashlib.md5(octets(SP_ID, 6) + bytes(9) + SECRET.encode() + mmddhhmmss.encode())
    assert tshark.raw(connect, "cmpp.connect.AuthenticatorSource") == source.digest()

    answer = exchange.answer(CommandId.CONNECT_RESP, connect)
    fields(answer, {"cmpp.Total_Length": "33", "cmpp.connect_resp.Status": "0"})
    fields(answer, {"cmpp.Version": "03.00"})
    # MD5(Status + AuthenticatorSource + shared secret); Status is 4 octets in 3.0
    ismg = hashlib.md5(bytes(4) + source.digest() + SECRET.encode()).digest()
    assert tshark.raw(answer, "cmpp.connect_resp.AuthenticatorISMG") == ismg


def test_each_submit_says_what_we_meant(exchange: Exchange) -> None:
    submits = exchange.of(CommandId.SUBMIT)
    assert len(submits) == len(exchange.parts)
    for pdu, part in zip(submits, exchange.parts, strict=True):
        fields(
            pdu,
            {
                "cmpp.Msg_Id": "0x0000000000000000",  # the ISMG gives it
                "cmpp.submit.Pk_total": str(part.total),
                "cmpp.submit.Pk_number": str(part.seq),
                "cmpp.submit.Registered_Delivery": "1",
                "cmpp.submit.Msg_level": "1",
                "cmpp.submit.Fee_UserType": "3",
                "cmpp.submit.Fee_terminal_type": "0",
                "cmpp.TP_pId": "0",
                "cmpp.TP_udhi": "1" if part.total > 1 else "0",
                "cmpp.Msg_Fmt": "8",  # UCS2
                "cmpp.submit.DestUsr_tl": "1",  # one number a SUBMIT
                "cmpp.submit.Dest_terminal_type": "0",
            },
        )
        text_field(pdu, "cmpp.Servicd_Id", SERVICE_ID, 10)  # sic: Wireshark's spelling
        text_field(pdu, "cmpp.submit.Fee_terminal_Id", FEE_TERMINAL, 32)
        text_field(pdu, "cmpp.submit.Msg_src", SP_ID, 6)
        text_field(pdu, "cmpp.submit.FeeType", "02", 2)
        text_field(pdu, "cmpp.submit.FeeCode", "000010", 6)
        text_field(pdu, "cmpp.submit.Valld_Time", "", 17)  # sic
        text_field(pdu, "cmpp.submit.At_time", "", 17)
        # tshark shows 17 of Src_Id's 21 octets but steps over all 21: the
        # 17 compared, the other 4 read where tshark says they are.
        assert pdu["cmpp.submit.Src_Id"] == GATEWAY_NUMBER
        assert tshark.raw(pdu, "cmpp.submit.Src_Id") == octets(GATEWAY_NUMBER, 21)[:17]
        assert pdu_bytes(pdu, "cmpp.submit.Src_Id", 21) == octets(GATEWAY_NUMBER, 21)
        assert tshark.offset(pdu, "cmpp.submit.DestUsr_tl") == (
            tshark.offset(pdu, "cmpp.submit.Src_Id") + 21
        )
        text_field(pdu, "cmpp.Dest_terminal_Id", part.destination, 32)
        content = tshark.raw(pdu, "cmpp.Msg_Content")
        assert pdu["cmpp.Msg_Length"] == str(len(content))
        assert len(content) <= 140
        if part.total == 1:
            assert content == part.text.encode("utf-16-be")
        else:
            # The concatenation UDH (3GPP TS 23.040 §9.2.3.24.1): 05 00 03 ref total seq
            udh = bytes((5, 0, 3, LONG_ID & 0xFF, part.total, part.seq))
            assert content == udh + part.text.encode("utf-16-be")
        ends_with_link_id(pdu, LINK_ID)


def test_the_long_message_reads_whole_from_its_parts(exchange: Exchange) -> None:
    parts = [p for p in exchange.of(CommandId.SUBMIT) if p["cmpp.submit.Pk_total"] != "1"]
    assert [p["cmpp.submit.Pk_number"] for p in parts] == ["1", "2", "3"]
    bodies = [tshark.raw(p, "cmpp.Msg_Content") for p in parts]
    assert {body[:5] for body in bodies} == {bytes((5, 0, 3, 0x42, 3))}
    assert b"".join(body[6:] for body in bodies).decode("utf-16-be") == LONG_TEXT


def test_each_submit_resp_gives_the_msg_id_the_channel_kept(exchange: Exchange) -> None:
    for submit, outcome in zip(exchange.of(CommandId.SUBMIT), exchange.outcomes, strict=True):
        answer = exchange.answer(CommandId.SUBMIT_RESP, submit)
        fields(answer, {"cmpp.Total_Length": "24", "cmpp.submit_resp.Result": "0"})
        assert outcome.upstream_id is not None
        assert msg_id(answer) == int(outcome.upstream_id)
        # The ISMG's Msg_Id as Wireshark reads its bits (CMPP 3.0 §8.4.3), its
        # ISMG code aside (packet-cmpp.c shifts it by 8).
        ours = MsgId.of(msg_id(answer))
        tree = answer["cmpp.Msg_Id_tree"]
        assert tree["cmpp.Msg_Id.timestamp"] == stamp(ours)
        assert during(exchange, tree["cmpp.Msg_Id.timestamp"])
        assert tree["cmpp.Msg_Id.sequence_id"] == str(ours.sequence)


def test_each_status_report_is_about_its_submit(exchange: Exchange) -> None:
    submits = exchange.of(CommandId.SUBMIT)
    by_msg_id = {msg_id(exchange.answer(CommandId.SUBMIT_RESP, s)): s for s in submits}
    reports = [
        p for p in exchange.of(CommandId.DELIVER) if p["cmpp.deliver.Registered_Delivery"] == "1"
    ]
    assert len(reports) == len(submits)
    about: dict[int, str] = {}
    for pdu in reports:
        fields(
            pdu,
            {
                "cmpp.TP_pId": "0",
                "cmpp.TP_udhi": "0",
                "cmpp.Msg_Fmt": "0",
                "cmpp.deliver.Src_terminal_type": "0",
                "cmpp.Msg_Length": "71",  # the 3.0 report
            },
        )
        report = pdu["cmpp.deliver.Report"]
        submit = by_msg_id[msg_id(report)]
        destination = submit["cmpp.Dest_terminal_Id"]
        text_field(pdu, "cmpp.deliver.Dest_Id", GATEWAY_NUMBER, 21)  # the Src_Id we sent from
        text_field(pdu, "cmpp.Servicd_Id", SERVICE_ID, 10)
        text_field(pdu, "cmpp.deliver.Src_terminal_Id", destination, 32)
        stat = "DELIVRD" if destination == DELIVERED_TO else "UNDELIV"
        text_field(report, "cmpp.deliver.Report.Status", stat, 7)
        text_field(report, "cmpp.Dest_terminal_Id", destination, 32)
        # YYMMDDHHMM: submitted when the SUBMIT_RESP's Msg_Id was made, done
        # when the DELIVER's own was.
        submitted = MsgId.of(msg_id(report))
        done = MsgId.of(msg_id(pdu))
        years = {f"{d.year % 100:02d}" for d in (exchange.started, exchange.ended)}
        for name, when in (("Submit_time", submitted), ("Done_time", done)):
            shown = report[f"cmpp.deliver.Report.{name}"]
            text_field(report, f"cmpp.deliver.Report.{name}", shown, 10)
            assert shown[:2] in years
            assert shown[2:] == f"{when.month:02d}{when.day:02d}{when.hour:02d}{when.minute:02d}"
        assert submitted.value <= done.value
        # The ISMG numbers its reports in the order of the SUBMITs.
        assert report["cmpp.Report.SMSC_sequence"] == str(submits.index(submit) + 1)
        ends_with_link_id(pdu, "")

        answer = exchange.answer(CommandId.DELIVER_RESP, pdu)
        fields(answer, {"cmpp.Total_Length": "24", "cmpp.deliver_resp.Result": "0"})
        assert msg_id(answer) == msg_id(pdu)
        about[msg_id(report)] = stat
    # ...and our channel read each as tshark did.
    assert {r.upstream_id: r.status for r in exchange.sink.receipts} == {
        str(i): "100" if stat == "DELIVRD" else stat for i, stat in about.items()
    }


def test_the_mo(exchange: Exchange) -> None:
    (mo,) = [
        p for p in exchange.of(CommandId.DELIVER) if p["cmpp.deliver.Registered_Delivery"] == "0"
    ]
    fields(mo, {"cmpp.TP_pId": "0", "cmpp.TP_udhi": "0", "cmpp.Msg_Fmt": "8"})
    fields(mo, {"cmpp.deliver.Src_terminal_type": "0"})
    text_field(mo, "cmpp.deliver.Dest_Id", GATEWAY_NUMBER, 21)
    text_field(mo, "cmpp.deliver.Src_terminal_Id", HANDSET, 32)
    content = tshark.raw(mo, "cmpp.Msg_Content")
    assert content == MO_TEXT.encode("utf-16-be")
    assert mo["cmpp.Msg_Length"] == str(len(content))
    ends_with_link_id(mo, "")
    answer = exchange.answer(CommandId.DELIVER_RESP, mo)
    fields(answer, {"cmpp.Total_Length": "24", "cmpp.deliver_resp.Result": "0"})
    assert msg_id(answer) == msg_id(mo)
    assert [(r.mobile, r.gateway, r.text) for r in exchange.sink.replies] == [
        (HANDSET, EXTENSION, MO_TEXT)
    ]
    assert exchange.sink.fragments == []
