"""The CMPP gateway simulator (`hongyan smsc --protocol cmpp2|cmpp3`) on
loopback, driven by a bare SP made of our codec and asyncio streams: the
channel is not in the way, so what is checked is the gateway's side alone."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from hongyan.channels.cmpp.codec import (
    MsgId,
    authenticator_ismg,
    authenticator_source,
    decode,
    decode_report,
    encode,
    header,
    timestamp,
)
from hongyan.channels.cmpp.ismg import Ismg, IsmgSettings
from hongyan.channels.cmpp.pdu import (
    HEADER_SIZE,
    V2,
    V3,
    ActiveTest,
    ActiveTestResp,
    Cancel,
    CancelResp,
    Connect,
    ConnectResp,
    ConnectStatus,
    Deliver,
    DeliverResp,
    MsgFmt,
    Pdu,
    Query,
    QueryResp,
    Submit,
    SubmitResp,
    SubmitResult,
)
from tests.integration.test_serve import free_port
from tests.peers.control import stop_process
from tests.waiting import WAIT_S, until_async

SP_ID, SECRET, GATEWAY = "901234", "s3cret", 4321
P = TypeVar("P", bound=Pdu)


class RawSp:
    """One SP connection: PDUs written and read as they are, nothing automatic
    but the answer to the gateway's ACTIVE_TEST."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.version = V3
        self._sequence = 0

    @classmethod
    async def open(cls, port: int) -> RawSp:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, pdu: Pdu, sequence: int | None = None) -> int:
        if sequence is None:
            self._sequence += 1
            sequence = self._sequence
        pdu.sequence = sequence
        self.writer.write(encode(pdu, self.version))
        await self.writer.drain()
        return sequence

    async def frame(self) -> bytes:
        head = await asyncio.wait_for(self.reader.readexactly(HEADER_SIZE), WAIT_S)
        length = header(head)[0]
        return head + await asyncio.wait_for(self.reader.readexactly(length - HEADER_SIZE), WAIT_S)

    async def next(self, kind: type[P]) -> P:
        """The next PDU of this kind; ACTIVE_TESTs on the way are answered."""
        while True:
            pdu = decode(await self.frame(), self.version)
            if isinstance(pdu, ActiveTest):
                await self.send(ActiveTestResp(), pdu.sequence)
            elif isinstance(pdu, kind):
                return pdu
            else:
                pytest.fail(f"expected {kind.__name__}, got {pdu!r}")

    async def connect(
        self, version: int = V3, sp_id: str = SP_ID, secret: str = SECRET
    ) -> ConnectResp:
        stamp = timestamp(datetime.now())
        source = authenticator_source(sp_id, secret, stamp)
        self.version = version
        await self.send(
            Connect(
                source_addr=sp_id, authenticator_source=source, version=version, timestamp=stamp
            )
        )
        return await self.next(ConnectResp)

    async def submit(self, *destinations: str, **fields: Any) -> SubmitResp:
        pdu = Submit(
            src_id="1069001",
            service_id="HELP",
            msg_src=SP_ID,
            dest_terminal_ids=list(destinations),
            msg_content=b"hello",
            **fields,
        )
        await self.send(pdu)
        return await self.next(SubmitResp)

    async def ack(self, deliver: Deliver, result: int = 0) -> None:
        await self.send(DeliverResp(msg_id=deliver.msg_id, result=result), deliver.sequence)

    async def closed(self) -> bool:
        """Whether the gateway hung up (EOF before any other frame)."""
        return await asyncio.wait_for(self.reader.read(1), WAIT_S) == b""

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def counted(ismg: Ismg, counter: str, value: int) -> None:
    async def reached() -> bool:
        return ismg.stats()[counter] == value

    await until_async(reached, f"{counter} == {value}")


Gateway = Callable[..., Awaitable[Ismg]]
Sp = Callable[..., Awaitable[RawSp]]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    """Start an ISMG on a free port; `options` are IsmgSettings fields."""
    started: list[Ismg] = []

    async def start(**options: Any) -> Ismg:
        settings = {
            "port": 0,
            "accounts": {SP_ID: SECRET},
            "gateway_code": GATEWAY,
            "receipt_delay_min_s": 0.0,
            "receipt_delay_max_s": 0.05,
            **options,
        }
        ismg = Ismg(IsmgSettings(**settings))
        await ismg.start()
        started.append(ismg)
        return ismg

    yield start
    for ismg in started:
        await ismg.stop()


@pytest.fixture
async def sp() -> AsyncIterator[Sp]:
    """Open a raw SP connection to a port; closed at the end."""
    opened: list[RawSp] = []

    async def open_(port: int) -> RawSp:
        client = await RawSp.open(port)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        await client.close()


# -- CONNECT ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", [V2, V3])
async def test_a_cmpp3_gateway_takes_either_version_and_proves_it_knows_the_secret(
    gateway: Gateway, sp: Sp, version: int
) -> None:
    ismg = await gateway(protocol="cmpp3")
    client = await sp(ismg.port)
    stamp = timestamp(datetime.now())
    source = authenticator_source(SP_ID, SECRET, stamp)
    await client.send(
        Connect(source_addr=SP_ID, authenticator_source=source, version=version, timestamp=stamp)
    )
    client.version = version  # the answer comes in the client's layout
    answer = await client.next(ConnectResp)
    assert answer.status == ConnectStatus.OK
    assert answer.authenticator_ismg == authenticator_ismg(0, source, SECRET, version)
    assert answer.version == V3  # the highest the gateway speaks
    assert ismg.stats()["connect_total"] == 1


async def test_a_wrong_secret_is_status_3_and_the_gateway_hangs_up(
    gateway: Gateway, sp: Sp
) -> None:
    ismg = await gateway()
    client = await sp(ismg.port)
    answer = await client.connect(secret="guess")
    assert answer.status == ConnectStatus.AUTH_FAILED
    assert answer.authenticator_ismg == bytes(16)
    assert await client.closed()
    assert ismg.stats()["connect_refused"] == 1


async def test_an_unknown_sp_is_status_2(gateway: Gateway, sp: Sp) -> None:
    ismg = await gateway()
    client = await sp(ismg.port)
    assert (await client.connect(sp_id="999999")).status == ConnectStatus.BAD_SOURCE_ADDR
    assert await client.closed()


async def test_a_cmpp2_gateway_refuses_3_0_as_too_high_in_its_own_layout(
    gateway: Gateway, sp: Sp
) -> None:
    ismg = await gateway(protocol="cmpp2")
    client = await sp(ismg.port)
    stamp = timestamp(datetime.now())
    source = authenticator_source(SP_ID, SECRET, stamp)
    await client.send(
        Connect(source_addr=SP_ID, authenticator_source=source, version=V3, timestamp=stamp)
    )
    frame = await client.frame()
    assert len(frame) == HEADER_SIZE + 1 + 16 + 1  # a 2.0 CONNECT_RESP: one-octet Status
    answer = decode(frame, V2)
    assert isinstance(answer, ConnectResp)
    assert (answer.status, answer.version) == (ConnectStatus.VERSION_TOO_HIGH, V2)
    assert await client.closed()

    again = await sp(ismg.port)
    assert (await again.connect(V2)).status == ConnectStatus.OK


async def test_a_request_before_connect_closes_the_connection(gateway: Gateway, sp: Sp) -> None:
    ismg = await gateway()
    client = await sp(ismg.port)
    await client.send(Submit(dest_terminal_ids=["13800138000"], msg_content=b"x"))
    assert await client.closed()
    assert ismg.submits == []


# -- SUBMIT and its status report -----------------------------------------------------------


@pytest.mark.parametrize("version", [V2, V3])
async def test_a_submit_gets_a_msg_id_then_a_status_report_for_it(
    gateway: Gateway, sp: Sp, version: int
) -> None:
    ismg = await gateway()
    client = await sp(ismg.port)
    assert (await client.connect(version)).status == 0
    before = datetime.now().replace(microsecond=0)
    answer = await client.submit("13800138000", registered_delivery=1)
    after = datetime.now()
    assert answer.result == SubmitResult.OK
    parts = MsgId.of(answer.msg_id)
    assert parts.gateway == GATEWAY
    at = datetime(before.year, parts.month, parts.day, parts.hour, parts.minute, parts.second)
    assert before - timedelta(seconds=1) <= at <= after + timedelta(seconds=1)

    deliver = await client.next(Deliver)
    assert deliver.registered_delivery == 1
    assert (deliver.dest_id, deliver.src_terminal_id) == ("1069001", "13800138000")
    assert deliver.msg_fmt == MsgFmt.ASCII
    assert deliver.msg_id != answer.msg_id  # the DELIVER's own
    report = decode_report(deliver.msg_content, version)
    assert (report.msg_id, report.stat) == (answer.msg_id, "DELIVRD")
    assert report.dest_terminal_id == "13800138000"
    assert len(report.submit_time) == len(report.done_time) == 10  # YYMMDDHHMM
    await client.ack(deliver)
    await counted(ismg, "receipts_acked", 1)

    [record] = ismg.submits
    assert record.msg_id == str(answer.msg_id)
    assert (record.sp_id, record.dest_ids, record.content) == (SP_ID, ["13800138000"], "68656c6c6f")
    assert (record.connection, record.version) == (1, version)


async def test_a_report_may_come_before_its_submit_resp(gateway: Gateway, sp: Sp) -> None:
    ismg = await gateway(receipt_delay_max_s=0.0, response_delay_s=2.0)
    client = await sp(ismg.port)
    await client.connect()
    await client.send(Submit(src_id="1069001", dest_terminal_ids=["13800138000"], msg_content=b"x"))
    deliver = await client.next(Deliver)  # a SUBMIT_RESP first would fail here
    await client.ack(deliver)
    answer = await client.next(SubmitResp)
    assert decode_report(deliver.msg_content, V3).msg_id == answer.msg_id


@pytest.mark.parametrize("answer", ["none", "result 9"])
async def test_a_report_not_acknowledged_is_offered_again(
    gateway: Gateway, sp: Sp, answer: str
) -> None:
    ismg = await gateway(response_timeout_s=0.5)
    client = await sp(ismg.port)
    await client.connect()
    await client.submit("13800138000", registered_delivery=1)
    first = await client.next(Deliver)
    if answer != "none":
        await client.ack(first, result=9)
    again = await client.next(Deliver)
    assert again.msg_id == first.msg_id  # the same DELIVER, offered again
    assert again.msg_content == first.msg_content
    await client.ack(again)
    await counted(ismg, "receipts_acked", 1)
    assert ismg.stats()["redelivered"] >= 1


async def test_a_report_waits_for_its_sp_to_come_back(gateway: Gateway, sp: Sp) -> None:
    ismg = await gateway()
    client = await sp(ismg.port)
    await client.connect()
    answer = await client.submit("13800138000", registered_delivery=1)
    await client.close()
    await counted(ismg, "receipts_pending", 1)
    back = await sp(ismg.port)
    await back.connect(V2)
    deliver = await back.next(Deliver)
    assert decode_report(deliver.msg_content, V2).msg_id == answer.msg_id


async def test_throttled_submits_are_result_8(gateway: Gateway, sp: Sp) -> None:
    ismg = await gateway()
    client = await sp(ismg.port)
    await client.connect()
    ismg.throttle(WAIT_S)
    assert (await client.submit("13800138000")).result == SubmitResult.FLOW_CONTROL
    ismg.throttle(0)
    assert (await client.submit("13800138000")).result == SubmitResult.OK
    assert ismg.stats()["throttled"] == 1
    assert len(ismg.submits) == 1


@pytest.mark.parametrize(("version", "result"), [(V3, 13), (V2, 9)])
async def test_a_number_ending_9999_is_refused(
    gateway: Gateway, sp: Sp, version: int, result: int
) -> None:
    ismg = await gateway()
    client = await sp(ismg.port)
    await client.connect(version)
    assert (await client.submit("13800009999")).result == result


async def test_query_counts_and_cancel_stops_a_message_on_its_way(gateway: Gateway, sp: Sp) -> None:
    ismg = await gateway(receipt_delay_min_s=WAIT_S * 2, receipt_delay_max_s=WAIT_S * 2)
    client = await sp(ismg.port)
    await client.connect()
    answer = await client.submit("13800138000", "13800138001", registered_delivery=1)
    await client.send(Query(time=datetime.now().strftime("%Y%m%d")))
    counts = await client.next(QueryResp)
    assert (counts.mt_tlmsg, counts.mt_tlusr, counts.mt_wt, counts.mt_scs) == (1, 2, 2, 0)

    for msg_id, expected in [(answer.msg_id, 0), (answer.msg_id, 1), (12345, 1)]:
        await client.send(Cancel(msg_id=msg_id))
        assert (await client.next(CancelResp)).success_id == expected
    assert ismg.stats()["receipts_pending"] == 0
    assert ismg.submits[0].cancelled


# -- MO ---------------------------------------------------------------------------------


async def test_a_reply_comes_as_a_deliver_ascii_or_ucs2(gateway: Gateway, sp: Sp) -> None:
    ismg = await gateway()
    ismg.inject_mo("13800138000", "106900188", "OK thanks")  # waits for a connection
    client = await sp(ismg.port)
    await client.connect()
    deliver = await client.next(Deliver)
    assert (deliver.src_terminal_id, deliver.dest_id) == ("13800138000", "106900188")
    assert (deliver.registered_delivery, deliver.tp_udhi) == (0, 0)
    assert (deliver.msg_fmt, deliver.msg_content) == (MsgFmt.ASCII, b"OK thanks")
    await client.ack(deliver)

    ismg.inject_mo("13800138000", "106900188", "好的")
    deliver = await client.next(Deliver)
    assert (deliver.msg_fmt, deliver.msg_content) == (MsgFmt.UCS2, "好的".encode("utf-16-be"))
    await client.ack(deliver)
    await counted(ismg, "mo_acked", 2)


async def test_a_reply_in_two_parts_carries_the_concatenation_udh(gateway: Gateway, sp: Sp) -> None:
    ismg = await gateway()
    client = await sp(ismg.port)
    await client.connect()
    ismg.inject_mo("13800138000", "106900188", "你好世界", parts=2)
    parts = [await client.next(Deliver) for _ in range(2)]
    for deliver in parts:
        await client.ack(deliver)
    parts.sort(key=lambda d: d.msg_content[5])
    reference = parts[0].msg_content[3]
    for seq, (deliver, piece) in enumerate(zip(parts, ["你好", "世界"], strict=True), 1):
        assert (deliver.tp_udhi, deliver.msg_fmt) == (1, MsgFmt.UCS2)
        assert deliver.msg_content[:6] == bytes((5, 0, 3, reference, 2, seq))
        assert deliver.msg_content[6:].decode("utf-16-be") == piece


# -- `hongyan smsc --protocol cmpp3` ------------------------------------------------------------


@pytest.fixture
def ismg_process() -> Iterator[tuple[int, int]]:
    port, control = free_port(), free_port()
    command = [
        *(sys.executable, "-m", "hongyan", "smsc", "--quiet", "--protocol", "cmpp3"),
        *("--port", str(port), "--control-port", str(control)),
        *("--system-id", SP_ID, "--password", SECRET, "--gateway-code", str(GATEWAY)),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "ISMG listening" in banner and "cmpp3" in banner and SP_ID in banner, banner
        yield port, control
    finally:
        stop_process(proc)
        proc.communicate()


async def test_the_cli_runs_a_cmpp3_gateway_with_its_control_port(
    ismg_process: tuple[int, int],
) -> None:
    port, control = ismg_process
    client = await RawSp.open(port)
    try:
        assert (await client.connect()).status == 0
        answer = await client.submit("13800138000", registered_delivery=0)
        assert MsgId.of(answer.msg_id).gateway == GATEWAY
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{control}") as http:
            [listed] = (await http.get("/submits")).json()
            assert listed["msg_id"] == str(answer.msg_id)
            body = {"source": "13800138000", "destination": "106900188", "text": "hi"}
            assert (await http.post("/mo", json=body)).status_code == 200
            deliver = await client.next(Deliver)
            assert deliver.msg_content == b"hi"
            await client.ack(deliver)
            sar = {**body, "split": "sar"}
            assert (await http.post("/mo", json=sar)).status_code == 400  # UDH only in CMPP
            counters = (await http.get("/counters")).json()
            assert (counters["connect_total"], counters["submits"]) == (1, 1)
    finally:
        await client.close()
