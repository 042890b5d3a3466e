"""A third-party CMPP 2.0 client against our ISMG simulator (issue 14): pycmpp
2.0.2 from PyPI connects, authenticates and submits to `hongyan smsc
--protocol cmpp2|cmpp3`.

pycmpp is GPL-3.0 and a test dependency only: nothing under src/ imports it.
It uses blocking sockets, so each client session runs in a thread
(`asyncio.to_thread`) while the simulator serves it on the test's loop. Where
pycmpp gets CMPP wrong, the workaround sits beside what it works around.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pycmpp.request
import pytest
from pycmpp import Cmpp
from pycmpp.cmpp_defines import (
    CMPP_ACTIVE_TEST_REQ,
    CMPP_CONNECT_RESP,
    CMPP_SUBMIT_RESP,
    CMPP_TERMINATE_RESP,
    CMPP_VERSION,
)
from pycmpp.response import (
    ActiveTestResponseInstance,
    ConnectResponseInstance,
    SubmitResponseInstance,
)

import hongyan
from hongyan.channels.cmpp.codec import MsgId, authenticator_ismg, authenticator_source
from hongyan.channels.cmpp.ismg import Ismg, IsmgSettings
from hongyan.channels.cmpp.pdu import V2, V3, ConnectStatus, MsgFmt
from tests.waiting import WAIT_S, until_async

# pycmpp writes Source_Addr and Msg_src as the sp_id it is given, unpadded:
# anything but exactly 6 characters shifts every later field (CMPP_CONNECT).
SP_ID, SECRET, GATEWAY = "901234", "s3cret", 4321
DEST = "13800138000"
TEXTS = ["Hello CMPP", "你好，世界！验证码123456"]  # each under 70 characters: one SUBMIT


@pytest.fixture(autouse=True)
def pycmpp_active_test_resp_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    # pycmpp's ACTIVE_TEST_RESP says Total_Length 13 but carries the four ASCII
    # characters "0x00" where CMPP 2.0 has a one-octet Reserved: sixteen octets
    # go out and the gateway's framing comes apart at the next PDU.
    monkeypatch.setattr(ActiveTestResponseInstance, "reverse", b"\x00")


class PycmppSp:
    """pycmpp's `Cmpp`, one step at a time: its own CONNECT, SUBMIT and
    TERMINATE and its own parsers of the answers; only reading whole frames is
    ours. Blocking: call it from a thread."""

    def __init__(self, port: int, secret: str = SECRET) -> None:
        # Not Cmpp.run(), which never returns: its receive loop spins at 100% CPU
        # once the gateway hangs up, and its heartbeat thread (not a daemon)
        # keeps the process alive. Nor its receive(), whose recv() of the body
        # may come back short: `_frame` reads exactly.
        self.client = Cmpp(
            host="127.0.0.1",
            port=port,
            sp_id=SP_ID,
            sp_secret=secret,
            src_id="",  # unused: pycmpp's submit() always sends an empty Src_Id
            client_heartbeat=False,
        )
        self.client.so.settimeout(WAIT_S)  # only ends a hang

    def connect(self) -> ConnectResponseInstance:
        self.client.connect()
        self.client.auth()  # sends CONNECT, Version 0x21, and does not wait
        answer = ConnectResponseInstance()
        answer.resolve(self._next(CMPP_CONNECT_RESP))
        return answer

    def submit(self, text: str) -> SubmitResponseInstance:
        self.client.submit(text, [DEST])  # sends SUBMIT, Msg_Fmt 8, and returns nothing
        answer = SubmitResponseInstance()
        answer.resolve(self._next(CMPP_SUBMIT_RESP))
        return answer

    def answer_active_test(self) -> None:
        """Wait for the gateway's ACTIVE_TEST and answer it as pycmpp does."""
        frame = self._frame()
        command_id, sequence = struct.unpack_from(">II", frame, 4)
        assert command_id == CMPP_ACTIVE_TEST_REQ
        self.client.send(ActiveTestResponseInstance().create(sequence))

    def terminate(self) -> None:
        self.client.terminate()
        self._next(CMPP_TERMINATE_RESP)

    def hung_up(self) -> bool:
        """Whether the gateway closed the connection (EOF, no frame first)."""
        return bool(self.client.so.recv(1) == b"")

    def close(self) -> None:
        self.client.close()

    def _next(self, command_id: int) -> bytes:
        """The next frame with this Command_Id; the gateway's ACTIVE_TESTs on
        the way are answered with pycmpp's ACTIVE_TEST_RESP."""
        while True:
            frame = self._frame()
            got, sequence = struct.unpack_from(">II", frame, 4)
            if got == command_id:
                return frame
            assert got == CMPP_ACTIVE_TEST_REQ, f"expected {command_id:#x}, got {got:#x}"
            self.client.send(ActiveTestResponseInstance().create(sequence))

    def _frame(self) -> bytes:
        head = self._exactly(12)
        return head + self._exactly(struct.unpack_from(">I", head)[0] - 12)

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.client.so.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the gateway hung up")
            data += chunk
        return data


@pytest.fixture
def pycmpp_sp() -> Iterator[Callable[..., PycmppSp]]:
    opened: list[PycmppSp] = []

    def open_(port: int, secret: str = SECRET) -> PycmppSp:
        client = PycmppSp(port, secret)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        client.close()


Gateway = Callable[..., Awaitable[Ismg]]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    """Start an ISMG on a free port; `options` are IsmgSettings fields."""
    started: list[Ismg] = []

    async def start(**options: Any) -> Ismg:
        settings = {"port": 0, "accounts": {SP_ID: SECRET}, "gateway_code": GATEWAY, **options}
        ismg = Ismg(IsmgSettings(**settings))
        await ismg.start()
        started.append(ismg)
        return ismg

    yield start
    for ismg in started:
        await ismg.stop()


async def no_connections(ismg: Ismg) -> None:
    async def none_left() -> bool:
        return ismg.stats()["connections"] == 0

    await until_async(none_left, "the gateway forgot the connection")


@pytest.mark.parametrize("protocol", ["cmpp2", "cmpp3"])
async def test_pycmpp_connects_submits_ascii_and_chinese_and_terminates(
    gateway: Gateway, pycmpp_sp: Callable[..., PycmppSp], protocol: str
) -> None:
    ismg = await gateway(protocol=protocol)

    def session() -> tuple[ConnectResponseInstance, list[SubmitResponseInstance]]:
        client = pycmpp_sp(ismg.port)
        connected = client.connect()
        answers = [client.submit(text) for text in TEXTS]
        client.terminate()
        return connected, answers

    connected, answers = await asyncio.to_thread(session)

    assert connected.status == ConnectStatus.OK
    assert connected.version == (V3 if protocol == "cmpp3" else V2)  # the highest it speaks
    assert [a.status for a in answers] == [0, 0]
    msg_ids = [a.msg_id for a in answers]
    assert len(set(msg_ids)) == 2
    assert all(MsgId.of(m).gateway == GATEWAY for m in msg_ids)
    await no_connections(ismg)

    assert CMPP_VERSION == 0x21  # what pycmpp sends: 2.1, spoken as 2.0
    [ascii_, chinese] = ismg.submits
    for record, text, msg_id in zip([ascii_, chinese], TEXTS, msg_ids, strict=True):
        assert record.msg_id == str(msg_id)
        assert (record.sp_id, record.msg_src) == (SP_ID, SP_ID)
        assert record.dest_ids == [DEST]
        assert record.msg_fmt == MsgFmt.UCS2  # pycmpp sends UCS-2 even for ASCII text
        assert record.content == text.encode("utf-16-be").hex()
        assert (record.service_id, record.src_id) == ("", "")  # pycmpp leaves both empty
        assert record.version == V2
    assert ismg.stats()["connect_total"] == 1


@pytest.mark.parametrize("protocol", ["cmpp2", "cmpp3"])
async def test_pycmpp_with_a_wrong_secret_is_status_3_and_hung_up_on(
    gateway: Gateway, pycmpp_sp: Callable[..., PycmppSp], protocol: str
) -> None:
    ismg = await gateway(protocol=protocol)

    def session() -> tuple[int, bool]:
        client = pycmpp_sp(ismg.port, secret="guess")
        return client.connect().status, client.hung_up()

    status, hung_up = await asyncio.to_thread(session)
    assert status == ConnectStatus.AUTH_FAILED
    assert hung_up
    assert ismg.stats()["connect_refused"] == 1
    assert ismg.submits == []


async def test_pycmpp_in_january_sends_a_9_digit_timestamp_and_is_accepted(
    gateway: Gateway, pycmpp_sp: Callable[..., PycmppSp], monkeypatch: pytest.MonkeyPatch
) -> None:
    # pycmpp sends MMDDHHMMSS as a number: January to September is 9 digits on
    # the wire, and the gateway must pad it to 10 again for the MD5 (CMPP_CONNECT).
    monkeypatch.setattr(pycmpp.request, "get_string_time", lambda: "0105083000")
    ismg = await gateway(protocol="cmpp2")

    def session() -> ConnectResponseInstance:
        client = pycmpp_sp(ismg.port)
        connected = client.connect()
        client.terminate()
        return connected

    connected = await asyncio.to_thread(session)
    assert connected.status == ConnectStatus.OK
    source = authenticator_source(SP_ID, SECRET, 105083000)
    # pycmpp never checks AuthenticatorISMG; we do.
    assert connected.authenticator_ISMG == authenticator_ismg(0, source, SECRET, V2)


async def test_pycmpp_answers_the_gateways_active_test_and_keeps_submitting(
    gateway: Gateway, pycmpp_sp: Callable[..., PycmppSp]
) -> None:
    # With pycmpp's ACTIVE_TEST_RESP as it ships, its three stray octets start
    # the next "header": the gateway finds the stream broken and hangs up
    # before the SUBMIT (see pycmpp_active_test_resp_fixed).
    ismg = await gateway(protocol="cmpp2", active_test_s=0.1)

    def session() -> int:
        client = pycmpp_sp(ismg.port)
        assert client.connect().status == ConnectStatus.OK
        client.answer_active_test()
        status: int = client.submit(TEXTS[1]).status
        client.terminate()
        return status

    assert await asyncio.to_thread(session) == 0
    assert [r.content for r in ismg.submits] == [TEXTS[1].encode("utf-16-be").hex()]


def test_the_package_never_imports_pycmpp() -> None:
    # GPL-3.0: a test dependency only, never in what we ship.
    package = Path(hongyan.__file__).parent
    assert [p for p in package.rglob("*.py") if "pycmpp" in p.read_text("utf-8")] == []
